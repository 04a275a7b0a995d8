/** The use-cases that read or write a credential's value: store, reveal, rotate. */
import { z } from 'zod';
import { Refusal, type RegistryDeps } from './audited-operation.js';
import { refreshBeforeReveal } from './credential-rotation.js';
import {
  credentialRef,
  inThePast,
  lockForRotation,
  named,
  notFound,
  oneRef,
  openValue,
  resolveRef,
  sealValue,
  stagesOf,
  unusableNow,
  vaultNotFound,
} from './credential-rules.js';
import { RegistryError } from './errors.js';
import { credentialEventData } from './events.js';
import { expiryAlerts, followExpiry, scheduleExpiryNotices } from './expiry-alerts.js';
import { newId } from './ids.js';
import type { RevealState } from './ports.js';
import { checkRotation, nextDueAt, refreshesOnReveal, rotationSettings } from './rotation-settings.js';
import {
  forgetSigningKey,
  issueSigningSecret,
  prepareSigningKey,
  signsRequests,
  withSigningSecret,
} from './rotation-signing-secrets.js';
import { type Credential, type RevealedCredential, VERSION_STAGES } from './types.js';
import { defineUseCase } from './use-case.js';
import {
  credentialType,
  metadata,
  parseValue,
  resourceName,
  rotationSchedule,
  text,
  timestamp,
  uuid,
  versionNumber,
} from './validation.js';

const storeInput = z.strictObject({
  vaultId: uuid,
  name: resourceName,
  type: credentialType,
  value: z.unknown(),
  metadata: metadata.default({}),
  expiresAt: timestamp.optional(),
  rotationSchedule: rotationSchedule.optional(),
  rotation: rotationSettings.optional(),
  expiryAlerts: expiryAlerts.optional(),
});
const revealInput = oneRef(
  z.strictObject({
    ...credentialRef,
    reason: text(1000).pipe(z.string().trim().min(1, 'a reason is required')),
    version: versionNumber.optional(),
    stage: z.enum(VERSION_STAGES).optional(),
  }),
).refine((r) => r.version === undefined || r.stage === undefined, {
  message: 'give a version or a stage, not both',
  path: ['stage'],
});
const rotateInput = oneRef(
  z.strictObject({
    ...credentialRef,
    value: z.unknown(),
    expectedVersion: versionNumber.optional(),
    expiresAt: timestamp.nullable().optional(),
  }),
);

/** Stores a new credential as version 1. */
export const storeCredential = defineUseCase({
  action: 'store',
  capability: 'credentials:write',
  input: storeInput,
  logs: 'every attempt',
  names: named,
  vault: (s) => s.vaultId,
  missing: vaultNotFound,
  // A rotator that signs its calls gets its signing secret with the credential, shown in this answer.
  prepare: (s, env) => prepareSigningKey(env, signsRequests(env.deps, s.rotation?.rotator.type)),
  abandon: forgetSigningKey,
  async body(op, s, { deps, tenantId, ctx, prepared }) {
    const past = inThePast(deps, s.expiresAt);
    if (past) return op.refuse(past);
    let value: unknown;
    try {
      value = parseValue(s.type, s.value);
    } catch (err) {
      return op.refuse(err as RegistryError);
    }
    let rotation: ReturnType<typeof checkRotation> | undefined;
    try {
      rotation = s.rotation && checkRotation(deps, s.type, s.rotation, ctx);
    } catch (err) {
      return op.refuse(err as RegistryError);
    }
    const found = await op.tx.vaults.findWithCurrentKey(s.vaultId);
    if (!found) return op.refuse(vaultNotFound());
    const id = newId();
    const blob = sealValue(deps, op, found.key, value, {
      tenantId,
      vaultId: s.vaultId,
      credentialId: id,
      version: 1,
    });
    const credential = await op.tx.credentials.insert({
      id,
      vaultId: s.vaultId,
      name: s.name,
      type: s.type,
      metadata: s.metadata,
      expiresAt: s.expiresAt ?? null,
      rotationSchedule: s.rotationSchedule ?? null,
      expiryAlerts: s.expiryAlerts ?? null,
      createdBy: ctx.actor,
    });
    await op.tx.versions.insert({
      credentialId: id,
      vaultId: s.vaultId,
      version: 1,
      vaultKeyVersion: found.key.vaultKeyVersion,
      ciphertext: blob,
      createdBy: ctx.actor,
    });
    await scheduleExpiryNotices(op, deps, [credential]);
    await op.granted({ credentialId: id, version: 1 });
    await op.emit('credential.created', credentialEventData(credential));
    if (!rotation) return credential;
    await op.tx.credentials.setNextRotation(id, nextDueAt(deps, rotation, value, deps.clock.now()));
    const stored = await op.tx.credentials.update(id, { rotation });
    if (!prepared) return stored;
    return withSigningSecret(stored, await issueSigningSecret(op, { deps, tenantId, ctx }, id, prepared));
  },
});

/** A credential whose rotator refreshes it before a reveal, and which is due now. */
function dueForRefresh(deps: RegistryDeps, { rotator }: RevealState): boolean {
  if (!rotator?.dueAt || rotator.dueAt > deps.clock.now()) return false;
  return rotator.state !== 'needs_reauthorization' && refreshesOnReveal(deps, rotator.type);
}

