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
