/**
 * A secret the registry holds for one row under a key of that row's own: a webhook subscription's
 * `whsec_…` secret, a credential's signing secret for the `webhook` rotator.
 *
 * The row's key is made and wrapped by the root key provider exactly as a vault key is
 * (`keyRing.createVaultKey`, outside any transaction); its key context names the row's id where a
 * vault key's names the vault (ids are UUIDv7s and never collide, and the wrapping's AAD binds the
 * id). The secret is sealed under that key with the envelope, bound to the tenant and the row. The
 * row holds only the wrapped key and the sealed secret, so deleting it destroys both, and a root
 * rotation re-wraps its key as it re-wraps vault keys.
 */
import type { Operation, RegistryDeps } from './audited-operation.js';
import type { KeyContext, ValueBinding, VaultKeyRecord, WrappedKey } from './ports.js';

/**
 * The key context of a row's own key: the row's id where a vault key's names the vault.
 *
 * @example ownKeyContext(tenantId, subscriptionId) // { tenantId, vaultId: subscriptionId, vaultKeyVersion: 1 }
 */
export const ownKeyContext = (tenantId: string, ownerId: string): KeyContext => ({
  tenantId,
  vaultId: ownerId,
  vaultKeyVersion: 1,
});

/** A row's wrapped own key, as the key ring unwraps it. */
export const ownKeyRecord = (
  tenantId: string,
  row: { id: string; wrappedKey: WrappedKey },
): VaultKeyRecord => ({ ...ownKeyContext(tenantId, row.id), wrapped: row.wrappedKey });

/**
 * Seals `secret` under the row's key (`record`, pinned by the operation: a miss unwraps it and runs
 * the body again). The plaintext copy is zeroed.
 *
 * @example const sealed = sealSecret(deps, op, record, secret, { tenantId, vaultId: id, credentialId: id, version: 1 });
 */
export function sealSecret(
  deps: Pick<RegistryDeps, 'envelope'>,
  op: Operation,
  record: VaultKeyRecord,
  secret: string,
  binding: ValueBinding,
): Uint8Array {
  const plaintext = Buffer.from(secret, 'utf8');
  try {
    return deps.envelope.seal(plaintext, op.key(record), binding);
  } finally {
    plaintext.fill(0);
  }
}

/**
 * Opens a sealed secret, outside any transaction: the row's key comes from the key ring's cache,
 * or is unwrapped by the root key provider on a miss. The key copy and the plaintext are zeroed.
 *
 * @example const secret = await openSecret(deps, ownKeyRecord(tenantId, row), row.secretCiphertext, binding);
 */
export async function openSecret(
  deps: Pick<RegistryDeps, 'keyRing' | 'envelope'>,
  record: VaultKeyRecord,
  ciphertext: Uint8Array,
  binding: ValueBinding,
): Promise<string> {
  const shared = deps.keyRing.cached(record);
  // A private copy either way, zeroed below: the cache may zero its own at any await.
  const key = shared
    ? { ...shared, material: Buffer.from(shared.material) }
    : await deps.keyRing.unwrap(record);
  try {
    const plaintext = Buffer.from(deps.envelope.open(ciphertext, key, binding));
    const secret = plaintext.toString('utf8');
    plaintext.fill(0);
    return secret;
  } finally {
    (key.material as Buffer).fill(0);
  }
}
