/** Changes to one credential's state: update, (de)activate, soft delete, restore, purge. */
import { z } from 'zod';
import { type Operation, Refusal } from './audited-operation.js';
import { byId } from './credential-reads.js';
import {
  credentialId,
  DAY_MS,
  deleted,
  inThePast,
  named,
  notFound,
  openVersion,
} from './credential-rules.js';
import { RegistryError } from './errors.js';
import { credentialEventData, type EventType } from './events.js';
import { expiryAlerts, followExpiry } from './expiry-alerts.js';
import { checkRotation, nextDueAt, rotationSettings } from './rotation-settings.js';
import {
  forgetSigningKey,
  prepareSigningKey,
  settleSigningSecrets,
  signsRequests,
  withSigningSecret,
} from './rotation-signing-secrets.js';
import type { AccessAction, Credential } from './types.js';
import { defineUseCase, type UseCase, type UseCaseEnv } from './use-case.js';
import { metadata, rotationSchedule, timestamp } from './validation.js';

const updateInput = z
  .strictObject({
    ...credentialId,
    metadata: metadata.optional(),
    expiresAt: timestamp.nullable().optional(),
    rotationSchedule: rotationSchedule.nullable().optional(),
    rotation: rotationSettings.nullable().optional(),
    active: z.boolean().optional(),
    expiryAlerts: expiryAlerts.nullable().optional(),
  })
  .refine(
    ({ id: _, ...p }) => Object.values(p).some((v) => v !== undefined),
    'give at least one of metadata, expiresAt, rotationSchedule, rotation, active, expiryAlerts',
  );
const deleteInput = z.strictObject({
  ...credentialId,
  recoveryWindowDays: z.number().int().min(1).max(30).default(7),
});

/** The event each change records in the outbox when it succeeds (purge records none). */
const EVENT_OF: Partial<Record<AccessAction, EventType>> = {
  update: 'credential.updated',
  deactivate: 'credential.updated',
  reactivate: 'credential.updated',
  delete: 'credential.deleted',
  restore: 'credential.restored',
};

/**
 * A change to one credential: locks its row, refuses outside the caller's scope, runs `change`, and
 * logs the outcome (`granted` unless `change` refused).
 */
function credentialChange<S extends z.ZodType<{ id: string }>, P = undefined>(
  action: AccessAction,
  input: S,
  change: (
    op: Operation,
    credential: Credential,
    input: z.output<S>,
    env: UseCaseEnv & { prepared: P },
  ) => Promise<Credential | Refusal>,
  /** Slow calls made before the transaction (see `UseCase.prepare`). (Default: none) */
  outside?: Pick<UseCase<S, P, Credential>, 'prepare' | 'abandon'>,
) {
  return defineUseCase<S, P, Credential>({
    action,
    capability: 'credentials:write',
    input,
    logs: 'every attempt',
    names: named,
    ...outside,
    async body(op, i, env): Promise<Credential | Refusal> {
      const credential = await op.tx.credentials.find(i.id, { forUpdate: true });
      if (!credential) return op.refuse(notFound());
      op.note({ vaultId: credential.vaultId, version: credential.currentVersion });
      const outside = await op.outside(credential.vaultId, notFound);
      if (outside) return outside;
      const changed = await change(op, credential, i, env);
      if (changed instanceof Refusal) return changed;
      // Its expiry notices follow a new expiry, new alert windows, a delete and a restore.
      const result = await followExpiry(op, env.deps, credential, changed);
      await op.granted();
      const event = EVENT_OF[action];
      if (event) await op.emit(event, credentialEventData(result));
      return result;
    },
  });
}

/**
 * Changes metadata, expiry, rotation schedule (null clears the last two) and whether the credential
 * is active: all validated first, applied in one transaction.
 */
