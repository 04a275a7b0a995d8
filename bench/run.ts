/**
 * `npm run bench [-- --json] [-- --seconds N]`: audited reveal and store throughput and latency on
 * PostgreSQL (when DATABASE_URL is set) and PGlite, against a raw-SQL baseline; then the rotation
 * scheduler's overhead and webhook delivery throughput on each.
 *
 * stdout carries only the report (with --json, exactly one JSON array); progress goes to stderr.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { KeyProviderConfig } from '../src/config.js';
import { fakeKms } from '../test/helpers/kms-fake.js';
import { HAS_SOFTHSM, SOFTHSM_MODULE, softHsmToken } from '../test/helpers/softhsm.js';
import { transitStandIn } from '../test/helpers/transit-stand-in.js';
import { setUpBaseline } from './baseline.js';
import { measureCliStartup } from './cli-startup.js';
import { startHttpReveal } from './http-workload.js';
import { type CellResult, drive } from './load.js';
import {
  type BackendResult,
  CONCURRENCIES,
  type Concurrency,
  OPERATIONS,
  type Operation,
  type RunInfo,
  toJson,
  toTable,
} from './report.js';
import { measureScheduler } from './scheduler-workload.js';
import { type BenchTarget, openPgliteTarget, openPostgresTarget } from './targets.js';
import { measureWebhookDelivery } from './webhook-workload.js';
import { seedWorkload } from './workload.js';

/** The same size for the registry's pool and the baseline's, and equal to the top concurrency. */
const POOL_SIZE = 32;
const CREDENTIALS = 200;
const WARMUP_SECONDS = 1;
/** The scheduler cell: credentials that rotate by themselves, of which 1% come due. */
const SCHEDULED_CREDENTIALS = 10_000;
const DUE_CREDENTIALS = 100;
/** The webhook cell: test events enqueued, then delivered to a local receiver. */
const WEBHOOK_EVENTS = 1000;
/** The CLI cell: fresh `credreg` processes per command. */
const CLI_RUNS = 10;

