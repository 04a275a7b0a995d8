/**
 * `npm run bench [-- --json] [-- --seconds N] [-- --audit-verify-rows N]`: audited reveal and store
 * throughput and latency on PostgreSQL (when DATABASE_URL is set) and PGlite, against a raw-SQL
 * baseline; then the rotation scheduler's overhead, webhook delivery throughput and the audit log's
 * sealing throughput on each, and the headline reveal cell again with the sealer running; then,
 * once, offline verification of an audit export of `--audit-verify-rows` leaves (Default: 1000000).
 *
 * stdout carries only the report (with --json, exactly one JSON array); progress goes to stderr.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { KeyProviderConfig } from '../src/config.js';
import { fakeKms } from '../test/helpers/kms-fake.js';
import { HAS_SOFTHSM, SOFTHSM_MODULE, softHsmToken } from '../test/helpers/softhsm.js';
import { transitStandIn } from '../test/helpers/transit-stand-in.js';
import { measureSealing } from './audit-seal-workload.js';
import { revealWithSealer, type SealerCellResult } from './audit-sealer-loop.js';
import { measureAuditVerify } from './audit-verify-workload.js';
import { setUpBaseline } from './baseline.js';
import { measureCliStartup } from './cli-startup.js';
import { batchSizesBetween, groupCommitSnapshot } from './group-commit.js';
import { startHttpReveal } from './http-workload.js';
import { type CellResult, drive } from './load.js';
import { seedMultiTenant } from './multi-tenant-workload.js';
import {
  type BackendResult,
  CONCURRENCIES,
  type Concurrency,
  HEADLINE,
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

/** The same size for the registry's pool and the baseline's, and equal to the headline concurrency. */
const POOL_SIZE = 32;
const CREDENTIALS = 200;
/** The reveal_multi cell's tenants, each with one vault of a few credentials, seeded this many at a time. */
const TENANTS = 1000;
const CREDENTIALS_PER_TENANT = 2;
const SEED_PARALLEL = 16;
const WARMUP_SECONDS = 1;
/** The scheduler cell: credentials that rotate by themselves, of which 1% come due. */
const SCHEDULED_CREDENTIALS = 10_000;
const DUE_CREDENTIALS = 100;
/** The webhook cell: test events enqueued, then delivered to a local receiver. */
const WEBHOOK_EVENTS = 1000;
/** The CLI cell: fresh `credreg` processes per command. */
const CLI_RUNS = 10;
/** The audit seal cell: access-log rows written as the owner, then sealed. */
const AUDIT_SEAL_ROWS = 20_000;
/** The sealer beside the reveal cell: `credreg serve`'s default tick (CREDREG_AUDIT_SEAL_INTERVAL_MS). */
const AUDIT_SEAL_INTERVAL_MS = 1000;
/**
 * Rounds of the sealer cell, each a cell without the sealer and one with it; the median is
 * reported. Seven, because a round's change alone moves by ±15% on a shared 2-core machine.
 */
const SEALER_ROUNDS = 7;

