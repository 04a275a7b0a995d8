/**
 * Rotation by a rotator: the settings on a credential, when it is due, and the run itself.
 *
 * A run goes through the rotator's four steps (see `rotator.ts`), each state change a use-case on
 * the runner with its own access-log row, and every call to the target made outside any
 * transaction:
 *
 * 1. `beginRotation` takes the credential's rotation lease (one run at a time, across callers and
 *    instances) and opens the current value and, when an earlier run was interrupted, the pending one;
 * 2. `create`, unless a pending version exists already: its value is stored at once as the pending
 *    version (`stagePending`), so a crash after it loses nothing and a rotator that changed the
 *    target in `create` (an OAuth refresh) is never asked twice;
 * 3. `set` and `test`, which are idempotent, so a resumed run just runs them again;
 * 4. `promoteRotation`: the tested pending version becomes current, the old current `previous`;
 * 5. `finish`, best effort: the new value is current whatever it answers.
 * A failure at 2–4 leaves the current version as it was, records the error (state `failed`, or
 * `needs_reauthorization` when the target refuses for good) and, on a schedule, retries later.
 */
import { z } from 'zod';
import { describeError, Refusal, type RegistryDeps } from './audited-operation.js';
import {
  type CredentialRef,
  credentialId,
  credentialRef,
  lockForRotation,
  named,
  notFound,
  oneRef,
  openVersion,
  refInput,
  resolveRef,
  sealValue,
} from './credential-rules.js';
import { revealCredential } from './credential-values.js';
import { RegistryError } from './errors.js';
import { credentialEventData } from './events.js';
import { observeRotation, outcomeOfRun, type RunFacts } from './rotation-observer.js';
import { earliest, nextRotationAt, type RotationSettings } from './rotation-settings.js';
import { RotationError, type Rotator } from './rotator.js';
import type { Credential, RequestContext } from './types.js';
import { defineUseCase, runUseCase } from './use-case.js';
import { parseValue } from './validation.js';

/** How long one run may hold a credential's rotation before another may take over. */
const LEASE_MS = 10 * 60_000;
/** Retries of a failing scheduled rotation: 1 min, doubling, at most a day apart. */
const RETRY_BASE_MS = 60_000;
const RETRY_MAX_MS = 86_400_000;

interface Begun {
  credential: Credential;
  settings: RotationSettings;
  current: unknown;
  pending: { version: number; value: unknown } | null;
}

const beginInput = oneRef(
  z.strictObject({
    ...credentialRef,
    /**
     * Only if the credential is due now (a refresh before a reveal): a reveal that read it due just
     * before another run promoted or failed (and set its retry) must not refresh it again.
     */
    onlyIfDue: z.boolean().optional(),
    /** A scheduled run: refused if the credential was rotated after this (see `rotateDue`). */
    notRotatedSince: z.date().optional(),
  }),
);

