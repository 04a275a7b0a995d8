/**
 * The HTTP reveal cell's load generator, forked by http-workload.ts so that the client does not
 * share the server's event loop: in one process, every request's client-side parsing, timers and
 * garbage would be charged to the server. It runs load.ts's `drive` on request and answers with
 * the cell; it exits when the parent disconnects (or dies).
 */
import { Agent, request } from 'node:http';
import type { FromHttpClient, HttpRevealTarget, ToHttpClient } from './http-client-protocol.js';
import { drive } from './load.js';
import { pick } from './workload.js';

if (!process.send) {
  throw new Error('bench/http-client.ts is forked by bench/http-workload.ts; it is not run by itself');
}

// Sockets stay open between runs, so a timed run does not start by connecting; a closed loop
// never holds more than `concurrency` of them.
const agent = new Agent({ keepAlive: true });
let running: AbortController | undefined;

const reply = (message: FromHttpClient) => {
  // After a disconnect the parent no longer listens; sending would throw.
  if (process.connected) process.send!(message);
};

// Ctrl-C reaches the whole process group; the parent forwards it as 'abort', so the run stops as
// it would in-process (in-flight reveals finish) instead of this process dying under the server.
process.on('SIGINT', () => {});
process.on('disconnect', () => {
  running?.abort(new Error('the bench went away'));
  agent.destroy();
});
process.on('message', (message: ToHttpClient) => {
  if (message.kind === 'abort') running?.abort(new Error('interrupted'));
  else void run(message.target, message.concurrency, message.durationMs);
});
reply({ kind: 'ready' });

async function run(target: HttpRevealTarget, concurrency: number, durationMs: number): Promise<void> {
  const controller = new AbortController();
  running = controller;
  try {
    const cell = await drive(revealer(target), concurrency, durationMs, controller.signal);
    reply({ kind: 'done', cell });
  } catch (error) {
    reply({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
  } finally {
    running = undefined;
  }
}

function revealer({ url, token, credentialIds }: HttpRevealTarget): () => Promise<void> {
  const { hostname, port } = new URL(url);
  const body = JSON.stringify({ reason: 'bench' });
  const headers = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  };
  return () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          agent,
          hostname,
          port,
          method: 'POST',
          path: `/v1/credentials/${pick(credentialIds)}/reveal`,
          headers,
        },
        (res) => {
          res.resume();
          res.on('error', reject);
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`HTTP reveal answered ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}
