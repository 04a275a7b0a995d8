import type { z } from 'zod';
import type { AuditSubject, Operation, Refusal, RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { isUuid } from './ids.js';
import type { CredentialState, RevealState, ValueBinding, VaultKeyRecord } from './ports.js';
import type { Credential, VersionStage } from './types.js';
import { resourceName, uuid } from './validation.js';

export const DAY_MS = 86_400_000;

/** The id field every use-case on one credential takes. */
export const credentialId = { id: uuid };

/**
 * The fields of a use-case on one credential that may also be named by its path: its `id`, or its
 * vault's name (`vault`) and its own (`name`), resolved in the use-case's transaction (`resolveRef`).
 */
export const credentialRef = {
  id: uuid.optional(),
  vault: resourceName.optional(),
  name: resourceName.optional(),
};

/** A credential as the library's callers name it: its id, or its path. */
export type CredentialRef = string | CredentialPath;
/** A credential's path: its vault's name and its own, each unique among live objects. */
export interface CredentialPath {
  vault: string;
  name: string;
}

/** The input fields a `CredentialRef` stands for. */
export const refInput = (ref: CredentialRef): { id: string } | CredentialPath =>
  typeof ref === 'string' ? { id: ref } : { vault: ref.vault, name: ref.name };

/** Checks an input made with `credentialRef` names its credential one way, and wholly. */
export const oneRef = <S extends z.ZodObject>(schema: S) =>
  schema.superRefine((raw, ctx) => {
    const r = raw as { id?: unknown; vault?: unknown; name?: unknown };
    const byPath = r.vault !== undefined || r.name !== undefined;
    if (r.id !== undefined && byPath)
      ctx.addIssue({ code: 'custom', path: ['id'], message: 'give an id or a vault and a name, not both' });
    else if (!byPath && r.id === undefined)
      ctx.addIssue({ code: 'custom', path: ['id'], message: 'is required (or a vault and a name)' });
    else if (byPath && (r.vault === undefined || r.name === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [r.vault === undefined ? 'vault' : 'name'],
        message: 'is required with a path',
      });
  });

/**
 * The id of the credential an input names. A path is looked up among live credentials of the
 * tenant (RLS and the query both say so); a missing one is refused exactly as a missing id is, and
 * a found one is named on the row, so scope is then checked by `op.outside` as for an id.
 */
export async function resolveRef(
  op: Operation,
  ref: { id?: string | undefined; vault?: string | undefined; name?: string | undefined },
): Promise<string | Refusal> {
  if (ref.id !== undefined) return ref.id;
  const found = await op.tx.credentials.findByPath(ref.vault!, ref.name!);
  if (!found) return op.refuse(notFound());
  op.note({ credentialId: found.id, vaultId: found.vaultId });
  return found.id;
}

export const notFound = () => new RegistryError('NOT_FOUND', 'credential not found');
export const vaultNotFound = () => new RegistryError('NOT_FOUND', 'vault not found');

/** The credential, version and reason a raw input names, for the row of an attempt however it ends. */
export const named = (raw: Readonly<Record<string, unknown>>): Partial<AuditSubject> => ({
  ...(isUuid(raw.id) ? { credentialId: raw.id } : {}),
  ...(isUuid(raw.vaultId) ? { vaultId: raw.vaultId } : {}),
  ...(typeof raw.reason === 'string' ? { reason: raw.reason.slice(0, 1000) } : {}),
});

/** Why a credential cannot be used now, or null. Rotation is the cure for expiry, so it may proceed. */
export function unusableNow(
  deps: RegistryDeps,
  credential: CredentialState,
  { forReveal }: { forReveal: boolean },
): RegistryError | null {
  if (credential.deletedAt) return deleted(credential);
  if (!credential.isActive)
    return new RegistryError('INACTIVE', 'the credential is deactivated; reactivate it first');
  if (forReveal && credential.expiresAt && credential.expiresAt <= deps.clock.now()) {
    return new RegistryError(
      'EXPIRED',
      `the credential expired at ${credential.expiresAt.toISOString()}; rotate it`,
    );
  }
  return null;
}

/** A new expiry must lie ahead (by the registry's clock, so this is checked in the use-case, not the schema). */
export function inThePast(deps: RegistryDeps, date: Date | null | undefined): RegistryError | null {
  if (!date || date > deps.clock.now()) return null;
  return new RegistryError('VALIDATION', 'invalid input: expiresAt must be in the future', {
    issues: [{ path: 'expiresAt', problem: 'must be in the future' }],
  });
}

export function deleted(credential: CredentialState): RegistryError {
  return new RegistryError(
    'DELETED',
    `the credential is deleted; it can be restored until ${credential.purgeAfter?.toISOString() ?? 'it is purged'}`,
  );
}

/** Seals a value's JSON for one version under a vault key of the operation; the plaintext is zeroed. */
export function sealValue(
  deps: RegistryDeps,
  op: Operation,
  key: Parameters<Operation['key']>[0],
  value: unknown,
  binding: ValueBinding,
): Uint8Array {
  const plaintext = Buffer.from(JSON.stringify(value), 'utf8');
  try {
    return deps.envelope.seal(plaintext, op.key(key), binding);
  } finally {
    plaintext.fill(0);
  }
}

/** Opens one version's ciphertext to its value (a CRYPTO error when it will not open); the plaintext is zeroed. */
export function openValue(
  deps: RegistryDeps,
  op: Operation,
  ciphertext: Uint8Array,
  vaultKeyVersion: number,
  binding: ValueBinding,
): unknown {
  const { tenantId, vaultId } = binding;
  const plaintext = Buffer.from(
    deps.envelope.open(ciphertext, op.key({ tenantId, vaultId, vaultKeyVersion }), binding),
  );
  try {
    return JSON.parse(plaintext.toString('utf8')) as unknown;
  } finally {
    plaintext.fill(0);
  }
}

/**
 * The version at each stage. `previous` is the one current before the current one; a credential
 * rotated before stages were recorded has none recorded, and its previous is the version before.
 */
export function stagesOf(c: RevealState): Record<VersionStage, number | null> {
  return {
    current: c.currentVersion,
    pending: c.pendingVersion,
    previous: c.previousVersion ?? (c.currentVersion > 1 ? c.currentVersion - 1 : null),
  };
}

/** Opens one stored version of a credential inside a use-case; null when it holds no value any more. */
export async function openVersion(
  op: Operation,
  deps: RegistryDeps,
  tenantId: string,
  c: Pick<Credential, 'id' | 'vaultId'>,
  version: number,
): Promise<{ value: unknown } | null> {
  const found = await op.tx.credentials.findSealed(c.id, version);
  if (!found?.version?.ciphertext) return null;
  const binding = { tenantId, vaultId: c.vaultId, credentialId: c.id, version };
  return { value: openValue(deps, op, found.version.ciphertext, found.version.vaultKeyVersion, binding) };
}

/**
 * A credential about to get a new version: locked, with its vault's retention and current key,
 * refused (row written) when missing, outside the caller's vault scope, deleted or deactivated.
 */
export async function lockForRotation(
  op: Operation,
  deps: RegistryDeps,
  id: string,
): Promise<{ credential: Credential; maxVersions: number; key: VaultKeyRecord } | Refusal> {
  const found = await op.tx.credentials.findForRotation(id);
  if (!found) return op.refuse(notFound());
  op.note({ vaultId: found.credential.vaultId });
  const outside = await op.outside(found.credential.vaultId, notFound);
  if (outside) return outside;
  const unusable = unusableNow(deps, found.credential, { forReveal: false });
  return unusable ? op.refuse(unusable) : found;
}
