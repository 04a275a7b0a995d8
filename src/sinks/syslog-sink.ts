/**
 * The `syslog` audit sink: RFC 5424 messages over TCP, framed by octet counting (RFC 6587,
 * `MSG-LEN SP SYSLOG-MSG`), one message per record, the record's JSON as the message.
 *
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BOM{json}`: the facility is configured
 * (Default: 13, log audit), the severity is informational (6); TIMESTAMP is the row's
 * `occurredAt` (the signing time's stand-in, now, for a checkpoint); MSGID is `access` or
 * `checkpoint`; no structured data. One connection is kept and made again after it breaks.
 *
 * With `tls`, the same frames go over TLS (RFC 5425), TLS 1.2 at least, and the collector's
 * certificate is always checked against the CAs given (else the system's) and the host's name:
 * there is no switch to turn that off, since a sink that trusts anyone hands the log to anyone.
 *
 * TCP has no acknowledgement: a batch counts as delivered once the kernel has taken it (the write
 * callback). A collector that dies with data in its buffers loses that data; for a stronger
 * promise, use the `http` sink to a collector that answers after it stored the batch.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { createSecureContext, type SecureContext, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { AuditSink, AuditSinkRecord } from '../core/ports.js';

export interface SyslogSinkOptions {
  name: string;
  tenantId?: string;
  host: string;
  port: number;
  /** (Default: 13, log audit) */
  facility?: number;
  /** (Default: `credreg`) */
  appName?: string;
  /** (Default: 5000) */
  connectTimeoutMs?: number;
  /** How long a batch may take to reach the collector's socket before the sink counts as failed. (Default: 15000) */
  writeTimeoutMs?: number;
  /** TLS to the collector (Default: plain TCP): PEM contents, not paths. */
  tls?: SyslogTlsOptions;
}

export type SyslogTlsOptions = {
  /** The CAs the collector's certificate must chain to. (Default: the system's) */
  ca?: string;
  /** The name the certificate must hold, a DNS name. (Default: `host`) */
  serverName?: string;
} & (
  | { cert?: undefined; key?: undefined }
  /** A client certificate and its key, for a collector that asks for one. */
  | { cert: string; key: string }
);

const SEVERITY_INFO = 6;
/** How long a TLS 1.3 collector that sends no session ticket has to refuse the client's certificate. */
const TLS13_ACCEPT_GRACE_MS = 1000;
const BOM = '\uFEFF';

/** A header field as RFC 5424 allows it: printable US-ASCII, no space, bounded, else `-`. */
const field = (s: string, max: number) => s.replace(/[^!-~]/g, '').slice(0, max) || '-';

