/**
 * The signing secrets of rotators that sign their calls to the target (`Rotator.signsRequests`:
 * the `webhook` rotator, whose endpoint knows the registry by a Standard Webhooks signature).
 *
 * Glossary
 * - **signing secret**: a `whsec_…` secret the registry holds for one credential and signs each
 *   call of its rotator with. Never in the rotation settings (every reader of the credential sees
 *   those); stored only sealed, under a key of its own (`sealed-secret.ts`), exactly as a webhook
 *   subscription's secret is. Whoever holds it can ask the endpoint for a new value, so it is worth
 *   as much as the credential.
 * - **shown once**: the secret is in the answer of the call that made it (a store or update that
 *   names such a rotator, or a replacement) and nowhere else: not in the metadata, the access log,
 *   an event or a log line.
 * - **overlap**: a replaced secret is still signed with, beside its replacement, for
 *   `SIGNING_SECRET_OVERLAP_MS`, so the endpoint can move to the new one without a failed call;
 *   then it is dropped. A credential has at most two active secrets.
 */
import { z } from 'zod';
import type { Operation, Refusal, RegistryDeps } from './audited-operation.js';
import { credentialId, deleted, named, notFound } from './credential-rules.js';
import { RegistryError } from './errors.js';
import { credentialEventData } from './events.js';
import { newId } from './ids.js';
import type { ValueBinding, VaultKeyRecord } from './ports.js';
import { openSecret, ownKeyContext, ownKeyRecord, sealSecret } from './sealed-secret.js';
import type { Credential, CredentialRotation } from './types.js';
import { defineUseCase, type UseCaseEnv } from './use-case.js';

/** How long a replaced signing secret is still signed with beside the new one: 24 hours. */
export const SIGNING_SECRET_OVERLAP_MS = 24 * 3_600_000;

/** What a signing secret is sealed to: its tenant, its own row, and the credential it signs for. */
const signingSecretBinding = (tenantId: string, secretId: string, credentialId: string): ValueBinding => ({
  tenantId,
  vaultId: secretId,
  credentialId,
  version: 1,
});

/** Whether the rotator of this type signs its calls with a secret the registry holds. */
export const signsRequests = (deps: RegistryDeps, rotatorType: string | null | undefined): boolean =>
  typeof rotatorType === 'string' && deps.rotators?.get(rotatorType)?.signsRequests === true;

/** A key for a new signing secret, made in `prepare` (the provider call, outside any transaction). */
export interface PreparedSigningKey {
  id: string;
  record: VaultKeyRecord;
  generate: () => string;
}

/**
 * For a use-case's `prepare`: a key for a new signing secret when `needed` (Default: true). The
 * secret itself is made in the body, so a body run again makes a new one and only the committed
 * one is ever shown.
 */
export async function prepareSigningKey(
  { deps, tenantId }: UseCaseEnv,
  needed = true,
): Promise<PreparedSigningKey | undefined> {
  if (!needed) return undefined;
  const gateway = deps.webhooks;
  /* Precondition: the registry was given a webhook gateway, which makes secrets. */
  if (!gateway) {
    throw new RegistryError(
      'UNAVAILABLE',
      'webhooks are not configured on this server: no signing secret can be made',
    );
  }
  const id = newId();
  const { record } = await deps.keyRing.createVaultKey(ownKeyContext(tenantId, id));
  return { id, record, generate: () => gateway.generateSecret() };
}

/** For a use-case's `abandon`: drops the prepared key from the cache, should a retry have put it there. */
export function forgetSigningKey(prepared: PreparedSigningKey | undefined, { deps, tenantId }: UseCaseEnv) {
  if (prepared) deps.keyRing.forgetVault(tenantId, prepared.id);
}

const forget = ({ deps, tenantId }: UseCaseEnv, ids: readonly string[]) => {
  for (const id of ids) deps.keyRing.forgetVault(tenantId, id);
};

/**
 * Makes, seals and stores the credential's new current signing secret (there must be none: see
 * `settleSigningSecrets`, `replaceSigningSecret`); answers it, to be shown once.
 */
export async function issueSigningSecret(
  op: Operation,
  env: UseCaseEnv,
  credentialId: string,
  prepared: PreparedSigningKey | undefined,
): Promise<string> {
  /* Precondition: prepare made a key for the new signing secret. */
  if (!prepared) throw new RegistryError('INTERNAL', 'no key was prepared for the signing secret');
  const secret = prepared.generate();
  const binding = signingSecretBinding(env.tenantId, prepared.id, credentialId);
  await op.tx.rotationSecrets.insert({
    id: prepared.id,
    credentialId,
    wrappedKey: prepared.record.wrapped,
    secretCiphertext: sealSecret(env.deps, op, prepared.record, secret, binding),
    createdBy: env.ctx.actor,
    createdAt: env.deps.clock.now(),
  });
  return secret;
}

/**
 * In the body of a store or update that sets rotation settings (`after` null: removes them): fits
 * the credential's signing secrets to them. A rotator that signs gets a new secret, unless the
 * credential had that rotator and a secret already (other settings changed: the endpoint keeps its
 * secret); any other rotator, or none, drops them. Answers a new secret, to be shown once.
 */
