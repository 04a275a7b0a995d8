/**
 * The syslog sink over TLS (RFC 5425) against a real TLS collector (node:tls) with certificates
 * made by openssl: frames arrive only after the collector's certificate was checked, and a
 * collector the sink cannot trust, one of another name, or one that wants a client certificate the
 * sink lacks gets nothing and fails the batch. The wiring from CREDREG_AUDIT_SINKS (files read at
 * start-up) is in audit-sinks.test.ts and config.test.ts.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditSinkRecord } from '../../src/core/ports.js';
import { SyslogSink, type SyslogTlsOptions } from '../../src/sinks/syslog-sink.js';
import { HAS_OPENSSL, selfSignedCert } from '../helpers/self-signed-cert.js';
import { octetCountedReader } from '../helpers/syslog-frames.js';
import { waitUntil } from '../helpers/wait.js';

const record: AuditSinkRecord = {
  type: 'checkpoint',
  tenantId: '0193a5b2-0000-7000-8000-000000000001',
  treeSize: 3,
  rootHash: Buffer.alloc(32, 7).toString('base64'),
  keyId: 'k1',
  checkpoint: 'credreg/audit/…\n3\n…\n',
};

describe.skipIf(!HAS_OPENSSL)('syslog sink over TLS', () => {
  const server = selfSignedCert();
  const client = selfSignedCert();
  const open: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });

  /** A TLS collector on a random port: the messages it received, its bytes, and its handshakes. */
  async function collector(options: { wantClientCert?: boolean; tls12?: boolean; hangUp?: boolean } = {}) {
    const messages: string[] = [];
    let bytes = 0;
    const sockets = new Set<TLSSocket>();
    const tls: Server = createServer(
      {
        key: server.key,
        cert: server.cert,
        ...(options.wantClientCert ? { requestCert: true, rejectUnauthorized: true, ca: client.cert } : {}),
        ...(options.tls12 ? { maxVersion: 'TLSv1.2' as const } : {}),
      },
      (socket) => {
        sockets.add(socket);
        // Its session tickets are on their way: the sink sees the handshake end, then the hang-up.
        if (options.hangUp) setImmediate(() => socket.end());
        const read = octetCountedReader();
        socket.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          messages.push(...read(chunk));
        });
        socket.on('error', () => {});
      },
    );
    // A client that gives up mid-handshake is the collector's error to swallow, not the test's.
    tls.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    const port = (tls.address() as { port: number }).port;
    open.push({
      close: () => {
        for (const s of sockets) s.destroy();
        return new Promise((resolve) => tls.close(resolve));
      },
    });
    return {
      port,
      messages,
      bytes: () => bytes,
      handshakes: () => sockets.size,
      dropAll: () => {
        for (const s of sockets) s.destroy();
      },
    };
  }

  const sinkTo = (port: number, tls: SyslogTlsOptions) => {
    const sink = new SyslogSink({ name: 'siem', host: '127.0.0.1', port, tls, connectTimeoutMs: 30_000 });
    open.push({ close: async () => sink.close() });
    return sink;
  };

  it('sends octet-counted RFC 5424 frames once the collector is trusted, on one connection', async () => {
    const c = await collector();
    const sink = sinkTo(c.port, { ca: server.cert });
    await sink.send([record]);
    await sink.send([record, record]);
    await waitUntil(async () => c.messages.length === 3, 'three frames');
    expect(c.messages[0]).toMatch(/^<110>1 \S+ \S+ credreg \d+ checkpoint - \uFEFF\{"type":"checkpoint"/);
    expect(c.handshakes()).toBe(1);
  });

  it('a collector whose certificate chains to no CA given (the system CAs alone) gets nothing, and the batch fails', async () => {
    const c = await collector();
    const sink = sinkTo(c.port, {});
    await expect(sink.send([record])).rejects.toThrow(/self[- ]signed|certificate/i);
    expect(c.bytes()).toBe(0);
  });

  it('a certificate not of the name asked for fails the batch', async () => {
    const c = await collector();
    const sink = sinkTo(c.port, { ca: server.cert, serverName: 'syslog.example.com' });
    await expect(sink.send([record])).rejects.toThrow(/syslog\.example\.com|altnames|not in the cert/i);
    expect(c.bytes()).toBe(0);
  });

  it('a collector that wants a client certificate gets the frames with one, and nothing without', async () => {
    const c = await collector({ wantClientCert: true });
    const without = sinkTo(c.port, { ca: server.cert });
    await expect(without.send([record])).rejects.toThrow();
    expect(c.bytes()).toBe(0);
    const withCert = sinkTo(c.port, { ca: server.cert, cert: client.cert, key: client.key });
    await withCert.send([record]);
    await waitUntil(async () => c.messages.length === 1, 'one frame');
  });

  it('over TLS 1.2 too (a collector that offers no more), where the handshake is the whole answer', async () => {
    const c = await collector({ tls12: true });
    const sink = sinkTo(c.port, { ca: server.cert });
    await sink.send([record]);
    await waitUntil(async () => c.messages.length === 1, 'one frame');
  });

  it('a collector that hangs up right after the handshake fails the batch; it does not hang', async () => {
    const c = await collector({ hangUp: true });
    const sink = sinkTo(c.port, { ca: server.cert });
    await expect(sink.send([record])).rejects.toThrow(/closed the connection/);
  });

  it('makes a new TLS connection after the collector drops the one it had', async () => {
    const c = await collector();
    const sink = sinkTo(c.port, { ca: server.cert });
    await sink.send([record]);
    await waitUntil(async () => c.messages.length === 1, 'the first frame');
    c.dropAll();
    // A batch written as the drop arrives may fail, or be taken by the kernel and lost (TCP has no
    // acknowledgement; delivery is at least once from the cursor): send until one arrives.
    await waitUntil(async () => {
      await sink.send([record]).catch(() => undefined);
      return c.messages.length === 2;
    }, 'a frame on a new connection');
    expect(c.handshakes()).toBe(2);
  });
});
