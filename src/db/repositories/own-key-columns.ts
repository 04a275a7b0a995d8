import type { WrappedKey } from '../../core/ports.js';
import { bytes } from '../rows.js';
import type { SqlClient } from '../sql.js';

/**
 * The tables whose rows hold a key of their own, wrapped by the root key as a vault key is, in the
 * columns `wrapped_key`, `provider`, `provider_key_id` (see `core/sealed-secret.ts`).
 */
export type OwnKeyTable = 'webhook_subscriptions' | 'rotation_endpoint_secrets' | 'audit_signing_keys';

type Row = Record<string, unknown>;

/** A row's own wrapped key. */
export const wrappedKeyOf = (r: Row): WrappedKey => ({
  provider: String(r.provider),
  providerKeyId: String(r.provider_key_id),
  ciphertext: bytes(r.wrapped_key)!,
});

/** The columns `wrappedKeyOf` reads. */
export const OWN_KEY_COLUMNS = 'wrapped_key, provider, provider_key_id';

/** A wrapped key as the parameters of `OWN_KEY_COLUMNS`, in that order. */
export const ownKeyParams = (k: WrappedKey): [Buffer, string, string] => [
  Buffer.from(k.ciphertext),
  k.provider,
  k.providerKeyId,
];

/** Every row's id and wrapped key, by id after the one given: a keyset page, for a root rotation. */
export async function listOwnKeys(
  c: SqlClient,
  table: OwnKeyTable,
  tenantId: string,
  limit: number,
  afterId?: string,
): Promise<Array<{ id: string; wrappedKey: WrappedKey }>> {
  const rows = await c.query(
    `SELECT id, ${OWN_KEY_COLUMNS} FROM ${table}
      WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid) ORDER BY id LIMIT $3`,
    [tenantId, afterId ?? null, limit],
  );
  return rows.map((r) => ({ id: String(r.id), wrappedKey: wrappedKeyOf(r) }));
}

/**
 * Replaces a row's key wrapping if it is still the one read (compare-and-set on the wrapped bytes,
 * not the key id: a Transit key keeps its id across versions).
 */
export async function replaceOwnKeyWrapping(
  c: SqlClient,
  table: OwnKeyTable,
  tenantId: string,
  id: string,
  from: WrappedKey,
  to: WrappedKey,
): Promise<boolean> {
  const rows = await c.query(
    `UPDATE ${table} SET wrapped_key = $3, provider = $4, provider_key_id = $5
      WHERE tenant_id = $1 AND id = $2 AND wrapped_key = $6 RETURNING id`,
    [tenantId, id, ...ownKeyParams(to), Buffer.from(from.ciphertext)],
  );
  return rows.length > 0;
}
