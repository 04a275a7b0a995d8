import type { AuditSubject, RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { isUuid } from './ids.js';
import type { CredentialState } from './ports.js';
import { uuid } from './validation.js';

export const DAY_MS = 86_400_000;

/** The id field every use-case on one credential takes. */
export const credentialId = { id: uuid };

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
