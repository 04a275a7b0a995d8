/**
 * Reveals through the real HTTP service on loopback: Fastify, bearer-token auth, role check, JSON,
 * against the same registry the library cells use. The server runs here; the load comes from a
 * child process (bench/http-client.ts) with node:http and a keep-alive agent, so the client's work
 * runs on its own event loop instead of inside the server's.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildApp, closeGracefully } from '../src/http/app.js';
import type { RegistryHandle } from '../src/main.js';
import type { FromHttpClient, HttpRevealTarget, ToHttpClient } from './http-client-protocol.js';
import type { CellResult } from './load.js';
import type { Workload } from './workload.js';

const CLIENT_SCRIPT = fileURLToPath(new URL('./http-client.ts', import.meta.url));
/** Loading tsx and the client's few modules; far more than it takes, far less than a hang. */
const CLIENT_START_MS = 30_000;
/** Past a run's duration: in-flight reveals finish before it answers. */
const CLIENT_ANSWER_GRACE_MS = 30_000;
const CLIENT_EXIT_MS = 5000;

export interface HttpReveal {
  /** One closed-loop run of HTTP reveals in the client process; the semantics of load.ts's `drive`. */
  drive(concurrency: number, durationMs: number, signal: AbortSignal): Promise<CellResult>;
  /** Stops the client process, then the server; tries both. */
  close(): Promise<void>;
}

export async function startHttpReveal(registry: RegistryHandle, workload: Workload): Promise<HttpReveal> {
  const t = registry.forTenant(workload.tenantId);
  const principal = await t.principals.create({ name: 'bench-http', kind: 'service' }, { actor: 'bench' });
  const { token } = await t.tokens.create({ principalId: principal.id, role: 'reader' }, { actor: 'bench' });
  const app = await buildApp(registry, {
    http: { trustedProxies: [], bodyLimit: 256 * 1024, rateLimitPerMinute: 100_000_000 },
  });
  const closeServer = () => closeGracefully(app, { graceMs: 0, timeoutMs: 1000 });
  let client: HttpClientProcess;
  try {
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    client = await startClient({ url, token, credentialIds: workload.credentialIds });
  } catch (err) {
    await closeServer().catch(() => {}); // the start-up error is the one worth reporting
    throw err;
  }
  return {
    drive: client.drive,
    async close() {
      try {
        await client.close();
      } finally {
        await closeServer();
      }
    },
  };
}

interface HttpClientProcess {
  drive: HttpReveal['drive'];
  close(): Promise<void>;
}

/**
 * Forks the client and waits for it to be ready. Every way it can go wrong (it never starts,
 * crashes, exits, answers a run with a failure, or stops answering) rejects the pending call with
 * a message that names the client, rather than leaving the bench waiting.
 */
async function startClient(target: HttpRevealTarget): Promise<HttpClientProcess> {
  const child = fork(CLIENT_SCRIPT, [], {
    // Only tsx's loader, not the parent's whole execArgv: that also carries tsx's preflight, which
    // reports signals to the tsx CLI that started the parent, and any --inspect port.
    execArgv: ['--import', import.meta.resolve('tsx')],
    serialization: 'advanced',
    // The client's stdout goes to our stderr: stdout carries only the report.
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let waiter: { resolve: (m: FromHttpClient) => void; reject: (e: Error) => void } | undefined;
  let gone: Error | undefined;
  const fail = (error: Error) => {
    gone ??= error;
    const w = waiter;
    waiter = undefined;
    w?.reject(gone);
  };
  child.on('exit', (code, signal) =>
    fail(
      new Error(
        `the HTTP bench client (bench/http-client.ts) exited ${signal ? `on ${signal}` : `with code ${code}`}` +
          ' (anything it printed is above)',
      ),
    ),
  );
  child.on('error', (err) => fail(new Error(`the HTTP bench client failed: ${err.message}`, { cause: err })));
  child.on('message', (message: FromHttpClient) => {
    const w = waiter;
    waiter = undefined;
    w?.resolve(message);
  });
  /** The client's next message, or why none will come. */
  const next = (timeoutMs: number, what: string) =>
    new Promise<FromHttpClient>((resolve, reject) => {
      if (gone) return reject(gone);
      const timer = setTimeout(() => {
        waiter = undefined;
        child.kill('SIGKILL');
        reject(new Error(`the HTTP bench client did not ${what} within ${timeoutMs} ms; it was killed`));
      }, timeoutMs);
      waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  const send = (message: ToHttpClient) => {
    // A closed channel is reported through 'error' (then 'exit'), which rejects the pending call.
    if (child.connected) child.send(message);
  };
  const close = async () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.disconnect();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, CLIENT_EXIT_MS);
    });
    await Promise.race([exited, late]);
    clearTimeout(timer);
    await exited;
  };

  try {
    const first = await next(CLIENT_START_MS, 'start');
    if (first.kind !== 'ready') throw new Error(`the HTTP bench client said '${first.kind}' before 'ready'`);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    close,
    async drive(concurrency, durationMs, signal) {
      signal.throwIfAborted();
      const answer = next(durationMs + CLIENT_ANSWER_GRACE_MS, 'finish a run');
      const onAbort = () => send({ kind: 'abort' });
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        send({ kind: 'drive', target, concurrency, durationMs });
        const m = await answer;
        // As `drive`: an interrupt wins over whatever the run ended with.
        signal.throwIfAborted();
        if (m.kind === 'done') return m.cell;
        if (m.kind === 'failed') throw new Error(m.message);
        throw new Error(`the HTTP bench client said '${m.kind}' in answer to a run`);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