/** Step 1: takes the rotation lease and opens the current (and any pending) value. */
export const beginRotation = defineUseCase({
  action: 'rotate',
  capability: 'credentials:write',
  input: beginInput,
  logs: 'every attempt',
  names: named,
  async body(op, input, { deps, tenantId }): Promise<Begun | Refusal> {
    const { onlyIfDue, notRotatedSince } = input;
    const id = await resolveRef(op, input);
    if (typeof id !== 'string') return id;
    const found = await lockForRotation(op, deps, id);
    if (found instanceof Refusal) return found;
    const { credential } = found;
    const rotation = credential.rotation;
    if (!rotation) {
      return op.refuse(
        new RegistryError('VALIDATION', 'the credential has no rotator; give a value to rotate it', {
          issues: [{ path: 'value', problem: 'is required when no rotator is set' }],
        }),
      );
    }
    const now = deps.clock.now();
    if (rotation.runningUntil && rotation.runningUntil > now) {
      return op.refuse(
        new RegistryError('CONFLICT', 'a rotation of this credential is already running; retry later'),
      );
    }
    if (onlyIfDue && !(rotation.nextRotationAt && rotation.nextRotationAt <= now)) {
      return op.refuse(
        new RegistryError(
          'VERSION_MISMATCH',
          'the credential is not due any more: it was rotated or retried meanwhile',
        ),
      );
    }
    // A claim that waited past its lease behind the runs ahead of it in its batch was claimed again
    // by another instance meanwhile: the rotation that instance made was this due time's one.
    if (notRotatedSince && credential.lastRotatedAt && credential.lastRotatedAt > notRotatedSince) {
      return op.refuse(
        new RegistryError('CONFLICT', 'rotated since this scheduled run was claimed; nothing left to do'),
      );
    }
    const current = await openVersion(op, deps, tenantId, credential, credential.currentVersion);
    const pendingVersion = rotation.pendingVersion;
    const pendingValue = pendingVersion
      ? await openVersion(op, deps, tenantId, credential, pendingVersion)
      : null;
    await op.tx.credentials.update(id, {
      rotationState: 'rotating',
      rotationLeaseUntil: new Date(now.getTime() + LEASE_MS),
    });
    await op.granted({
      version: credential.currentVersion,
      reason: `rotator ${rotation.rotator.type}: ${pendingVersion ? `resuming version ${pendingVersion}` : 'started'}`,
    });
    return {
      credential,
      settings: { ...(rotation.schedule ? { schedule: rotation.schedule } : {}), rotator: rotation.rotator },
      current: current?.value ?? null,
      pending: pendingVersion && pendingValue ? { version: pendingVersion, value: pendingValue.value } : null,
    };
  },
});

/** Step 2's result, stored at once as the pending version. */
export const stagePending = defineUseCase({
  action: 'rotate',
  capability: 'credentials:write',
  input: z.strictObject({ ...credentialId, value: z.unknown(), rotator: z.string() }),
  logs: 'every attempt',
  names: named,
  async body(op, { id, value, rotator }, { deps, tenantId, ctx }): Promise<number | Refusal> {
    const found = await op.tx.credentials.findForRotation(id);
    if (!found) return op.refuse(notFound());
    const { credential, key } = found;
    op.note({ vaultId: credential.vaultId });
    let parsed: unknown;
    try {
      parsed = parseValue(credential.type, value);
    } catch (err) {
      return op.refuse(err as RegistryError);
    }
    const next = credential.currentVersion + 1;
    const blob = sealValue(deps, op, key, parsed, {
      tenantId,
      vaultId: credential.vaultId,
      credentialId: id,
      version: next,
    });
    await op.tx.versions.insert({
      credentialId: id,
      vaultId: credential.vaultId,
      version: next,
      vaultKeyVersion: key.vaultKeyVersion,
      ciphertext: blob,
      createdBy: ctx.actor,
    });
    await op.tx.credentials.update(id, { pendingVersion: next });
    await op.granted({ version: next, reason: `rotator ${rotator}: created version ${next} (pending)` });
    return next;
  },
});

/** Step 4: the tested pending version becomes current. */
export const promoteRotation = defineUseCase({
  action: 'rotate',
  capability: 'credentials:write',
  input: z.strictObject({
    ...credentialId,
    version: z.number().int(),
    /** When the new value is due by the rotator's own clock (`Rotator.dueAt`), if it has one. */
    ownDueAt: z.date().nullable().optional(),
  }),
  logs: 'every attempt',
  names: named,
  async body(
    op,
    { id, version, ownDueAt },
    { deps },
  ): Promise<{ credential: Credential; version: number } | Refusal> {
    const found = await op.tx.credentials.findForRotation(id);
    if (!found) return op.refuse(notFound());
    const { credential, maxVersions } = found;
    op.note({ vaultId: credential.vaultId, version });
    if (credential.rotation?.pendingVersion !== version) {
      return op.refuse(
        new RegistryError('CONFLICT', 'the pending version changed during the rotation; retry'),
      );
    }
    const now = deps.clock.now();
    // In this order, so each statement keeps pending > current > previous (the current one becomes previous).
    await op.tx.credentials.update(id, { pendingVersion: null });
    await op.tx.credentials.setCurrentVersion(id, version, undefined);
    // The next due time first, so the last update's row is the whole new state.
    const scheduled = nextRotationAt(credential.rotation.schedule, now);
    await op.tx.credentials.setNextRotation(id, earliest(scheduled, ownDueAt ?? null));
    const current = await op.tx.credentials.update(id, {
      rotationState: 'idle',
      rotationAttempts: 0,
      lastRotationError: null,
      rotationLeaseUntil: null,
      lastRotatedAt: now,
    });
    if (version > maxVersions) await op.tx.versions.destroyThrough(id, version - maxVersions);
    await op.granted({
      reason: `rotator ${credential.rotation.rotator.type}: version ${version} tested and current`,
    });
    await op.emit('credential.rotated', {
      ...credentialEventData(current),
      rotator: credential.rotation.rotator.type,
    });
    return { credential: current, version };
  },
});

