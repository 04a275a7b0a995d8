/**
 * The one way the registry calls a URL a tenant gave it (webhook receivers, rotation endpoints).
 *
 * Such a URL is untrusted input pointed at our network position, so every call:
 * - passes `checkUrl` first (https only, no user info, no literal private address);
 * - connects through request-filtering-agent, which checks each address DNS answers at connect
 *   time and refuses loopback, private, link-local (cloud metadata), CGNAT, multicast, reserved
 *   and unspecified ones, so a name re-pointed after it was checked (DNS rebinding) gains nothing;
 * - never follows a redirect (a 3xx could point anywhere, including back inside);
 * - is bounded: connect timeout, total timeout, response size, and the caller's `AbortSignal`.
 *
 * It uses node:http/https rather than global `fetch`, because `fetch` (undici) ignores
 * `http.Agent`, which is where the address filter lives.
 */
import { type ClientRequest, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { checkUrl, type UrlPolicy } from './url-policy.js';

/**
 * Why a call produced no usable response. Stable, for programs:
 * - `URL_REFUSED`: the URL fails `checkUrl` (scheme, user info, a literal private address);
 * - `ADDRESS_REFUSED`: the host resolved to an address the policy refuses;
 * - `TIMEOUT`: no connection within the connect timeout, or no full response within the total one;
 * - `UNREACHABLE`: DNS, TCP or TLS failed, or the connection closed mid-response;
 * - `TOO_LARGE`: the response body is larger than the limit;
 * - `REDIRECT`: the receiver answered 3xx (never followed);
 * - `ABORTED`: the caller's `AbortSignal` fired.
 */
export const SAFE_HTTP_ERROR_CODES = [
  'URL_REFUSED',
  'ADDRESS_REFUSED',
  'TIMEOUT',
  'UNREACHABLE',
  'TOO_LARGE',
  'REDIRECT',
  'ABORTED',
] as const;

export type SafeHttpErrorCode = (typeof SAFE_HTTP_ERROR_CODES)[number];

/**
 * A failed call. `message` is short and safe to show to the tenant: it never contains the URL
 * (receivers often put a token in the path), a request or response body, or a header. `cause` may
 * hold Node's own error (with the resolved address) for operators' logs only.
 */
export class SafeHttpError extends Error {
  override readonly name = 'SafeHttpError';
  readonly code: SafeHttpErrorCode;
  /** The status the receiver answered, for `REDIRECT`. */
  readonly status: number | undefined;

  constructor(code: SafeHttpErrorCode, message: string, options: { cause?: unknown; status?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
  }

  /** A JSON form without `cause` or stack: what may be stored with a delivery attempt or shown. */
  toJSON(): { code: SafeHttpErrorCode; message: string; status?: number } {
    return this.status === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, status: this.status };
  }
}

/** How the client behaves; the `UrlPolicy` part also decides which addresses may be dialled. */
export interface SafeHttpOptions extends UrlPolicy {
  /** From the start of a call until TCP (and TLS) is up, DNS included. (Default: 5000 ms) */
  connectTimeoutMs?: number;
  /** From the start of a call until the whole response body is read. (Default: 15000 ms) */
  timeoutMs?: number;
  /** Most response-body bytes read; the connection is cut beyond it. (Default: 65536) */
  maxResponseBytes?: number;
  /** PEM certificates trusted in addition to Node's bundled roots, for a private CA. (Default: none) */
  extraCaCertificates?: ReadonlyArray<string | Buffer>;
  /** Resolves host names; every address it answers is checked. (Default: `dns.lookup`) */
  lookup?: LookupFunction;
  /** (Default: `credential-registry`) */
  userAgent?: string;
}

/** One call. */
export interface SafeRequest {
  /** (Default: `POST` with a body, `GET` without) */
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Readonly<Record<string, string>>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /**
   * Answer with the first `maxResponseBytes` of a larger body (`truncated: true`) instead of
   * failing with `TOO_LARGE`: for callers that only look at the status. (Default: false)
   */
  truncateBody?: boolean;
}

/** Any non-3xx answer; the caller decides what a status means. */
export interface SafeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** At most `maxResponseBytes`. */
  body: Buffer;
  /** The receiver sent more than `body` holds (only with `truncateBody`). */
  truncated: boolean;
}

const DEFAULTS = {
  connectTimeoutMs: 5_000,
  timeoutMs: 15_000,
  maxResponseBytes: 64 * 1024,
  userAgent: 'credential-registry',
};

// Node's own errors carry codes like ECONNREFUSED or ERR_TLS_CERT_ALTNAME_INVALID: safe to show.
const ERRNO_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

/**
 * What a failure before the response means. request-filtering-agent refuses an address with a
 * plain `Error` before any connection exists, while every error Node raises on the way there
 * (ENOTFOUND, ECONNREFUSED, EHOSTUNREACH, TLS) carries a `code`: that difference, not the wording
 * of the message, tells a refusal from a network failure.
 */
