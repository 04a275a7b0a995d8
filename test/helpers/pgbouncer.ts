/** PgBouncer, a real pooler from Debian (`.ci/run` installs it): one of its own per test file. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './processes.js';
import { waitFor } from './wait.js';

export const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => existsSync(p));
/** Elsewhere the PgBouncer tests say they are skipped. */
export const HAS_PGBOUNCER = PGBOUNCER !== undefined;

export interface PgBouncerDatabase {
  /** The database on the server that `DATABASE_URL` names. */
  dbname: string;
  /** Server connections for this entry. (Default: the bouncer's `defaultPoolSize`) */
  poolSize?: number;
}

export interface PgBouncerOptions {
  /** The real server, and the user every client logs in as (trusted by the bouncer). */
  upstream: string;
  /** Entries clients connect to, by name; each has a pool of server connections of its own. */
  databases: Record<string, PgBouncerDatabase>;
  /** (Default: `transaction`) */
  poolMode?: 'session' | 'transaction' | 'statement';
  /** (Default: 3) */
  defaultPoolSize?: number;
}

export interface PgBouncer {
  readonly port: number;
  /** A connection string for one of the `databases`, through the bouncer. */
  url(database: string): string;
  /** Runs a command of the admin console (`SHOW SERVERS`, `SHOW STATS`, …). */
  admin<R = Record<string, unknown>>(command: string): Promise<R[]>;
  /** Stops the bouncer and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts PgBouncer on a free port of 127.0.0.1, in a temporary directory, and waits until it
 * listens. As root it runs as the `postgres` user (it refuses to run as root).
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  if (!PGBOUNCER) throw new Error('pgbouncer is not installed');
  // Another process may take the free port before PgBouncer binds it: then try another one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(PGBOUNCER, options, await freePort());
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 5) throw err;
    }
  }
}

class PortTaken extends Error {}

async function launch(binary: string, options: PgBouncerOptions, port: number): Promise<PgBouncer> {
  const upstream = new URL(options.upstream);
  const user = decodeURIComponent(upstream.username || 'postgres');
  const dir = mkdtempSync(join(tmpdir(), 'credreg-pgbouncer-'));
  const entries = Object.entries(options.databases).map(
    ([name, d]) =>
      `${name} = host=${upstream.hostname} port=${upstream.port || 5432} dbname=${d.dbname}` +
      (d.poolSize ? ` pool_size=${d.poolSize}` : ''),
  );
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      ...entries,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      `admin_users = ${user}`,
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${options.defaultPoolSize ?? 3}`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  // Clients are trusted; the password, if any, is what the bouncer logs in to the server with.
  const password = decodeURIComponent(upstream.password);
  writeFileSync(join(dir, 'users.txt'), `"${user}" "${password.replaceAll('"', '""')}"\n`);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout);
    chownSync(dir, id('-u'), id('-g'));
    for (const f of ['pgbouncer.ini', 'users.txt']) chownSync(join(dir, f), id('-u'), id('-g'));
    chmodSync(dir, 0o700);
  }
  const child = spawn(binary, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // PgBouncer logs to stderr as well as to its file; the start and the errors are what we read.
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-65_536);
  });
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = signal ?? String(code);
      resolve();
    }),
  );
  child.once('error', (err) => {
    exited = err.message;
  });
  // A test process that dies without running afterAll must not leave the bouncer behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      process.off('exit', killOnExit);
      if (exited === undefined) await terminate(child, gone);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  try {
    await waitFor(
      () => {
        if (exited !== undefined) {
          if (/Address already in use/.test(log)) throw new PortTaken(`port ${port} is taken`);
          throw new Error(`pgbouncer exited (${exited}) before it listened:\n${log}`);
        }
        return log.match(new RegExp(`listening on 127\\.0\\.0\\.1:${port}\\b`));
      },
      'pgbouncer to listen',
      60_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const url = (database: string) => {
    const u = new URL(options.upstream);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    u.password = '';
    u.pathname = `/${database}`;
    return u.toString();
  };
  return {
    port,
    url,
    async admin<R>(command: string) {
      // The console speaks the simple protocol only: a query without parameters.
      const client = new pg.Client({ connectionString: url('pgbouncer') });
      await client.connect();
      try {
        return (await client.query(command)).rows as R[];
      } finally {
        await client.end();
      }
    },
    stop,
  };
}

/** SIGTERM (a fast exit, dropping clients); SIGKILL if it has not gone within 10 s. */
async function terminate(child: ChildProcess, gone: Promise<void>): Promise<void> {
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), 10_000);
  });
  if ((await Promise.race([gone, late])) === 'late') {
    child.kill('SIGKILL');
    await gone;
  }
  clearTimeout(timer);
}