const progress = (message: string) => process.stderr.write(`${message}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '4' },
    },
  });
  const secondsPerCell = Number(values.seconds);
  if (!(secondsPerCell > 0 && secondsPerCell <= 60)) {
    throw new Error(`--seconds must be a number of seconds between 0 and 60, got ${values.seconds}`);
  }
  // Ctrl-C stops the running cell, so the temporary database is still dropped.
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort(new Error('interrupted')));

  const info: RunInfo = {
    secondsPerCell,
    warmupSeconds: WARMUP_SECONDS,
    credentials: CREDENTIALS,
    skipped: [],
  };
  const results: BackendResult[] = [];
  const url = process.env.DATABASE_URL;
  if (url) {
    results.push(await onTarget(() => openPostgresTarget(url, POOL_SIZE), info, abort.signal));
  } else {
    const note = 'postgres: skipped, DATABASE_URL is not set';
    info.skipped.push(note);
    progress(note);
  }
  results.push(await onTarget(openPgliteTarget, info, abort.signal));
  const cli = await measureCliStartup(CLI_RUNS, progress);
  if ('skipped' in cli) {
    info.skipped.push(cli.skipped);
    progress(cli.skipped);
  } else info.cli = cli;

  process.stdout.write(
    values.json ? `${JSON.stringify(toJson(results, info), null, 2)}\n` : `${toTable(results, info)}\n`,
  );
}

/** Opens a target, measures it, and closes it whatever happens, keeping the first error. */
async function onTarget(
  open: () => Promise<BenchTarget>,
  info: RunInfo,
  signal: AbortSignal,
): Promise<BackendResult> {
  const target = await open();
  let result: BackendResult | undefined;
  try {
    result = await measure(target, info, signal);
  } finally {
    const closing = target.close();
    // A failed close must not hide the error that ended the measurement.
    await (result ? closing : closing.catch(() => {}));
  }
  return result;
}

async function measure(target: BenchTarget, info: RunInfo, signal: AbortSignal): Promise<BackendResult> {
  const { backend, registry } = target;
  progress(`${backend}: seeding ${info.credentials} credentials`);
  const workload = await seedWorkload(registry, info.credentials);
  const baseline = await setUpBaseline(target, {
    tenantId: workload.tenantId,
    vaultId: workload.vaultId,
    rows: info.credentials,
  });
  const http = await startHttpReveal(registry, workload);
  const ops: Record<Operation, () => Promise<unknown>> = {
    reveal: workload.reveal,
    http_reveal: http.reveal,
    store: workload.store,
    baseline,
  };

  const cells = {} as BackendResult['cells'];
  let revealed = 0;
  let providerCalls = 0;
  for (const op of OPERATIONS) {
    cells[op] = {} as Record<Concurrency, CellResult>;
    for (const c of CONCURRENCIES) {
      await drive(ops[op], c, info.warmupSeconds * 1000, signal);
      const before = registry.keyRingStats().providerCalls;
      const cell = await drive(ops[op], c, info.secondsPerCell * 1000, signal);
      if (op === 'reveal') {
        revealed += cell.ops;
        providerCalls += registry.keyRingStats().providerCalls - before;
      }
      cells[op][c] = cell;
      progress(
        `${backend}: ${op} c${c}: ${cell.opsPerSec.toFixed(1)} ops/s, ` +
          `p50 ${cell.p50Ms.toFixed(2)} ms, p99 ${cell.p99Ms.toFixed(2)} ms`,
      );
    }
  }
  await http.close();
  const providerReveals = await revealPerProvider(target, info, signal);
  // Each in a tenant of its own; before the re-wrap, which is about the reveal workload's vault.
  const scheduler = await measureScheduler(
    target,
    {
      credentials: SCHEDULED_CREDENTIALS,
      due: DUE_CREDENTIALS,
      warmupMs: info.warmupSeconds * 1000,
      durationMs: info.secondsPerCell * 1000,
      signal,
    },
    progress,
  );
  const webhooks = await measureWebhookDelivery(target, { events: WEBHOOK_EVENTS, signal }, progress);
  // Last, since it moves every data key of the vault: one rotation, then one full re-wrap.
  const vaults = registry.forTenant(workload.tenantId).vaults;
  await vaults.rotateKey(workload.vaultId, { actor: 'bench' });
  const t0 = performance.now();
  const { rewrapped } = await vaults.rewrap(workload.vaultId, {}, { actor: 'bench' });
  const rewrapKeysPerSec = rewrapped / ((performance.now() - t0) / 1000);
  progress(`${backend}: re-wrapped ${rewrapped} data keys, ${rewrapKeysPerSec.toFixed(1)}/s`);
  return {
    providerReveals,
    scheduler,
    webhooks,
    rewrapKeysPerSec,
    backend,
    poolSize: target.poolSize,
    cells,
    rootKeyCallsPerReveal: revealed ? providerCalls / revealed : Number.NaN,
  };
}

/**
 * A warm reveal calls no root key provider, so with any provider it should run as fast as with the
 * local key: measured, not assumed. Each provider gets the same fresh workload on the same database,
 * `local` included, so the ratios compare like with like. Remote providers are stand-ins (Vault
 * Transit over loopback HTTP, AWS KMS at the SDK boundary); PKCS#11 is a real SoftHSM2 when installed.
 */
async function revealPerProvider(
  target: BenchTarget,
  info: RunInfo,
  signal: AbortSignal,
): Promise<Record<string, CellResult>> {
  const transit = await transitStandIn();
  const kms = fakeKms();
  const providers: Record<string, KeyProviderConfig> = {
    local: { kind: 'local', rootKey: { kind: 'base64', value: randomBytes(32).toString('base64') } },
    'vault-transit': {
      kind: 'vault-transit',
      addr: transit.addr,
      token: 'test-token',
      key: 'credreg',
      mount: 'transit',
    },
    'aws-kms': { kind: 'aws-kms', keyId: 'alias/credreg', tenantKeys: {} },
  };
  if (HAS_SOFTHSM)
    providers.pkcs11 = {
      kind: 'pkcs11',
      module: SOFTHSM_MODULE,
      ...softHsmToken(),
      keyLabel: `bench-${target.backend}`,
    };
  else info.skipped.push(`${target.backend}: pkcs11 reveal skipped, SoftHSM2 is not installed`);
  const cells: Record<string, CellResult> = {};
  try {
    for (const [name, config] of Object.entries(providers)) {
      // Shares the target's database: closed with it, not on its own.
      const registry = await target.assembleWith(config);
      const w = await seedWorkload(registry, 50, `bench-${name}`);
      await drive(w.reveal, 32, info.warmupSeconds * 1000, signal);
      cells[name] = await drive(w.reveal, 32, info.secondsPerCell * 1000, signal);
      progress(`${target.backend}: reveal via ${name} c32: ${cells[name].opsPerSec.toFixed(1)} ops/s`);
    }
  } finally {
    transit.server.close();
    kms.kms.restore();
  }
  return cells;
}

main().catch((err: unknown) => {
  const e = err as Error & { cause?: { message?: unknown } };
  const cause = e?.cause?.message ? ` (${String(e.cause.message)})` : '';
  progress(`bench failed: ${String(e?.message ?? err)}${cause}`.replace(/\s*\n\s*/g, ' '));
  process.exitCode = 1;
});