/** A failed step: the current version stays, the error is recorded, a schedule retries later. */
export const failRotation = defineUseCase({
  action: 'rotate',
  capability: 'credentials:write',
  input: z.strictObject({
    ...credentialId,
    step: z.string(),
    code: z.string(),
    message: z.string(),
    retryable: z.boolean(),
  }),
  logs: 'refusals',
  names: named,
  async body(op, f, { deps }): Promise<RegistryError | Refusal> {
    const credential = await op.tx.credentials.find(f.id, { forUpdate: true });
    if (!credential?.rotation) return op.refuse(notFound());
    op.note({ vaultId: credential.vaultId });
    const now = deps.clock.now();
    const attempts = credential.rotation.attempts + 1;
    const error = new RegistryError(
      'ROTATION_FAILED',
      `the ${credential.rotation.rotator.type} rotator failed at ${f.step}: ${f.code}: ${f.message}`,
    );
    await op.tx.credentials.update(f.id, {
      rotationState: f.code === 'INVALID_GRANT' ? 'needs_reauthorization' : 'failed',
      rotationAttempts: attempts,
      lastRotationError: { code: f.code, message: f.message.slice(0, 500), at: now.toISOString() },
      rotationLeaseUntil: null,
    });
    // Retried with backoff while it may succeed; a refusal for good waits for a person.
    const retryAt = f.retryable
      ? new Date(now.getTime() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempts - 1, 20)))
      : null;
    // (Not an on-demand rotator's: a failed run on request does not make it scheduled.)
    const ownClock = deps.rotators?.get(credential.rotation.rotator.type)?.dueAt !== undefined;
    if (credential.rotation.schedule || ownClock || retryAt === null)
      await op.tx.credentials.setNextRotation(f.id, retryAt);
    await op.emit(
      f.code === 'INVALID_GRANT' ? 'credential.needs_reauthorization' : 'credential.rotation_failed',
      {
        ...credentialEventData(credential),
        rotator: credential.rotation.rotator.type,
        step: f.step,
        code: f.code,
        attempts,
      },
    );
    await op.refuse(error, {
      reason: `rotator ${credential.rotation.rotator.type}: ${f.step} failed: ${f.code}`,
    });
    return error;
  },
});

/** Who the registry is when it reveals a credential a rotator's settings name. */
const ROTATION_ACTOR = 'system:rotation';

/**
 * Runs a credential's rotator now (what `POST /v1/credentials/{id}/rotate` without a value and the
 * scheduler do). Resolves with the new current version; rejects with `ROTATION_FAILED` (the
 * failure recorded) or the refusal of a step. Either way `deps.rotationObserver` hears how it
 * ended (see rotation-observer.ts); `lagSeconds` is the scheduler's, for a run that was due.
 */
export async function runRotation(
  deps: RegistryDeps,
  tenantId: string,
  ref: CredentialRef,
  ctx: RequestContext,
  options: Parameters<typeof rotationSteps>[5] & { lagSeconds?: number } = {},
): Promise<{ credential: Credential; version: number }> {
  const { lagSeconds, ...stepOptions } = options;
  const facts: RunFacts = {};
  try {
    const promoted = await rotationSteps(facts, deps, tenantId, ref, ctx, stepOptions);
    observeRotation(deps, facts, 'rotated', lagSeconds);
    return promoted;
  } catch (err) {
    observeRotation(deps, facts, outcomeOfRun(facts, err), lagSeconds);
    throw err;
  }
}

