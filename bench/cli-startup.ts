/**
 * The CLI cell: wall time of the built `credreg` (bin/credreg.js, after `npm run build`) for
 * `--version` and for a remote `cred get` against a `credreg serve` this cell starts on a temporary
 * embedded store. Each run is a fresh process, so the time is what a script pays per call.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient } from '../src/client/registry-client.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'credreg.js');
const BUILT = join(import.meta.dirname, '..', 'dist', 'cli', 'index.js');

export interface WallTimes {
  p50Ms: number;
  minMs: number;
  maxMs: number;
}

export interface CliStartupResult {
  runs: number;
  version: WallTimes;
  credGet: WallTimes;
}

/** The environment of every process here: no database, server or profile of the caller's. */
function isolatedEnv(home: string): NodeJS.ProcessEnv {
  const {
    DATABASE_URL: _d,
    CREDREG_ADDR: _a,
    CREDREG_TOKEN: _t,
    CREDREG_PROFILE: _p,
    XDG_CONFIG_HOME: _x,
    ...rest
  } = process.env;
  return { ...rest, HOME: home };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

async function timeRuns(runs: number, args: string[], env: NodeJS.ProcessEnv): Promise<WallTimes> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await exitOf(child);
    if (code !== 0) throw new Error(`credreg ${args[0]} exited ${code}: ${stderr}`);
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return { p50Ms: ms[Math.floor(ms.length / 2)]!, minMs: ms[0]!, maxMs: ms[ms.length - 1]! };
}

/** Measures the CLI cell; undefined (with a note) when there is no build to run. */
export async function measureCliStartup(
  runs: number,
  progress: (message: string) => void,
): Promise<CliStartupResult | { skipped: string }> {
  if (!existsSync(BUILT)) return { skipped: 'cli: skipped, no dist/ (run `npm run build` first)' };
  const dir = mkdtempSync(join(tmpdir(), 'credreg-bench-cli-'));
  const env = isolatedEnv(dir);
  const server = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...env,
      CREDREG_DATA_DIR: join(dir, 'data'),
      CREDREG_LISTEN: '127.0.0.1:0',
      CREDREG_MAINTENANCE_INTERVAL_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let log = '';
    server.stdout!.on('data', (d) => (log += d));
    server.stderr!.on('data', (d) => (log += d));
    const until = Date.now() + 120_000;
    let addr: string | undefined;
    let platformToken: string | undefined;
    while (!(addr && platformToken)) {
      if (server.exitCode !== null || Date.now() > until)
        throw new Error(`credreg serve did not start:\n${log}`);
      addr = log.match(/credreg listening on (http:\/\/[\d.:]+)/)?.[1];
      platformToken = log.match(/platform admin token.*?(crp\.[A-Za-z0-9._-]+)/)?.[1];
      await new Promise((r) => setTimeout(r, 50));
    }
    const platform = new RegistryClient({ addr, token: platformToken });
    const tenant = await platform.createTenant({ name: 'bench-cli' });
    const admin = await platform.createTenantAdminToken(tenant.id, { name: 'bench', role: 'admin' });
    const client = new RegistryClient({ addr, token: admin.token });
    const vault = await client.createVault({ name: 'bench' });
    const cred = await client.storeCredential(vault.id, { name: 'k', type: 'api_key', value: 'sk_bench' });

    progress(`cli: ${runs} runs each of \`credreg --version\` and a remote \`credreg cred get\``);
    const version = await timeRuns(runs, ['--version'], env);
    const remoteEnv = { ...env, CREDREG_ADDR: addr, CREDREG_TOKEN: admin.token };
    const credGet = await timeRuns(runs, ['cred', 'get', cred.id, '--reason', 'bench'], remoteEnv);
    return { runs, version, credGet };
  } finally {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = exitOf(server);
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