const progress = (message: string) => process.stderr.write(`${message}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '4' },
      'audit-verify-rows': { type: 'string', default: '1000000' },
    },
  });
  const secondsPerCell = Number(values.seconds);
  if (!(secondsPerCell > 0 && secondsPerCell <= 60)) {
    throw new Error(`--seconds must be a number of seconds between 0 and 60, got ${values.seconds}`);
  }
  const auditVerifyRows = Number(values['audit-verify-rows']);
  if (!(Number.isSafeInteger(auditVerifyRows) && auditVerifyRows >= 0 && auditVerifyRows <= 10_000_000)) {
    throw new Error(
      `--audit-verify-rows must be a whole number of leaves from 0 (skip) to 10000000, got ${values['audit-verify-rows']}`,
    );
  }
  // Ctrl-C stops the running cell, so the temporary database is still dropped.
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort(new Error('interrupted')));

  const info: RunInfo = {
    secondsPerCell,
    warmupSeconds: WARMUP_SECONDS,
    credentials: CREDENTIALS,
    tenants: TENANTS,
    credentialsPerTenant: CREDENTIALS_PER_TENANT,
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
  if (auditVerifyRows > 0) info.auditVerify = await measureAuditVerify(auditVerifyRows, progress);
  else info.skipped.push('audit verify: skipped, --audit-verify-rows 0');
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
  return closing(await open(), (target) => measure(target, info, signal));
}

/** Where the database's WAL is being written, in bytes: read as the owner, writing none. */
async function walPosition(target: BenchTarget): Promise<bigint> {
  const [r] = await target.ownerTransaction((c) =>
    c.query<{ b: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::text AS b"),
  );
  return BigInt(r!.b);
}

/** `fn(resource)`, then `resource.close()` whatever happened; a failed close does not hide `fn`'s error. */
async function closing<R extends { close(): Promise<void> }, T>(
  resource: R,
  fn: (resource: R) => Promise<T>,
): Promise<T> {
  let done = false;
  try {
    const result = await fn(resource);
    done = true;
    return result;
  } finally {
    const closed = resource.close();
    await (done ? closed : closed.catch(() => {}));
  }
}

/** One closed-loop run of an operation: load.ts's `drive`, here or in another process. */
type Driver = (concurrency: number, durationMs: number, signal: AbortSignal) => Promise<CellResult>;
const inProcess =
  (op: () => Promise<unknown>): Driver =>
  (concurrency, durationMs, signal) =>
    drive(op, concurrency, durationMs, signal);

async function measure(target: BenchTarget, info: RunInfo, signal: AbortSignal): Promise<BackendResult> {
  const { backend, registry } = target;
  progress(`${backend}: seeding ${info.credentials} credentials`);
  const workload = await seedWorkload(registry, info.credentials);
  const baseline = await setUpBaseline(target, {
    tenantId: workload.tenantId,
    vaultId: workload.vaultId,
    rows: info.credentials,
  });
  progress(`${backend}: seeding ${info.tenants} tenants of ${info.credentialsPerTenant} credentials each`);
  const multi = await seedMultiTenant(
    registry,
    { tenants: info.tenants, credentialsPerTenant: info.credentialsPerTenant, parallel: SEED_PARALLEL },
    (message) => progress(`${backend}: ${message}`),
  );

  // Before the reveal cells fill the access log: the passes timed seal only this cell's rows.
  const seal = await measureSealing(target, { rows: AUDIT_SEAL_ROWS, signal }, progress);

  const cells = {} as BackendResult['cells'];
  const batchSizes: BackendResult['batchSizes'] = { reveal: null, reveal_multi: null };
  let revealed = 0;
  let providerCalls = 0;
  let withSealer: SealerCellResult | undefined;
  await closing(await startHttpReveal(registry, workload), async (http) => {
    const drivers: Record<Operation, Driver> = {
      reveal: inProcess(workload.reveal),
      reveal_multi: inProcess(multi.reveal),
      http_reveal: http.drive,
      store: inProcess(workload.store),
      baseline: inProcess(baseline),
    };
    for (const op of OPERATIONS) {
      cells[op] = {} as Record<Concurrency, CellResult>;
      for (const c of CONCURRENCIES) {
        await drivers[op](c, info.warmupSeconds * 1000, signal);
        const before = {
          providerCalls: registry.keyRingStats().providerCalls,
          batches: groupCommitSnapshot(registry),
        };
        const cell = await drivers[op](c, info.secondsPerCell * 1000, signal);
        if (op === 'reveal') {
          revealed += cell.ops;
          providerCalls += registry.keyRingStats().providerCalls - before.providerCalls;
        }
        if ((op === 'reveal' || op === 'reveal_multi') && c === HEADLINE) {
          batchSizes[op] = batchSizesBetween(before.batches, groupCommitSnapshot(registry));
        }
        cells[op][c] = cell;
        progress(
          `${backend}: ${op} c${c}: ${cell.opsPerSec.toFixed(1)} ops/s, ` +
            `p50 ${cell.p50Ms.toFixed(2)} ms, p99 ${cell.p99Ms.toFixed(2)} ms`,
        );
        // On the same workload, in rounds of its own (audit-sealer-loop.ts).
        if (op === 'reveal' && c === HEADLINE) {
          withSealer = await revealWithSealer(
            registry,
            workload.reveal,
            {
              concurrency: HEADLINE,
              intervalMs: AUDIT_SEAL_INTERVAL_MS,
              warmupMs: info.warmupSeconds * 1000,
              durationMs: info.secondsPerCell * 1000,
              rounds: SEALER_ROUNDS,
              signal,
              wal: () => walPosition(target),
            },
            (message) => progress(`${backend}: ${message}`),
          );
          progress(
            `${backend}: reveal c${HEADLINE} with the sealer, median round: ${withSealer.median.sealing.opsPerSec.toFixed(1)} ops/s ` +
              `(${(withSealer.median.change * 100).toFixed(1)}%), ` +
              `seal lag p50 ${withSealer.lag.p50Ms.toFixed(0)} ms, max ${withSealer.lag.maxMs.toFixed(0)} ms`,
          );
        }
      }
    }
  });
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
  if (!withSealer) throw new Error('the reveal cell with the sealer did not run');
  return {
    providerReveals,
    scheduler,
    webhooks,
    audit: { seal, withSealer },
    rewrapKeysPerSec,
    backend,
    poolSize: target.poolSize,
    cells,
    batchSizes,
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