/** The run itself; it notes in `facts` what its observation needs (the rotator, a step's failure). */
async function rotationSteps(
  facts: RunFacts,
  deps: RegistryDeps,
  tenantId: string,
  ref: CredentialRef,
  ctx: RequestContext,
  { onlyIfDue, notRotatedSince }: { onlyIfDue?: boolean; notRotatedSince?: Date } = {},
): Promise<{ credential: Credential; version: number }> {
  const begun = await runUseCase(
    deps,
    tenantId,
    beginRotation,
    {
      ...refInput(ref),
      ...(onlyIfDue ? { onlyIfDue } : {}),
      ...(notRotatedSince ? { notRotatedSince } : {}),
    },
    ctx,
  );
  // Named by path or not, every later step names the credential begun with by its id.
  const id = begun.credential.id;
  const rotator = deps.rotators?.get(begun.settings.rotator.type) as Rotator | undefined;
  const { type: rotatorType, ...settings } = begun.settings.rotator;
  facts.rotator = rotatorType;
  const fail = async (step: string, err: unknown): Promise<never> => {
    const e =
      err instanceof RotationError
        ? err
        : err instanceof RegistryError
          ? new RotationError(err.code, err.message, { retryable: err.code === 'UNAVAILABLE' })
          : new RotationError('ROTATOR_ERROR', 'the rotator failed unexpectedly', {
              retryable: true,
              cause: err,
            });
    facts.failedWith = e.code;
    if (!(err instanceof RotationError || err instanceof RegistryError)) {
      deps.logger.error({ tenantId, credentialId: id, step }, 'a rotator threw an unexpected error');
    }
    throw await runUseCase(
      deps,
      tenantId,
      failRotation,
      {
        id,
        step,
        code: e.code,
        message: e.message,
        retryable: e.options.retryable,
      },
      ctx,
    );
  };
  if (!rotator)
    return fail(
      'start',
      new RotationError('ROTATOR_UNAVAILABLE', `this service has no ${rotatorType} rotator`, {
        retryable: false,
      }),
    );
  const controller = new AbortController();
  const rotationCtx = {
    tenantId,
    credentialId: id,
    credentialType: begun.credential.type,
    current: begun.current,
    settings: rotator.settings.parse(settings),
    signal: controller.signal,
    related: async (relatedId: string) => {
      const r = await runUseCase(
        deps,
        tenantId,
        revealCredential,
        {
          id: relatedId,
          reason: `rotation of credential ${id} (asked by ${ctx.actor})`,
        },
        { actor: ROTATION_ACTOR, ...(ctx.requestId ? { requestId: ctx.requestId } : {}) },
      );
      return { type: r.type, value: r.value };
    },
  };
  let pending = begun.pending;
  if (!pending) {
    let value: unknown;
    try {
      value = await rotator.create(rotationCtx);
    } catch (err) {
      return fail('create', err);
    }
    try {
      const version = await runUseCase(
        deps,
        tenantId,
        stagePending,
        { id, value, rotator: rotatorType },
        ctx,
      );
      pending = { version, value };
    } catch (err) {
      return fail('create', err);
    }
  }
  for (const step of ['set', 'test'] as const) {
    try {
      await rotator[step](rotationCtx, pending.value);
    } catch (err) {
      return fail(step, err);
    }
  }
  let ownDueAt: Date | null = null;
  try {
    ownDueAt = rotator.dueAt?.(pending.value, rotationCtx.settings, deps.clock.now()) ?? null;
  } catch {
    // A value the rotator cannot date is due by its schedule alone.
  }
  const promoted = await runUseCase(
    deps,
    tenantId,
    promoteRotation,
    { id, version: pending.version, ownDueAt },
    ctx,
  );
  try {
    await rotator.finish(rotationCtx, pending.value);
  } catch (err) {
    // The new value is current and tested; an old one left active at the target is worth a log line.
    deps.logger.warn(
      { tenantId, credentialId: id, code: (err as { code?: string }).code },
      'rotation finish step failed',
    );
  }
  return promoted;
}

