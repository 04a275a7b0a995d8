/**
 * `npm run chaos [-- --only a,b] [--soak-seconds N] [--built] [--logs DIR]`: faults injected into real
 * `credreg serve` processes under load, on a private PostgreSQL 15 cluster and on the embedded
 * store; one table on stdout, progress on stderr. Exits 1 when any must-be-zero column is not zero.
 *
 * `--built` runs `npm run build` and then `bin/credreg.js` instead of the sources through tsx;
 * `--logs DIR` keeps every service process's output there (the rest is removed at the end).
 *
 * Not part of `npm test` or CI: it takes about 20 minutes with the default 600 s soak, and it
 * kills and restarts its own PostgreSQL server (never the machine's).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type PgCluster, startCluster } from '../test/helpers/private-postgres.js';
import type { ChaosContext } from './context.js';
import { CLIENTS } from './load.js';
import { judge, type ScenarioResult, toTable } from './report.js';
import { runScenario } from './scenario-kit.js';
import { SCENARIOS } from './scenarios/index.js';
import { killAllServices, REPO_ROOT } from './service.js';

const progress = (message: string) => process.stderr.write(`chaos: ${message}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      'soak-seconds': { type: 'string', default: '600' },
      built: { type: 'boolean', default: false },
      logs: { type: 'string' },
    },
  });
  const names = values.only
    ? values.only
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean)
    : Object.keys(SCENARIOS);
  const unknown = names.filter((n) => !(n in SCENARIOS));
  if (unknown.length)
    throw new Error(`unknown scenario ${unknown.join(', ')}; there are ${Object.keys(SCENARIOS).join(', ')}`);
  const soakSeconds = Number(values['soak-seconds']);
  if (!(Number.isInteger(soakSeconds) && soakSeconds >= 10 && soakSeconds <= 3600)) {
    throw new Error(
      `--soak-seconds must be a whole number of seconds from 10 to 3600, got ${values['soak-seconds']}`,
    );
  }
  if (values.built) {
    progress('npm run build');
    execFileSync('npm', ['run', '-s', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }

  const workDir = mkdtempSync(join(tmpdir(), 'credreg-chaos-'));
  let cluster: PgCluster | undefined;
  let starting: Promise<PgCluster> | undefined;
  let cleaned = false;
  // Everything this run started goes, however it ends: a normal end, an error, Ctrl-C, exit.
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    killAllServices();
    cluster?.destroy();
    rmSync(workDir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  const abort = new AbortController();
  let interruptedAt = 0;
  const interrupt = (signal: NodeJS.Signals) => {
    // Ctrl-C reaches us twice (from the terminal, and relayed by npm and tsx): only a second one
    // a while later means "quit now".
    if (interruptedAt && Date.now() - interruptedAt > 2000) {
      cleanup();
      process.exit(130);
    }
    if (interruptedAt) return;
    interruptedAt = Date.now();
    progress(`${signal}: stopping the scenario and cleaning up (again to quit at once)`);
    abort.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);

  const ctx: ChaosContext = {
    workDir,
    signal: abort.signal,
    soakSeconds,
    built: values.built,
    logsDir: values.logs ? resolve(values.logs) : undefined,
    progress,
    cluster() {
      starting ??= startCluster().then((c) => {
        cluster = c;
        progress(`private PostgreSQL 15 cluster on 127.0.0.1:${c.port}`);
        return c;
      });
      return starting;
    },
  };
  const results: ScenarioResult[] = [];
  try {
    for (const name of names) {
      if (abort.signal.aborted) break;
      results.push(await runScenario(ctx, name, SCENARIOS[name]!));
    }
  } finally {
    if (cluster && results.some((r) => judge(r).length))
      progress(`PostgreSQL log, last lines:\n${cluster.logTail(15)}`);
    await new Promise((r) => setTimeout(r, 100)); // let the last children's exit events land
    cleanup();
  }
  process.stdout.write(
    `${toTable(results, { soakSeconds, clients: CLIENTS, interrupted: abort.signal.aborted })}\n`,
  );
  if (abort.signal.aborted) return 130;
  return results.some((r) => judge(r).length > 0) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    progress(`failed: ${(err as Error)?.message ?? String(err)}`);
    process.exitCode = 1;
  },
);
