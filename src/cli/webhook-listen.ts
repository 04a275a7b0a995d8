/**
 * `credreg webhook listen`: a local webhook receiver for development and walkthroughs (as
 * `stripe listen` is). It answers every POST, on any path, by verifying it as a Standard Webhooks
 * message with the subscription's `whsec_…` secret (the reference `standardwebhooks` library, as
 * any receiver would), prints one line per verified message and answers 204; a message that does
 * not verify (another secret, a stale timestamp, no signature) is answered 401 and reported on
 * stderr. It keeps nothing: a message the registry sends twice (at least once) is printed twice.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { checkWebhookSecret } from '../events/webhook-signer.js';

/** Larger bodies are refused (413): the registry's messages hold ids and metadata only. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface WebhookListenerOptions {
  /** (Default: 127.0.0.1) */
  host?: string;
  /** 0 picks a free port; the listener's `url` says which. */
  port: number;
  /** The subscription's `whsec_…` secret, as `credreg webhook create` printed it. */
  secret: string;
  /** One line per verified message (Default: text; `json`: one JSON object per line). */
  format?: 'text' | 'json';
  /** Where a verified message's line goes. */
  print: (line: string) => void;
  /** Where a refused request's line goes. */
  warn: (line: string) => void;
}

export interface WebhookListener {
  /** `http://<host>:<port>/`: what to subscribe. */
  readonly url: string;
  close(): Promise<void>;
}

/** A verified message as `--json` prints it: its `webhook-id`, then the body. */
export interface ReceivedMessage {
  webhookId: string;
  type?: unknown;
  timestamp?: unknown;
  data?: unknown;
}

/**
 * Starts the receiver; resolves once it listens. Throws a TypeError, without quoting it, if the
 * secret is not a `whsec_…` secret.
 *
 * @example
 * const listener = await startWebhookListener({ port: 9000, secret, print: console.log, warn: console.error });
 * // subscribe listener.url (the server needs CREDREG_ALLOW_PRIVATE_URLS=true for a loopback receiver)
 */
export async function startWebhookListener(options: WebhookListenerOptions): Promise<WebhookListener> {
  /* Precondition: the secret is whsec_ and base64 of 24 to 64 bytes. */
  const problem = checkWebhookSecret(options.secret);
  if (problem !== null) throw new TypeError(`the webhook secret ${problem}`);
  const webhook = new Webhook(options.secret);
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((req, res) => {
    receive(req, res, webhook, options).catch((err: unknown) => {
      // Printing failed (stdout closed, say): this request is lost, the listener goes on.
      options.warn(`credreg: could not handle a request: ${(err as Error).message}`);
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${host}:${options.port} (${err.code ?? err.message})`)),
    );
    server.listen(options.port, host);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function receive(
  req: IncomingMessage,
  res: ServerResponse,
  webhook: Webhook,
  options: WebhookListenerOptions,
): Promise<void> {
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  const id = headerText(req.headers['webhook-id']);
  const refuse = (status: number, why: string) => {
    options.warn(`${new Date().toISOString()} refused (${status}) ${id ?? '-'}: ${why}`);
    res.writeHead(status).end();
  };
  let body: string;
  try {
    body = await readBody(req);
  } catch (err) {
    if (err instanceof BodyTooLarge) return refuse(413, `the body is over ${MAX_BODY_BYTES} bytes`);
    res.destroy(); // the sender went away mid-body
    return;
  }
  try {
    webhook.verify(body, stringHeaders(req), { jsonParse: false });
  } catch (err) {
    // The library's reasons ("No matching signature found", "Message timestamp too old") name no secret.
    const why = err instanceof WebhookVerificationError ? err.message : 'the signature headers are malformed';
    return refuse(401, `${why}: not signed with this secret, or not by the registry`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return refuse(400, 'the body is signed but is not JSON');
  }
  const message: ReceivedMessage = {
    webhookId: id!, // verify() refuses a message without one
    ...(parsed !== null && typeof parsed === 'object'
      ? (parsed as Record<string, unknown>)
      : { data: parsed }),
  };
  options.print(options.format === 'json' ? JSON.stringify(message) : messageLine(message));
  res.writeHead(204).end();
}

/** `<timestamp> <type> <webhook-id> <data as compact JSON>`. */
export function messageLine(m: ReceivedMessage): string {
  return [text(m.timestamp), text(m.type), plain(m.webhookId), JSON.stringify(m.data ?? null)].join(' ');
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The headers as `Webhook.verify` takes them: single values only. */
function stringHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') out[name] = value;
  return out;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? plain(value) : undefined;
}

function text(value: unknown): string {
  return typeof value === 'string' && value.length > 0 ? plain(value) : '-';
}

/** Control characters shown escaped, never sent to the terminal; spaces too, so fields stay apart. */
function plain(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is matched
  return /[\s\u0000-\u001f\u007f-\u009f]/.test(value) ? JSON.stringify(value) : value;
}
