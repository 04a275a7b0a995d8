/**
 * Webhook receivers inside the test process (node:http on 127.0.0.1, or node:https with a given
 * certificate), recording every request they read in full.
 */
import { once } from 'node:events';
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Answers one request; may leave `res` open to play a slow receiver. */
export type Handler = (req: Received, res: ServerResponse) => void;

export interface Receiver {
  /** `http(s)://127.0.0.1:<port>` */
  origin: string;
  port: number;
  received: Received[];
  close(): Promise<void>;
}

export const answer =
  (status: number, body = '', headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, headers).end(body);
  };

/** Sends an endless body, one chunk per drain, until the client goes away. */
export const endlessBody: Handler = (_req, res) => {
  const chunk = Buffer.alloc(16 * 1024, 'x');
  res.writeHead(200, { 'content-type': 'text/plain' });
  const pump = () => {
    while (!res.destroyed && res.write(chunk)) {}
  };
  res.on('drain', pump);
  pump();
};

/** Reads the request, then never answers. */
export const neverAnswer: Handler = () => {};

export async function startReceiver(
  handler: Handler = answer(204),
  tls?: { key: string; cert: string },
): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = tls ? createHttpsServer(tls) : createHttpServer();
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(r);
      handler(r, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    received,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A port nothing listens on (a receiver that went away): bound, then released. */
export async function closedPort(): Promise<number> {
  const r = await startReceiver();
  await r.close();
  return r.port;
}

/** The headers as `Webhook.verify` takes them. */
export function headerRecord(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') out[k] = v;
  return out;
}

const open: Array<{ close(): unknown }> = [];

/** Registers `thing` (a receiver, a client) to be closed after the current test; returns it. */
export function closeLater<T extends { close(): unknown }>(thing: T): T {
  open.push(thing);
  return thing;
}

/** A receiver closed after the current test (with `closeAfterEach`). */
export async function receiver(handler?: Handler, tls?: { key: string; cert: string }): Promise<Receiver> {
  return closeLater(await startReceiver(handler, tls));
}

/** Call once per test file that uses `closeLater` or `receiver`. */
export function closeAfterEach(): void {
  afterEach(async () => {
    await Promise.all(open.splice(0).map((thing) => thing.close()));
  });
}