/**
 * Returns a credential's value. The access-log row is written in the same transaction that reads
 * the ciphertext, and the value is returned only after that transaction commits.
 */
export const revealCredential = defineUseCase({
  action: 'reveal',
  capability: 'credentials:reveal',
  input: revealInput,
  logs: 'every attempt',
  names: named,
  // The hot path: reads, then one row. Concurrent reveals of a tenant commit their rows together.
  groupCommit: true,
  async body(op, r, { deps, tenantId }): Promise<RevealedCredential | Refusal> {
    const id = await resolveRef(op, r);
    if (typeof id !== 'string') return id;
    let found = await op.tx.credentials.findSealed(id, r.version);
    if (!found) return op.refuse(notFound());
    const { credential } = found;
    op.note({ vaultId: credential.vaultId, version: r.version ?? credential.currentVersion });
    const outside = await op.outside(credential.vaultId, notFound);
    if (outside) return outside;
    const unusable = unusableNow(deps, credential, { forReveal: true });
    if (unusable) return op.refuse(unusable);
    if (r.stage && r.stage !== 'current') {
      const staged = stagesOf(credential)[r.stage];
      if (!staged)
        return op.refuse(new RegistryError('NOT_FOUND', `the credential has no ${r.stage} version`));
      op.note({ version: staged });
      found = await op.tx.credentials.findSealed(id, staged);
    } else if (r.version === undefined && dueForRefresh(deps, credential)) {
      op.outsideFirst('refresh', () => refreshBeforeReveal(deps, tenantId, id));
    }
    const version = found?.version;
    if (!version) return op.refuse(new RegistryError('NOT_FOUND', `version ${r.version} does not exist`));
    if (!version.ciphertext) {
      return op.refuse(
        new RegistryError('NOT_FOUND', `version ${version.version} was destroyed by the retention policy`),
      );
    }
    let value: unknown;
    try {
      value = openValue(deps, op, version.ciphertext, version.vaultKeyVersion, {
        tenantId,
        vaultId: credential.vaultId,
        credentialId: id,
        version: version.version,
      });
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'CRYPTO') return op.refuse(err);
      throw err;
    }
    await op.granted();
    return {
      credentialId: id,
      name: credential.name,
      type: credential.type,
      version: version.version,
      value,
      expiresAt: credential.expiresAt,
    };
  },
});

/**
 * Adds a new version with a new value and makes it current. Concurrent rotations are serialized
 * on the credential's row, so each gets the next version number and none is lost.
 */
export const rotateCredential = defineUseCase({
  action: 'rotate',
  capability: 'credentials:write',
  input: rotateInput,
  logs: 'every attempt',
  names: named,
  async body(op, r, { deps, tenantId, ctx }): Promise<{ credential: Credential; version: number } | Refusal> {
    const past = inThePast(deps, r.expiresAt);
    if (past) return op.refuse(past);
    const id = await resolveRef(op, r);
    if (typeof id !== 'string') return id;
    const found = await lockForRotation(op, deps, id);
    if (found instanceof Refusal) return found;
    const { credential } = found;
    if (credential.rotation?.pendingVersion) {
      return op.refuse(
        new RegistryError(
          'CONFLICT',
          `version ${credential.rotation.pendingVersion} is pending from an interrupted rotation; run the rotator to finish it`,
        ),
      );
    }
    if (r.expectedVersion !== undefined && r.expectedVersion !== credential.currentVersion) {
      return op.refuse(
        new RegistryError(
          'VERSION_MISMATCH',
          `expected version ${r.expectedVersion}, but the current version is ${credential.currentVersion}`,
        ),
        { version: credential.currentVersion },
      );
    }
    let value: unknown;
    try {
      value = parseValue(credential.type, r.value);
    } catch (err) {
      return op.refuse(err as RegistryError);
    }
    const next = credential.currentVersion + 1;
    const blob = sealValue(deps, op, found.key, value, {
      tenantId,
      vaultId: credential.vaultId,
      credentialId: id,
      version: next,
    });
    await op.tx.versions.insert({
      credentialId: id,
      vaultId: credential.vaultId,
      version: next,
      vaultKeyVersion: found.key.vaultKeyVersion,
      ciphertext: blob,
      createdBy: ctx.actor,
    });
    let current = await op.tx.credentials.setCurrentVersion(id, next, r.expiresAt);
    if (credential.rotation) {
      // A value given by hand is a fresh start (a user who authorized again after invalid_grant):
      // due by its schedule or its rotator's clock from now, with no failure left on it.
      await op.tx.credentials.setNextRotation(
        id,
        nextDueAt(deps, credential.rotation, value, deps.clock.now()),
      );
      current = await op.tx.credentials.update(id, {
        rotationState: 'idle',
        rotationAttempts: 0,
        lastRotationError: null,
      });
    }
    // A new expiry replaces the credential's pending expiry notices.
    const updated = await followExpiry(op, deps, credential, current);
    if (next > found.maxVersions) await op.tx.versions.destroyThrough(id, next - found.maxVersions);
    await op.granted({ version: next });
    await op.emit('credential.rotated', credentialEventData(updated));
    return { credential: updated, version: next };
  },
});