function failure(err: unknown, connected: boolean): SafeHttpError {
  if (err instanceof SafeHttpError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (!connected && code === undefined) {
    return new SafeHttpError(
      'ADDRESS_REFUSED',
      'The host resolves to a loopback, private, link-local or reserved address, which is refused.',
      { cause: err },
    );
  }
  const shown = typeof code === 'string' && ERRNO_CODE.test(code) ? ` (${code})` : '';
  return new SafeHttpError('UNREACHABLE', `Could not reach the receiver${shown}.`, { cause: err });
}

/**
 * An HTTP client for tenant-supplied URLs. One per service (it holds two agents); `close()` on
 * shutdown.
 *
 * @example
 * ```ts
 * const http = new SafeHttpClient({ allowPrivate: config.allowPrivateUrls });
 * const res = await http.request('https://hooks.example.com/in', { body: '{}', signal });
 * if (res.status >= 200 && res.status < 300) …
 * ```
 */
export class SafeHttpClient {
  private readonly policy: UrlPolicy;
  private readonly connectTimeoutMs: number;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly userAgent: string;
  private readonly lookup: LookupFunction | undefined;
  private readonly httpAgent: RequestFilteringHttpAgent;
  private readonly httpsAgent: RequestFilteringHttpsAgent;

  constructor(options: SafeHttpOptions = {}) {
    this.policy = { allowPrivate: options.allowPrivate ?? false, allowHttp: options.allowHttp ?? false };
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    this.timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULTS.maxResponseBytes;
    this.userAgent = options.userAgent ?? DEFAULTS.userAgent;
    this.lookup = options.lookup;
    const filter = {
      allowPrivateIPAddress: this.policy.allowPrivate,
      // 0.0.0.0 and :: name no host; refused whatever the operator allows, as `checkUrl` does.
      allowMetaIPAddress: false,
      // A fresh connection per call: every call is checked at connect time, and no idle socket
      // to a receiver outlives the call that opened it.
      keepAlive: false,
    };
    this.httpAgent = new RequestFilteringHttpAgent(filter);
    const extraCa = options.extraCaCertificates ?? [];
    this.httpsAgent = new RequestFilteringHttpsAgent(
      // `ca` replaces Node's roots, so they are passed along with the extra ones.
      extraCa.length === 0 ? filter : { ...filter, ca: [...rootCertificates, ...extraCa] },
    );
  }

  /**
   * Sends one request and reads the response. Resolves with any non-3xx status; rejects with a
   * `SafeHttpError` when there is no usable response.
   */
  request(url: string, init: SafeRequest = {}): Promise<SafeResponse> {
    const reason = checkUrl(url, this.policy);
    if (reason !== null) return Promise.reject(new SafeHttpError('URL_REFUSED', `The URL ${reason}.`));
    if (init.signal?.aborted) return Promise.reject(aborted(init.signal));
    const target = new URL(url);
    const tls = target.protocol === 'https:';
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    const headers: Record<string, string | number> = { 'user-agent': this.userAgent, ...init.headers };
    if (body !== undefined) headers['content-length'] = body.byteLength;

    return new Promise<SafeResponse>((resolve, reject) => {
      const req: ClientRequest = (tls ? httpsRequest : httpRequest)(target, {
        method: init.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        agent: tls ? this.httpsAgent : this.httpAgent,
        ...(this.lookup === undefined ? {} : { lookup: this.lookup }),
      });
      let connected = false;
      let done = false;
      const timers: NodeJS.Timeout[] = [];
      const settle = (outcome: SafeResponse | SafeHttpError): void => {
        if (done) return;
        done = true;
        for (const timer of timers) clearTimeout(timer);
        init.signal?.removeEventListener('abort', onAbort);
        if (outcome instanceof SafeHttpError) {
          req.destroy();
          reject(outcome);
        } else {
          resolve(outcome);
        }
      };
      const onAbort = (): void => settle(aborted(init.signal));
      init.signal?.addEventListener('abort', onAbort, { once: true });

      const connectTimer = setTimeout(
        () =>
          settle(
            new SafeHttpError('TIMEOUT', `No connection to the receiver within ${this.connectTimeoutMs} ms.`),
          ),
        this.connectTimeoutMs,
      );
      timers.push(
        connectTimer,
        setTimeout(
          () => settle(new SafeHttpError('TIMEOUT', `No complete response within ${this.timeoutMs} ms.`)),
          this.timeoutMs,
        ),
      );
      req.on('socket', (socket) => {
        socket.once('connect', () => {
          connected = true;
        });
        // The handshake counts as connecting: a receiver that accepts TCP and then stalls TLS
        // should not hold the call for the whole total timeout.
        socket.once(tls ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      req.on('error', (err) => settle(failure(err, connected)));

      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          res.destroy();
          settle(
            new SafeHttpError(
              'REDIRECT',
              `The receiver answered ${status}, a redirect, which is not followed.`,
              {
                status,
              },
            ),
          );
          return;
        }
        const tooLarge = () =>
          new SafeHttpError('TOO_LARGE', `The response body is larger than ${this.maxResponseBytes} bytes.`);
        if (!init.truncateBody && Number(res.headers['content-length']) > this.maxResponseBytes) {
          settle(tooLarge());
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (done) return;
          const room = this.maxResponseBytes - size;
          if (chunk.length <= room) {
            chunks.push(chunk);
            size += chunk.length;
            return;
          }
          if (!init.truncateBody) {
            settle(tooLarge());
            return;
          }
          chunks.push(chunk.subarray(0, room));
          // Cut the connection rather than drain it: the receiver decides how much it sends.
          res.destroy();
          settle({ status, headers: res.headers, body: Buffer.concat(chunks), truncated: true });
        });
        res.on('end', () =>
          settle({ status, headers: res.headers, body: Buffer.concat(chunks), truncated: false }),
        );
        res.on('error', (err) => settle(failure(err, connected)));
        res.on('close', () => {
          if (!res.complete) {
            settle(
              new SafeHttpError('UNREACHABLE', 'The connection closed before the response was complete.'),
            );
          }
        });
      });

      req.end(body);
    });
  }

  /** Destroys any open connection, for shutdown. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function aborted(signal: AbortSignal | undefined): SafeHttpError {
  return new SafeHttpError('ABORTED', 'The call was cancelled.', { cause: signal?.reason });
}
