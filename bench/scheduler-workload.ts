/**
 * Scheduler overhead: what a rotation tick costs when nothing is due (it must not grow with the
 * number of credentials that rotate some day), and what one due rotation costs with the `random`
 * rotator (no target to call, so this is the registry's own share: lease, pending version,
 * promotion, three access-log rows and an event).
 *
 * The idle tick is measured twice, with only the due-to-be credentials queued and again with the
 * full set, so the report shows whether it grew. Ticks are `rotateDue` calls one after another
 * (one instance's scheduler loop), claiming in batches of `credreg serve`'s size.
 */
import { SERVE_BATCHES } from '../src/cli/server-commands.js';
import { newId } from '../src/core/ids.js';
import type { RegistryHandle } from '../src/main.js';
import { type CellResult, drive } from './load.js';
import type { BenchTarget } from './targets.js';

/** `credreg serve`'s rotation batch. */
const BATCH = SERVE_BATCHES.rotation;
const ctx = { actor: 'bench' };

export interface SchedulerResult {
  credentials: number;
  due: number;
  batch: number;
  /** Idle ticks (c1) with only the `due` credentials queued, none of them due yet. */
  idleSmall: CellResult;
  /** Idle ticks (c1) with all `credentials` queued, none due. */
  idleFull: CellResult;
  /** Wall time to run every due rotation, tick after tick, divided by `due`. */
  msPerDueRotation: number;
  dueRotationsPerSec: number;
}

export async function measureScheduler(
  target: BenchTarget,
  options: { credentials: number; due: number; warmupMs: number; durationMs: number; signal: AbortSignal },
  progress: (message: string) => void,
): Promise<SchedulerResult> {
  const { registry, backend } = target;
  const { credentials, due } = options;
  const tenant = await registry.tenants.create({ name: 'bench-scheduler' });
  const t = registry.forTenant(tenant.id);
  const vault = await t.vaults.create({ name: 'scheduler' }, ctx);
  const rotation = { schedule: 'P30D', rotator: { type: 'random' } };
  // The ones that will come due: real credentials, stored through the API (their values open).
  const dueIds = await inParallel(due, 32, async (i) => {
    const c = await t.credentials.store(
      { vaultId: vault.id, name: `due-${i}`, type: 'api_key', value: `sk_bench_${i}`, rotation } as never,
      ctx,
    );
    return c.id;
  });

  const idleTick = idleTicker(registry);
  await drive(idleTick, 1, options.warmupMs, options.signal);
  const idleSmall = await drive(idleTick, 1, options.durationMs, options.signal);
  progress(`${backend}: scheduler idle tick, ${due} queued: ${idleSmall.opsPerSec.toFixed(1)} ticks/s`);

  progress(`${backend}: scheduler: seeding ${credentials - due} more scheduled credentials`);
  await cloneScheduled(target, { tenantId: tenant.id, template: dueIds[0]!, count: credentials - due });
  await drive(idleTick, 1, options.warmupMs, options.signal);
  const idleFull = await drive(idleTick, 1, options.durationMs, options.signal);
  progress(
    `${backend}: scheduler idle tick, ${credentials} queued: ${idleFull.opsPerSec.toFixed(1)} ticks/s`,
  );

  // Due by the database's clock, as if their time had come while the scheduler ran.
  await target.ownerTransaction((c) =>
    c.query(
      "UPDATE due_rotations SET due_at = now() - interval '1 second' WHERE tenant_id = $1 AND credential_id = ANY ($2::uuid[])",
      [tenant.id, dueIds],
    ),
  );
  const t0 = performance.now();
  let rotated = 0;
  let failed = 0;
  for (;;) {
    options.signal.throwIfAborted();
    const r = await registry.rotateDue({ limit: BATCH });
    rotated += r.rotated;
    failed += r.failed;
    if (r.claimed === 0) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (rotated !== due || failed !== 0) {
    throw new Error(`the scheduler rotated ${rotated} and failed ${failed} of ${due} due credentials`);
  }
  progress(`${backend}: scheduler ran ${due} due rotations in ${seconds.toFixed(2)} s`);
  return {
    credentials,
    due,
    batch: BATCH,
    idleSmall,
    idleFull,
    msPerDueRotation: (seconds * 1000) / due,
    dueRotationsPerSec: due / seconds,
  };
}

/** One scheduler tick that must find nothing due. */
function idleTicker(registry: RegistryHandle) {
  return async () => {
    const r = await registry.rotateDue({ limit: BATCH });
    if (r.claimed !== 0) throw new Error(`an idle scheduler tick claimed ${r.claimed} rotations`);
  };
}

/**
 * `count` copies of a stored credential with its rotation settings, each queued in due_rotations at
 * a time spread over the next 30 days, in three statements as the owner (setup, not measured).
 * The copies share the template's ciphertext, which is bound to the template's id and would not
 * open as theirs: they are never due here, so no one opens them. They are what a tick must not
 * read: rows in the queue, the credentials table and its versions.
 */
async function cloneScheduled(
  target: BenchTarget,
  { tenantId, template, count }: { tenantId: string; template: string; count: number },
): Promise<void> {
  const ids = Array.from({ length: count }, newId);
  const names = ids.map((_, i) => `scheduled-${i}`);
  const dayMs = 86_400_000;
  const dueAts = ids.map((_, i) => new Date(Date.now() + dayMs + (i / count) * 29 * dayMs).toISOString());
  await target.ownerTransaction(async (c) => {
    // Every column copied whatever the schema has grown to; only the identity and the due time change.
    await c.query(
      `INSERT INTO stored_credentials
       SELECT (jsonb_populate_record(NULL::stored_credentials,
                 to_jsonb(s) || jsonb_build_object('id', n.id, 'name', n.name, 'next_rotation_at', n.due_at))).*
         FROM stored_credentials s,
              unnest($3::uuid[], $4::text[], $5::timestamptz[]) AS n (id, name, due_at)
        WHERE s.tenant_id = $1 AND s.id = $2`,
      [tenantId, template, ids, names, dueAts],
    );
    await c.query(
      `INSERT INTO credential_versions
       SELECT (jsonb_populate_record(NULL::credential_versions,
                 to_jsonb(v) || jsonb_build_object('credential_id', n.id))).*
         FROM credential_versions v, unnest($3::uuid[]) AS n (id)
        WHERE v.tenant_id = $1 AND v.credential_id = $2`,
      [tenantId, template, ids],
    );
    await c.query(
      `INSERT INTO due_rotations (tenant_id, credential_id, due_at)
       SELECT $1, n.id, n.due_at FROM unnest($2::uuid[], $3::timestamptz[]) AS n (id, due_at)`,
      [tenantId, ids, dueAts],
    );
  });
  // As autovacuum would have by the time a production table held this many rows.
  await target.ownerTransaction((c) =>
    c.query('ANALYZE due_rotations, stored_credentials, credential_versions'),
  );
}

/** Runs `fn(0 … n-1)` with at most `concurrency` at once; resolves with the results in order. */
export async function inParallel<T>(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}