/** Runs in flight to refresh a credential before its reveals, per registry: one serves them all. */
const refreshing = new WeakMap<RegistryDeps, Map<string, Promise<void>>>();
/** How long a reveal waits for a refresh another instance is running. */
const REFRESH_WAIT_MS = 15_000;

/**
 * Refreshes a credential a reveal found due (`Rotator.refreshesOnReveal`), once for every
 * concurrent reveal of it: in this process they share one run; across instances the rotation
 * lease admits one, and a run starts only while the credential is still due, so a reveal that
 * read it due before another run promoted (or failed, and set its retry) starts none. Resolves when the credential is refreshed or the attempt ended
 * (a failure is recorded on the credential; the reveal then answers what is current).
 */
export function refreshBeforeReveal(deps: RegistryDeps, tenantId: string, id: string): Promise<void> {
  const runs = refreshing.get(deps) ?? new Map<string, Promise<void>>();
  refreshing.set(deps, runs);
  const key = `${tenantId}/${id}`;
  const running = runs.get(key);
  if (running) return running;
  const run = (async () => {
    try {
      await runRotation(deps, tenantId, id, REFRESHER, { onlyIfDue: true });
    } catch (err) {
      // Another instance holds the lease: wait for its run, so the reveal answers the new value.
      if (err instanceof RegistryError && err.code === 'CONFLICT') await leaseReleased(deps, tenantId, id);
      else if (!(err instanceof RegistryError && err.code === 'VERSION_MISMATCH')) throw err;
    }
  })().finally(() => runs.delete(key));
  runs.set(key, run);
  return run;
}

/** Resolves once no run holds the credential's rotation lease, or after REFRESH_WAIT_MS. */
async function leaseReleased(deps: RegistryDeps, tenantId: string, id: string): Promise<void> {
  const until = Date.now() + REFRESH_WAIT_MS;
  for (let wait = 20; Date.now() < until; wait = Math.min(wait * 2, 500)) {
    const c = await deps.store.withTenant(tenantId, (tx) => tx.credentials.find(id));
    const lease = c?.rotation?.runningUntil;
    if (!lease || lease <= deps.clock.now()) return;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** Who refreshes a credential before a reveal, in the access log (the reveal's own row names the caller). */
const REFRESHER: RequestContext = Object.freeze({ actor: 'system:refresh' });

/** Who the scheduler is in the access log. */
const SCHEDULER: RequestContext = Object.freeze({ actor: 'system:scheduler' });

export interface RotationRunReport {
  /** Due rotations this call claimed. */
  claimed: number;
  rotated: number;
  /** Failed or refused (recorded on the credential and in its access log). */
  failed: number;
}

/**
 * Claims up to `limit` due rotations across every tenant and runs each. Safe on several instances
 * at once: a claim is exclusive for the rotation's lease, so each due rotation runs once. A
 * credential that cannot rotate now (deleted, deactivated) comes due again after the lease.
 */
export async function rotateDue(
  deps: RegistryDeps,
  { limit = 20 }: { limit?: number } = {},
): Promise<RotationRunReport> {
  // Read before the claim, so any rotation after it reads as later (see `beginRotation`).
  const notRotatedSince = deps.clock.now();
  const claimed = await deps.store.withPlatform((tx) => tx.claimDueRotations(limit, LEASE_MS));
  // Lag by the database's clock up to the claim (the one due times are compared with), then by
  // ours up to each run's start: a late run behind others in this batch counts as late.
  const claimedHere = deps.clock.now().getTime();
  const report = { claimed: claimed.length, rotated: 0, failed: 0 };
  for (const { tenantId, credentialId, dueAt, claimedAt } of claimed) {
    const lagMs = claimedAt.getTime() - dueAt.getTime() + (deps.clock.now().getTime() - claimedHere);
    try {
      await runRotation(deps, tenantId, credentialId, SCHEDULER, {
        lagSeconds: lagMs / 1000,
        notRotatedSince,
      });
      report.rotated++;
    } catch (err) {
      report.failed++;
      deps.logger.warn(
        { tenantId, credentialId, error: describeError(err) },
        'a scheduled rotation did not complete',
      );
    }
  }
  return report;
}
