/**
 * The floor an audited reveal is compared with: the same primary-key select plus one audit-row
 * insert in one transaction, as raw SQL by the owner, with no crypto, no role switch and no RLS.
 */
import { randomBytes } from 'node:crypto';
import { newId } from '../src/core/ids.js';
import type { BenchTarget } from './targets.js';
import { pick } from './workload.js';

export async function setUpBaseline(
  target: BenchTarget,
  options: { tenantId: string; vaultId: string; rows: number },
): Promise<() => Promise<void>> {
  const ids = Array.from({ length: options.rows }, newId);
  await target.ownerTransaction(async (c) => {
    await c.query('CREATE TABLE bench_secrets (id uuid PRIMARY KEY, ciphertext bytea NOT NULL)');
    // LIKE copies the columns, defaults, CHECKs and indexes (so the insert maintains the same three
    // indexes), but not the foreign key to tenants, the append-only triggers or the policies.
    await c.query('CREATE TABLE bench_access_log (LIKE credential_access_log INCLUDING ALL)');
    // Rows as large as the registry's real ciphertexts, so both read the same bytes.
    const [size] = await c.query<{ n: number }>(
      'SELECT max(octet_length(ciphertext))::int AS n FROM credential_versions',
    );
    await c.query('INSERT INTO bench_secrets (id, ciphertext) SELECT unnest($1::uuid[]), $2', [
      ids,
      randomBytes(size?.n ?? 0),
    ]);
  });
  return () =>
    target.ownerTransaction(async (c) => {
      const id = pick(ids);
      const [row] = await c.query('SELECT ciphertext FROM bench_secrets WHERE id = $1', [id]);
      if (!row) throw new Error(`baseline row ${id} is missing`);
      // The registry's column list and parameter count, nulls included.
      await c.query(
        `INSERT INTO bench_access_log (tenant_id, id, credential_id, vault_id, action, outcome, actor, reason,
                                       source_ip, user_agent, request_id, version, error_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          options.tenantId,
          newId(),
          id,
          options.vaultId,
          'reveal',
          'granted',
          'bench',
          'bench',
          null,
          null,
          null,
          1,
          null,
        ],
      );
    });
}
