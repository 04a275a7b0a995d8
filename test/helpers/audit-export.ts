/**
 * What `credreg audit export --format jsonl --proofs` writes, made from the library's calls behind
 * its API, and the tenant's public keys: for the tests that verify a whole log as a user would.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { TenantRegistry } from '../../src/core/registry.js';
import { AUDIT_EXPORT_FORMAT } from '../../src/crypto/audit-log-verifier.js';

/** The export's lines at a fresh checkpoint, and that checkpoint. */
export async function exportLines(tenant: TenantRegistry) {
  const cp = await tenant.audit.checkpoint();
  const lines = [JSON.stringify({ format: AUDIT_EXPORT_FORMAT, checkpoint: cp.checkpoint })];
  for (let from = 0; from < cp.treeSize; from += 1000) {
    const page = await tenant.audit.leaves({ treeSize: cp.treeSize, from, proofs: true });
    for (const leaf of page.items) lines.push(JSON.stringify(leaf));
  }
  return { cp, lines };
}

/** Every checkpoint key the tenant ever had. */
export async function publicKeysOf(tenant: TenantRegistry): Promise<KeyObject[]> {
  return (await tenant.audit.keys()).keys.map((k) => createPublicKey(k.publicKeyPem));
}

/**
 * The tenant's ($1) leaves as the database holds them, a row each (`leaf_index`, `log_id`): the
 * runs the sealer writes (migration 0014), unnested, for tests that read or tamper with them.
 */
export const LEAVES_SQL = `SELECT r.first_index + u.n - 1 AS leaf_index, u.log_id
  FROM audit_log_leaf_runs r CROSS JOIN LATERAL unnest(r.log_ids) WITH ORDINALITY AS u (log_id, n)
 WHERE r.tenant_id = $1`;