/** One record as an RFC 5424 message, framed by its length in octets (RFC 6587 octet counting). */
export function syslogFrame(
  record: AuditSinkRecord,
  options: { facility: number; appName: string; host: string; pid: number; now: Date },
): Buffer {
  const time =
    record.type === 'access' && 'occurredAt' in record ? record.occurredAt : options.now.toISOString();
  const header = [
    `<${options.facility * 8 + SEVERITY_INFO}>1`,
    time,
    field(options.host, 255),
    field(options.appName, 48),
    String(options.pid),
    record.type,
    '-',
  ].join(' ');
  const message = Buffer.from(`${header} ${BOM}${JSON.stringify(record)}`, 'utf8');
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/** @example new SyslogSink({ name: 'siem', host: 'syslog.internal', port: 601 }) */
export class SyslogSink implements AuditSink {
  readonly name: string;
  readonly tenantId?: string;
  readonly #options: Required<Omit<SyslogSinkOptions, 'tenantId' | 'tls'>>;
  readonly #tls: { context: SecureContext; serverName?: string } | undefined;
  readonly #host = hostname();
  #socket: Socket | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: SyslogSinkOptions) {
    this.name = options.name;
    if (options.tenantId) this.tenantId = options.tenantId;
    const { tls, tenantId: _, ...rest } = options;
    // Made once, so a PEM that does not parse fails here, at start-up, not at every connect.
    if (tls) {
      this.#tls = {
        context: createSecureContext({
          minVersion: 'TLSv1.2',
          ...(tls.ca === undefined ? {} : { ca: tls.ca }),
          ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key }),
        }),
        ...(tls.serverName === undefined ? {} : { serverName: tls.serverName }),
      };
    }
    this.#options = {
      facility: 13,
      appName: 'credreg',
      connectTimeoutMs: 5000,
      writeTimeoutMs: 15_000,
      ...rest,
    };
  }

  send(records: readonly AuditSinkRecord[]): Promise<void> {
    // One batch at a time on the one connection, so frames of two batches never interleave.
    const sent = this.#queue.then(() => this.#write(records));
    this.#queue = sent.catch(() => undefined);
    return sent;
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  async #write(records: readonly AuditSinkRecord[]): Promise<void> {
    const now = new Date();
    const data = Buffer.concat(
      records.map((r) => syslogFrame(r, { ...this.#options, host: this.#host, pid: process.pid, now })),
    );
    const socket = await this.#connected();
    await new Promise<void>((resolve, reject) => {
      const onClose = () => fail(new Error('the syslog connection closed'));
      // A collector that stops reading fills the socket's buffers and the write never completes:
      // without a deadline that one sink would hold up every other sink's pass, and shutdown.
      const timer = setTimeout(
        () => fail(new Error('the syslog collector did not take the batch within the write timeout')),
        this.#options.writeTimeoutMs,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.off('close', onClose);
        this.#drop(socket);
        reject(err);
      };
      socket.once('close', onClose);
      socket.write(data, (err) => {
        clearTimeout(timer);
        socket.off('close', onClose);
        if (err) fail(err);
        else resolve();
      });
    });
  }

  #connected(): Promise<Socket> {
    const current = this.#socket;
    if (current && !current.destroyed && current.writable) return Promise.resolve(current);
    return new Promise((resolve, reject) => {
      const { host, port } = this.#options;
      const tls = this.#tls;
      // Connected is, over TLS, once the handshake has checked the collector's certificate.
      const socket = tls
        ? tlsConnect({
            host,
            port,
            secureContext: tls.context,
            rejectUnauthorized: true,
            // SNI takes a name, not an address; the certificate is checked against `host` either way.
            ...(tls.serverName !== undefined
              ? { servername: tls.serverName }
              : isIP(host) === 0
                ? { servername: host }
                : {}),
          })
        : netConnect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('no syslog connection within the connect timeout'));
      }, this.#options.connectTimeoutMs);
      let grace: NodeJS.Timeout | undefined;
      const ready = () => {
        // Closed in the meantime (a collector that hung up after its ticket): a failure, not a hang.
        if (socket.destroyed) return onEarlyClose();
        clearTimeout(timer);
        socket.off('error', onConnectError);
        socket.off('close', onEarlyClose);
        socket.setKeepAlive(true);
        // Later errors (a reset while idle) only drop the connection; the next batch reconnects.
        socket.on('error', () => this.#drop(socket));
        socket.on('close', () => this.#drop(socket));
        this.#socket = socket;
        resolve(socket);
      };
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        // A collector sends nothing back but TLS's own messages; anything is read and dropped.
        socket.resume();
        if (!(tls && (socket as TLSSocket).getProtocol() === 'TLSv1.3')) return ready();
        // In TLS 1.3 the handshake ends, for the client, before the collector has checked the
        // client's certificate (or found none): one that refuses says so only then, and a batch
        // written meanwhile would be taken by the kernel and lost. A session ticket is sent only
        // once the collector has accepted; one that sends none is given a moment for its alert.
        grace = setTimeout(accepted, TLS13_ACCEPT_GRACE_MS);
        // Not from the event's own turn: there, Node 20 acknowledges a write and never sends it.
        const onSession = () => setImmediate(accepted);
        let done = false;
        function accepted() {
          if (done) return;
          done = true;
          clearTimeout(grace);
          socket.off('session', onSession);
          ready();
        }
        socket.once('session', onSession);
      });
      const onConnectError = (err: Error) => {
        clearTimeout(timer);
        clearTimeout(grace);
        socket.destroy();
        reject(err);
      };
      const onEarlyClose = () =>
        onConnectError(new Error('the syslog collector closed the connection before it was ready'));
      socket.once('error', onConnectError);
      socket.once('close', onEarlyClose);
    });
  }

  #drop(socket: Socket): void {
    socket.destroy();
    if (this.#socket === socket) this.#socket = undefined;
  }
}
