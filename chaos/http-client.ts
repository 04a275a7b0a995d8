/**
 * One keep-alive HTTP client on loopback (node:http, one socket per client, reused across
 * requests), reporting exactly what happened: a response, or which way the connection failed.
 * A refused connection, a reset before the response and a request nobody answered are told apart,
 * since the scenarios judge them differently.
 */
import { Agent, type IncomingHttpHeaders, request } from 'node:http';

export interface Reply {
  kind: 'reply';
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** `refused`: nobody listened. `reset`: the connection broke before a whole response. */
export type ConnectionFailure = 'refused' | 'reset' | 'timeout' | 'other';

export type Outcome = Reply | { kind: 'failure'; failure: ConnectionFailure; message: string };

/** A request nobody answers within this long counts as `timeout`. (Default: 30 s) */
export const REQUEST_TIMEOUT_MS = 30_000;

export class KeepAliveClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });

  /** One request; never rejects. */
  send(
    base: string,
    method: string,
    path: string,
    token: string | undefined,
    body?: unknown,
    timeoutMs = REQUEST_TIMEOUT_MS,
  ): Promise<Outcome> {
    const url = new URL(path, base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve) => {
      let settled = false;
      const settle = (o: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(o);
      };
      const req = request(
        {
          agent: this.#agent,
          hostname: url.hostname,
          port: url.port,
          method,
          path: url.pathname + url.search,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(payload !== undefined
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () =>
            settle({ kind: 'reply', status: res.statusCode ?? 0, headers: res.headers, body: text }),
          );
          res.on('error', (err) => settle(failure(err, req.reusedSocket)));
          res.on('aborted', () => settle({ kind: 'failure', failure: 'reset', message: 'response aborted' }));
        },
      );
      const timer = setTimeout(() => {
        settle({ kind: 'failure', failure: 'timeout', message: `no answer in ${timeoutMs} ms` });
        req.destroy();
      }, timeoutMs);
      req.on('error', (err) => settle(failure(err, req.reusedSocket)));
      req.end(payload);
    });
  }

  /** A JSON request that must succeed (set-up steps): rejects with the status and problem detail. */
  async json<T>(
    base: string,
    method: string,
    path: string,
    token: string | undefined,
    body?: unknown,
  ): Promise<T> {
    const o = await this.send(base, method, path, token, body);
    if (o.kind !== 'reply') throw new Error(`${method} ${path}: ${o.failure} (${o.message})`);
    if (o.status < 200 || o.status > 299) {
      throw new Error(`${method} ${path} answered ${o.status}: ${o.body.slice(0, 300)}`);
    }
    return (o.body ? JSON.parse(o.body) : undefined) as T;
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** `reused`: the request went out on a kept-alive connection, not a new one. */
function failure(err: NodeJS.ErrnoException, reused: boolean): Outcome {
  const code = err.code ?? '';
  const kind: ConnectionFailure =
    code === 'ECONNREFUSED'
      ? 'refused'
      : code === 'ECONNRESET' || code === 'EPIPE' || err.message === 'socket hang up'
        ? 'reset'
        : 'other';
  const on = reused ? ' (on a kept-alive connection)' : ' (on a new connection)';
  return { kind: 'failure', failure: kind, message: `${code || 'error'}: ${err.message}${on}` };
}
