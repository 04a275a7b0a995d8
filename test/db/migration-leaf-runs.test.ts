/**
 * Migration 0014 moves the tree's leaves from a row each into runs: every leaf keeps its index,
 * row and hash; trees with a key are checked once against their leaves; the old table is gone.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { LEAVES_SQL } from '../helpers/audit-export.js';
import { describeEachBackend, type TestDatabase } from '../helpers/backends.js';

const hashOf = (tenant: string, i: number) => createHash('sha256').update(`${tenant}/${i}`).digest();

describeEachBackend('migration 0014 (leaves in runs)', (backend) => {
  let t: TestDatabase;
  const [keyed, unkeyed] = [randomUUID(), randomUUID()];
  const sizes = { [keyed]: 2_345, [unkeyed]: 3 };
  const ids: Record<string, string[]> = {};
  const query = <R>(sql: string, params: unknown[] = []) => t.db.transaction((c) => c.query<R>(sql, params));

  beforeAll(async () => {
    t = await backend.open({ through: 13 });
    for (const [tenant, size] of Object.entries(sizes)) {
      ids[tenant] = Array.from({ length: size }, () => randomUUID());
      await query(
        `INSERT INTO audit_log_leaves (tenant_id, leaf_index, log_id, leaf_hash)
         SELECT $1, u.n - 1, u.id, substring($3::bytea FROM (u.n::int - 1) * 32 + 1 FOR 32)
           FROM unnest($2::uuid[]) WITH ORDINALITY AS u (id, n)`,
        [tenant, ids[tenant], Buffer.concat(Array.from({ length: size }, (_, i) => hashOf(tenant, i)))],
      );
    }
    // One tree with a key (sealed since 0013), one as 0013 found it (its mark only).
    await query(
      `INSERT INTO audit_log_state (tenant_id, tree_size, frontier, root_hash, sealed_below, sealed_xid, sealed_id)
       VALUES ($1, $2, '\\x', $3, '7', '7', $4), ($5, $6, '\\x', $3, '7', NULL, NULL)`,
      [keyed, sizes[keyed], Buffer.alloc(32), randomUUID(), unkeyed, sizes[unkeyed]],
    );
    await migrate(t.db, t.roles);
  });
  afterAll(() => t.close());

  it('keeps every leaf: its index, its row and its hash, in runs of at most 1,000', async () => {
    for (const [tenant, size] of Object.entries(sizes)) {
      const leaves = await query<{ leaf_index: string; log_id: string }>(
        `SELECT leaf_index::text, log_id FROM (${LEAVES_SQL}) AS f ORDER BY f.leaf_index`,
        [tenant],
      );
      expect(leaves.map((l) => Number(l.leaf_index))).toEqual(Array.from({ length: size }, (_, i) => i));
      expect(leaves.map((l) => String(l.log_id))).toEqual(ids[tenant]);
      const runs = await query<{ first_index: string; n: number; hashes: string }>(
        `SELECT first_index::text, cardinality(log_ids) AS n, encode(leaf_hashes, 'hex') AS hashes
           FROM audit_log_leaf_runs WHERE tenant_id = $1 ORDER BY first_index`,
        [tenant],
      );
      expect(runs.map((r) => [Number(r.first_index), r.n])).toEqual(
        Array.from({ length: Math.ceil(size / 1000) }, (_, k) => [k * 1000, Math.min(1000, size - k * 1000)]),
      );
      expect(runs.map((r) => r.hashes).join('')).toBe(
        Buffer.concat(Array.from({ length: size }, (_, i) => hashOf(tenant, i))).toString('hex'),
      );
    }
  });

  it('has a tree with a key check its reads against the leaves once; one without a key probes anyway', async () => {
    const states = await query<{ tenant_id: string; probe_below: string | null }>(
      'SELECT tenant_id, probe_below::text FROM audit_log_state',
    );
    const probe = new Map(states.map((s) => [String(s.tenant_id), s.probe_below]));
    expect(probe.get(keyed)).not.toBeNull();
    expect(probe.get(unkeyed)).toBeNull();
  });

  it('drops the table of a row a leaf, and keeps the runs append-only and confined to their tenant', async () => {
    expect(
      (await query<{ t: string | null }>(`SELECT to_regclass('audit_log_leaves')::text AS t`))[0]!.t,
    ).toBeNull();
    await expect(query('DELETE FROM audit_log_leaf_runs WHERE tenant_id = $1', [keyed])).rejects.toThrow(
      /append-only/,
    );
    const asRuntime = await t.db.transaction(
      (c) => c.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log_leaf_runs'),
      `SET LOCAL ROLE "${t.roles.runtime}"`,
    );
    expect(asRuntime[0]!.n).toBe(0);
  });
});