export const updateCredential = credentialChange(
  'update',
  updateInput,
  async (op, credential, p, { deps, tenantId, ctx, prepared }) => {
    const past = inThePast(deps, p.expiresAt);
    if (past) return op.refuse(past);
    if (credential.deletedAt) return op.refuse(deleted(credential));
    const { id, active, rotation, ...fields } = p;
    let settings: ReturnType<typeof checkRotation> | null | undefined = rotation === null ? null : undefined;
    try {
      if (rotation) settings = checkRotation(deps, credential.type, rotation, ctx);
    } catch (err) {
      return op.refuse(err as RegistryError);
    }
    if (settings !== undefined) {
      // New settings take effect from now: a new schedule is due one period ahead, none never; a
      // rotator with a clock of its own (a token's expires_at) reads it from the current value.
      const current =
        settings && deps.rotators?.get(settings.rotator.type)?.dueAt
          ? await openVersion(op, deps, tenantId, credential, credential.currentVersion)
          : null;
      await op.tx.credentials.setNextRotation(
        id,
        settings ? nextDueAt(deps, settings, current?.value, deps.clock.now()) : null,
      );
    }
    const updated = await op.tx.credentials.update(id, {
      ...fields,
      ...(active !== undefined ? { isActive: active } : {}),
      ...(settings !== undefined
        ? { rotation: settings, rotationState: 'idle' as const, rotationAttempts: 0, lastRotationError: null }
        : {}),
    });
    if (settings === undefined) return updated;
    const signingSecret = await settleSigningSecrets(
      op,
      { deps, tenantId, ctx },
      {
        credentialId: id,
        before: credential.rotation?.rotator.type ?? null,
        after: settings?.rotator.type ?? null,
        prepared,
      },
    );
    return withSigningSecret(updated, signingSecret);
  },
  // A rotator that signs its calls gets a signing secret, shown in this answer (see rotation-signing-secrets.ts).
  {
    prepare: (p, env) => prepareSigningKey(env, signsRequests(env.deps, p.rotation?.rotator.type)),
    abandon: forgetSigningKey,
  },
);

const setActive = (active: boolean) =>
  credentialChange(active ? 'reactivate' : 'deactivate', byId, async (op, credential, { id }) => {
    if (credential.deletedAt) return op.refuse(deleted(credential));
    return op.tx.credentials.update(id, { isActive: active });
  });
/** Refuses every reveal and rotation until reactivated. */
export const deactivateCredential = setActive(false);
export const reactivateCredential = setActive(true);

/** Soft delete: refused everywhere, restorable for `recoveryWindowDays` (Default: 7), then purged. */
export const deleteCredential = credentialChange(
  'delete',
  deleteInput,
  async (op, credential, d, { deps }) => {
    if (credential.deletedAt) return op.refuse(deleted(credential));
    const now = deps.clock.now();
    return op.tx.credentials.update(d.id, {
      deletedAt: now,
      purgeAfter: new Date(now.getTime() + d.recoveryWindowDays * DAY_MS),
    });
  },
);

/** Undoes a soft delete within the recovery window; refused if the name was reused meanwhile. */
export const restoreCredential = credentialChange(
  'restore',
  byId,
  async (op, credential, { id }, { deps }) => {
    if (!credential.deletedAt)
      return op.refuse(new RegistryError('CONFLICT', 'the credential is not deleted'));
    if (credential.purgeAfter && credential.purgeAfter <= deps.clock.now()) {
      return op.refuse(
        new RegistryError('NOT_FOUND', 'the recovery window has ended; the credential is being purged'),
      );
    }
    return op.tx.credentials.update(id, { deletedAt: null, purgeAfter: null });
  },
);

/** Irreversibly removes a soft-deleted credential and all its versions (and so its data keys). */
export const purgeCredential = credentialChange('purge', byId, async (op, credential, { id }) => {
  if (!credential.deletedAt) {
    return op.refuse(
      new RegistryError('CONFLICT', 'only a deleted credential can be purged; delete it first'),
    );
  }
  await op.tx.credentials.purge(id);
  return credential;
});
