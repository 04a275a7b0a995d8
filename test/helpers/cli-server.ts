/**
 * A real `credreg serve` on a temporary embedded store, and a way to run `credreg` commands against
 * it as a user would: separate processes, stdin piped in, the environment cleared of anything that
 * would point them at another server or config file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.js';

export const CLI_ENTRY = ['--import', 'tsx', 'src/cli/index.ts'];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment without anything that would point a child at another database, server or
 * profile; HOME and XDG_CONFIG_HOME go to an empty temporary directory unless `home` is given.
 */
export function cleanEnv(home?: string): NodeJS.ProcessEnv {
  const {
    DATABASE_URL: _db,
    CREDREG_ADDR: _addr,
    CREDREG_TOKEN: _token,
    CREDREG_PROFILE: _profile,
    XDG_CONFIG_HOME: _xdg,
    ...rest
  } = process.env;
  return { ...rest, HOME: home ?? mkdtempSync(join(tmpdir(), 'credreg-home-')) };
}

/** Runs `credreg <args>` with `env` (nothing else of this process's), `stdin` piped in. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<CliResult> {
  const child = spawn(process.execPath, [...CLI_ENTRY, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

export interface ServeHandle {
  addr: string;
  platformToken: string;
  stop(): void;
}

/**
 * Starts `credreg serve` on a fresh embedded store and waits for its address and bootstrap token;
 * `env` adds to (or overrides) its environment.
 */
export async function startServe(env: NodeJS.ProcessEnv = {}): Promise<ServeHandle> {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'credreg-cli-')), 'data');
  const server: ChildProcess = spawn(process.execPath, [...CLI_ENTRY, 'serve'], {
    env: {
      ...cleanEnv(),
      CREDREG_DATA_DIR: dataDir,
      CREDREG_LISTEN: '127.0.0.1:0',
      CREDREG_MAINTENANCE_INTERVAL_MS: '0',
      CREDREG_AUDIT_SEAL_INTERVAL_MS: '0',
      CREDREG_AUDIT_SINK_INTERVAL_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  server.stdout!.on('data', (d) => (log += d));
  server.stderr!.on('data', (d) => (log += d));
  const stop = () => {
    if (server.exitCode === null) server.kill('SIGKILL');
  };
  try {
    const addr = (
      await waitFor(() => log.match(/credreg listening on (http:\/\/[\d.:]+)/), 'the listening line')
    )[1]!;
    const platformToken = (
      await waitFor(() => log.match(/platform admin token.*?(crp\.[A-Za-z0-9._-]+)/), 'the bootstrap token')
    )[1]!;
    return { addr, platformToken, stop };
  } catch (err) {
    stop();
    throw new Error(`${(err as Error).message}; server log:\n${log}`);
  }
}
