/**
 * A private PostgreSQL 15 cluster, for what the machine's shared server cannot give: the chaos
 * suite stops, kills and restarts it at will, and the rotator tests need a server that checks
 * passwords (the shared one trusts loopback, so a login there proves nothing). Its own data
 * directory in a temporary folder owned by the `postgres` OS user (initdb refuses to run as root),
 * scram-sha-256 for 127.0.0.1 with a generated password, a random free port and a socket directory
 * of its own, so nothing on the machine's standard port is touched.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './processes.js';

/** Where Debian puts the PostgreSQL 15 server binaries. */
export const PG_BIN = '/usr/lib/postgresql/15/bin';
const SUPERUSER = 'postgres';

export interface PgCluster {
  readonly port: number;
  /** The superuser's password (scram-sha-256). */
  readonly password: string;
  /** A connection URL on 127.0.0.1; the superuser's unless another login is given. */
  url(database: string, login?: { user: string; password: string }): string;
  start(): Promise<void>;
  /** `pg_ctl stop -m fast|immediate`: fast disconnects every client, immediate is a crash. */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  restart(mode: 'fast' | 'immediate'): Promise<void>;
  /** Statements as the superuser on a short-lived connection of their own; answers the last one's rows. */
  sql<T = Record<string, unknown>>(database: string, text: string, params?: unknown[]): Promise<T[]>;
  /** One connection as the superuser for `fn` (temporary tables live as long as it does). */
  withClient<T>(database: string, fn: (client: pg.Client) => Promise<T>): Promise<T>;
  /** The server log's last lines, for a failure report. */
  logTail(lines?: number): string;
  /** Stops the server (immediate) and removes every file. Synchronous, so it also runs on exit. */
  destroy(): void;
}

function osIds(user: string): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0) {
    throw new Error(
      `the OS user "${user}" is needed to run the private PostgreSQL cluster (apt-get install postgresql-15)`,
    );
  }
  return { uid, gid };
}

/** Runs a server binary as the postgres OS user; rejects with its output. */
function asPostgres(binary: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'runuser',
      ['-u', SUPERUSER, '--', join(PG_BIN, binary), ...args],
      { timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) =>
        err
          ? reject(
              new Error(`${binary} ${args[0] ?? ''} failed: ${`${stderr}${stdout}`.trim() || err.message}`),
            )
          : resolve(stdout),
    );
  });
}

/** Creates and starts a fresh cluster in a temporary directory of its own, which `destroy()` removes. */
export async function startCluster(): Promise<PgCluster> {
  const { uid, gid } = osIds(SUPERUSER);
  const root = mkdtempSync(join(tmpdir(), 'credreg-pg-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'socket');
  const logFile = join(root, 'server.log');
  mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  for (const dir of [root, socketDir]) {
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  const password = randomBytes(18).toString('base64url');
  const pwFile = join(root, 'pwfile');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  chownSync(pwFile, uid, gid);
  let destroyed = false;
  let port = 0;
  const pgCtl = (action: string, ...extra: string[]) =>
    asPostgres('pg_ctl', [
      action,
      '-D',
      dataDir,
      '-w',
      '-t',
      '60',
      ...extra,
      ...(action === 'stop'
        ? []
        : ['-l', logFile, '-o', `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1`]),
    ]);

  const cluster: PgCluster = {
    get port() {
      return port;
    },
    password,
    url: (database, login = { user: SUPERUSER, password }) =>
      `postgres://${encodeURIComponent(login.user)}:${encodeURIComponent(login.password)}@127.0.0.1:${port}/${database}`,
    start: async () => void (await pgCtl('start')),
    stop: async (mode) => void (await pgCtl('stop', '-m', mode)),
    restart: async (mode) => void (await pgCtl('restart', '-m', mode)),
    async sql<T>(database: string, text: string, params?: unknown[]) {
      return cluster.withClient(database, async (c) => (await c.query(text, params)).rows as T[]);
    },
    async withClient(database, fn) {
      const client = new pg.Client({
        connectionString: cluster.url(database),
        connectionTimeoutMillis: 10_000,
      });
      // A connection a restart or stop breaks must fail its query, not the process.
      client.on('error', () => {});
      await client.connect();
      try {
        return await fn(client);
      } finally {
        await client.end().catch(() => {});
      }
    },
    logTail(lines = 20) {
      const r = spawnSync('tail', ['-n', String(lines), logFile], { encoding: 'utf8' });
      return r.stdout ?? '';
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      spawnSync(
        'runuser',
        [
          '-u',
          SUPERUSER,
          '--',
          join(PG_BIN, 'pg_ctl'),
          'stop',
          '-D',
          dataDir,
          '-m',
          'immediate',
          '-w',
          '-t',
          '20',
        ],
        {
          stdio: 'ignore',
        },
      );
      rmSync(root, { recursive: true, force: true });
    },
  };

  try {
    await asPostgres('initdb', [
      '-D',
      dataDir,
      '-U',
      SUPERUSER,
      '--auth=scram-sha-256',
      `--pwfile=${pwFile}`,
      '--encoding=UTF8',
      '--no-instructions',
    ]);
    rmSync(pwFile);
    // Only the superuser's password, only over loopback TCP and the private socket.
    const hba = join(dataDir, 'pg_hba.conf');
    writeFileSync(
      hba,
      ['local all all scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256', ''].join('\n'),
      { mode: 0o600 },
    );
    chownSync(hba, uid, gid);
    port = await freePort();
    await cluster.start();
    return cluster;
  } catch (err) {
    cluster.destroy();
    throw err;
  }
}