export async function settleSigningSecrets(
  op: Operation,
  env: UseCaseEnv,
  change: {
    credentialId: string;
    before: string | null;
    after: string | null;
    prepared: PreparedSigningKey | undefined;
  },
): Promise<string | undefined> {
  const { credentialId: id, before, after } = change;
  if (signsRequests(env.deps, after) && before === after) {
    const kept = await op.tx.rotationSecrets.active(id, env.deps.clock.now());
    if (kept.length > 0) return undefined;
  }
  forget(env, await op.tx.rotationSecrets.deleteAll(id));
  return signsRequests(env.deps, after) ? issueSigningSecret(op, env, id, change.prepared) : undefined;
}

/** A credential as the call that made its signing secret answers it: with the secret, this once. */
export type CredentialWithSigningSecret = Credential & {
  rotation: (CredentialRotation & { signingSecret?: string }) | null;
};

/** The credential with `secret` in its `rotation`, when there is one to show. */
export const withSigningSecret = (c: Credential, secret: string | undefined): CredentialWithSigningSecret =>
  secret && c.rotation ? { ...c, rotation: { ...c.rotation, signingSecret: secret } } : c;

/** A replaced signing secret. */
export interface SigningSecretReplacement {
  /** The new `whsec_…` secret, current from now: shown this once. */
  signingSecret: string;
  /** Until when the secret it replaced is still signed with beside it; null when there was none. */
  previousRetiresAt: Date | null;
}

/**
 * Replaces the signing secret of a credential whose rotator signs its calls: a new current secret,
 * shown once; the one it replaces is still signed with for `SIGNING_SECRET_OVERLAP_MS`, then
 * dropped. One replaced before that is dropped at once, so at most two are ever active.
 */
export const replaceSigningSecret = defineUseCase({
  action: 'update',
  capability: 'credentials:write',
  input: z.strictObject(credentialId),
  logs: 'every attempt',
  names: named,
  prepare: (_, env) => prepareSigningKey(env),
  abandon: forgetSigningKey,
  async body(op, { id }, env): Promise<SigningSecretReplacement | Refusal> {
    const { deps } = env;
    const credential = await op.tx.credentials.find(id, { forUpdate: true });
    if (!credential) return op.refuse(notFound());
    op.note({ vaultId: credential.vaultId, version: credential.currentVersion });
    const outside = await op.outside(credential.vaultId, notFound);
    if (outside) return outside;
    if (credential.deletedAt) return op.refuse(deleted(credential));
    const rotator = credential.rotation?.rotator.type ?? null;
    if (!signsRequests(deps, rotator)) {
      return op.refuse(
        new RegistryError(
          'CONFLICT',
          `the credential's rotator (${rotator ?? 'none'}) does not sign its calls, so it has no signing secret`,
        ),
      );
    }
    const now = deps.clock.now();
    const retiresAt = new Date(now.getTime() + SIGNING_SECRET_OVERLAP_MS);
    const hadCurrent = (await op.tx.rotationSecrets.active(id, now)).some((s) => s.retiresAt === null);
    forget(env, await op.tx.rotationSecrets.retireCurrent(id, retiresAt));
    const signingSecret = await issueSigningSecret(op, env, id, env.prepared);
    await op.granted({
      reason: hadCurrent
        ? `${rotator} rotator: signing secret replaced; the previous one is signed with until ${retiresAt.toISOString()}`
        : `${rotator} rotator: signing secret made`,
    });
    await op.emit('credential.updated', credentialEventData(credential));
    return { signingSecret, previousRetiresAt: hadCurrent ? retiresAt : null };
  },
});

/**
 * The rotator's `signingSecrets`: a credential's active secrets, the current one first, read in
 * its tenant's transaction as the runtime role (dropping those retired by now) and opened outside
 * it, where the key ring may call the root key provider.
 *
 * @example webhookRotator({ http, signingSecrets: signingSecretsReader({ store, keyRing, envelope, clock }) })
 */
export function signingSecretsReader(deps: Pick<RegistryDeps, 'store' | 'keyRing' | 'envelope' | 'clock'>) {
  return async ({
    tenantId,
    credentialId,
  }: {
    tenantId: string;
    credentialId: string;
  }): Promise<string[]> => {
    const now = deps.clock.now();
    const { dropped, sealed } = await deps.store.withTenant(tenantId, async (tx) => ({
      dropped: await tx.rotationSecrets.dropRetired(now, credentialId),
      sealed: await tx.rotationSecrets.active(credentialId, now),
    }));
    for (const id of dropped) deps.keyRing.forgetVault(tenantId, id);
    return Promise.all(
      sealed.map((s) =>
        openSecret(
          deps,
          ownKeyRecord(tenantId, s),
          s.secretCiphertext,
          signingSecretBinding(tenantId, s.id, credentialId),
        ),
      ),
    );
  };
}

/** Drops, in one tenant, every signing secret whose overlap has ended (the maintenance pass). */
export async function dropRetiredSigningSecrets(
  deps: Pick<RegistryDeps, 'store' | 'keyRing' | 'clock'>,
  tenantId: string,
): Promise<number> {
  const dropped = await deps.store.withTenant(tenantId, (tx) =>
    tx.rotationSecrets.dropRetired(deps.clock.now()),
  );
  for (const id of dropped) deps.keyRing.forgetVault(tenantId, id);
  return dropped.length;
}
