/**
 * Where the sealer stands in the access log (migration 0013): a pass reads only rows it has not
 * read, however long another transaction stays open, and the open transaction's own rows are
 * sealed once it commits; a tree sealed before the migration goes on from its mark; a position
 * this cluster cannot have made (a restore into another cluster) makes the sealer read from the
 * start, sealing nothing twice. Every time, the whole log must pass the offline verifier.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/core/ids.js';
import type { Logger } from '../../src/core/ports.js';
import type { TenantRegistry } from '../../src/core/registry.js';
import { verifyAuditExport } from '../../src/crypto/audit-log-verifier.js';
import type { SqlClient, SqlDatabase } from '../../src/db/sql.js';
import { assemble, type RegistryHandle } from '../../src/main.js';
import { exportLines, publicKeysOf } from '../helpers/audit-export.js';
import { BACKENDS, describeEachBackend, type TestDatabase, testConfig } from '../helpers/backends.js';
import { wrapTransactions } from '../helpers/wrap-db.js';

const alice = { actor: 'alice' };

/**
 * The database, counting the access-log rows the sealer reads: those a page of its walk answers
 * (they name `seal_xid`), and those a statement that appends them as leaves hashes (it answers
 * their hashes, concatenated, in hex).
 */
function countingSealerReads(db: SqlDatabase, onRows: (n: number) => void): SqlDatabase {
  const counting = (c: SqlClient): SqlClient => ({
    async query<R>(text: string, params?: unknown[]) {
      const rows = await c.query<R>(text, params);
      if (text.includes('seal_xid::text AS seal_xid')) onRows(rows.length);
      if (text.includes('INSERT INTO audit_log_leaf_runs') && text.includes('AS hashes')) {
        // Hex text: two digits a byte, 32 bytes a row.
        const hashes = (rows[0] as { hashes: string | null } | undefined)?.hashes;
        onRows((hashes?.length ?? 0) / 64);
      }
      return rows;
    },
  });
  return wrapTransactions(db, counting);
}

interface Setup {
  base: TestDatabase;
  registry: RegistryHandle;
  tenant: TenantRegistry;
  tenantId: string;
  vaultId: string;
  credentialId: string;
  warnings: string[];
  /** Access-log rows the sealer has read so far. */
  reads: () => number;
}

async function setUp(open: () => Promise<TestDatabase>): Promise<Setup> {
  const base = await open();
  let reads = 0;
  const warnings: string[] = [];
  const logger: Logger = {
    info() {},
    warn: (_o, message) => void warnings.push(String(message)),
    error() {},
  };
  const db = countingSealerReads(base.db, (n) => {
    reads += n;
  });
  const registry = await assemble(db, { config: testConfig(base.prefix), logger });
  const tenantId = (await registry.tenants.create({ name: `t${randomBytes(4).toString('hex')}` })).id;
  const tenant = registry.forTenant(tenantId);
  const { id: vaultId } = await tenant.vaults.create({ name: 'v' }, alice);
  const { id: credentialId } = await tenant.credentials.store(
    { vaultId, name: 'k', type: 'api_key', value: 'x' },
    alice,
  );
  return { base, registry, tenant, tenantId, vaultId, credentialId, warnings, reads: () => reads };
}

const reveal = (s: Setup, n: number) =>
  (async () => {
    for (let i = 0; i < n; i++)
      await s.tenant.credentials.reveal(s.credentialId, { ...alice, reason: `r${i}` });
  })();

/** Passes until one seals nothing; the rows sealed. */
async function sealAll(s: Setup, batchSize = 10): Promise<number> {
  let sealed = 0;
  for (;;) {
    const report = await s.registry.sealAuditLogs({ batchSize });
    sealed += report.sealed;
    if (report.sealed === 0) return sealed;
  }
}

/** The whole log verifies, and its leaves are the tenant's rows, each exactly once. */
async function expectWholeOnce(s: Setup) {
  const { cp, lines } = await exportLines(s.tenant);
  const result = await verifyAuditExport({
    lines: () => lines,
    checkpoint: cp.checkpoint,
    publicKeys: await publicKeysOf(s.tenant),
  });
  expect(result).toMatchObject({ ok: true });
  const leafIds = lines.slice(1).map((line) => (JSON.parse(line) as { entry: { id: string } }).entry.id);
  const rowIds = await s.base.db.transaction((c) =>
    c.query<{ id: string }>('SELECT id FROM credential_access_log WHERE tenant_id = $1', [s.tenantId]),
  );
  expect(new Set(leafIds).size).toBe(leafIds.length);
  expect([...leafIds].sort()).toEqual(rowIds.map((r) => String(r.id)).sort());
}

/** The transaction id the database will give next. */
const nextXid = async (s: Setup) => {
  const [r] = await s.base.db.transaction((c) =>
    c.query<{ x: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x'),
  );
  return BigInt(String(r!.x));
};

/** One column of the tree's position as text, read as the database owner. */
const stateColumn = async (s: Setup, column: 'sealed_xid' | 'probe_below') => {
  const [r] = await s.base.db.transaction((c) =>
    c.query<{ v: string | null }>(`SELECT ${column}::text AS v FROM audit_log_state WHERE tenant_id = $1`, [
      s.tenantId,
    ]),
  );
  return r!.v;
};

/** The tree's position, set by hand as the database owner. */
const setPosition = (s: Setup, sql: string) =>
  s.base.db.transaction((c) =>
    c.query(`UPDATE audit_log_state SET ${sql} WHERE tenant_id = $1`, [s.tenantId]),
  );

describeEachBackend('the sealer’s position in the log', (backend) => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp(() => backend.open());
  });
  afterAll(() => s.base.close());

  it('the database hashes a row as the offline verifier does, whatever its text holds', async () => {
    const controls = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join('');
    const odd: [string, string, string, string] = [
      `${controls}"\\/\u007f`,
      'é ü ß 漢字 \u00a0\u2028\u2029\ufeff 😀 e\u0301',
      '\\"\\\\"\\u0041 {"json":true}',
      // What format() would read as a template, were its arguments ever read so.
      `%s %1$s %% ${'x'.repeat(500)}`,
    ];
    const rows = [
      [odd[0], odd[1], odd[2], odd[0], odd[2], odd[1], 7],
      [odd[1], odd[0], null, null, odd[3], null, null],
      ['plain', null, odd[0].slice(0, 45), odd[1], null, odd[0], 0],
    ];
    await s.base.db.transaction(async (c) => {
      for (const [actor, reason, sourceIp, requestId, userAgent, errorCode, version] of rows) {
        await c.query(
          `INSERT INTO credential_access_log (tenant_id, id, credential_id, vault_id, action, outcome, actor, reason,
                                              source_ip, user_agent, request_id, client_request_id, version, error_code)
           VALUES ($1, $2, $3, $4, 'reveal', 'granted', $5, $6, $7, $8, $9, $10, $11, $12)`,
          [
            s.tenantId,
            newId(),
            version === null ? null : s.credentialId,
            version === null ? null : s.vaultId,
            actor,
            reason,
            sourceIp,
            userAgent,
            requestId,
            requestId,
            version,
            errorCode,
          ],
        );
      }
    });
    // And an instant with no text form, written by hand.
    await s.base.db.transaction((c) =>
      c.query(
        `INSERT INTO credential_access_log (tenant_id, id, action, outcome, actor, occurred_at)
         VALUES ($1, $2, 'reveal', 'granted', 'owner', 'infinity')`,
        [s.tenantId, newId()],
      ),
    );
    await sealAll(s);
    // The export carries each row as read field by field; the verifier hashes it in Node.
    await expectWholeOnce(s);
  });

  it('a tree sealed before the position was kept goes on from its mark, sealing nothing twice', async () => {
    await reveal(s, 12);
    expect(await sealAll(s)).toBe(12);
    // As migration 0013 leaves a tree it finds: its mark, no key, nothing pending.
    await setPosition(s, "sealed_xid = NULL, sealed_id = NULL, pending = '{}'");
    await reveal(s, 5);
    expect(await sealAll(s)).toBe(5);
    await expectWholeOnce(s);
  });

  it('a tree with no key goes on from its mark even when a batch stops before rows already sealed', async () => {
    // A row never sealed with a key below every leaf's (a transaction id from long ago), then the
    // tree as migration 0013 finds it with its mark at 0: the first batches stop at that row.
    await insertRow(s, { sealXid: '1' });
    await setPosition(s, "sealed_xid = NULL, sealed_id = NULL, pending = '{}', sealed_below = '0'");
    await reveal(s, 2);
    expect(await sealAll(s, 1)).toBe(3);
    await expectWholeOnce(s);
  });

  it('a position past the transaction counter (a restore into another cluster) reads from the start', async () => {
    const before = s.warnings.length;
    await setPosition(
      s,
      "sealed_xid = '900000000000000', sealed_id = '00000000-0000-0000-0000-000000000000'",
    );
    await reveal(s, 4);
    expect(await sealAll(s)).toBe(4);
    // Once, though every pass reads from the start.
    expect(s.warnings.slice(before).filter((w) => /behind the sealer/.test(w))).toHaveLength(1);
    // Each pass reads from the start while the counter is behind; nothing is sealed twice.
    await reveal(s, 3);
    expect(await sealAll(s)).toBe(3);
    await expectWholeOnce(s);
  });

  it('rows of transaction ids past the counter are sealed once, and the key comes back when it passes them', async () => {
    // A restored row of another cluster's, its transaction id ahead of this one's counter.
    const ahead = (await nextXid(s)) + 30n;
    await insertRow(s, { sealXid: String(ahead) });
    await reveal(s, 3);
    const before = s.warnings.length;
    expect(await sealAll(s)).toBe(4);
    await reveal(s, 1);
    expect(await sealAll(s)).toBe(1);
    // Said once, though every pass until the counter passes reads from the start.
    expect(s.warnings.slice(before).filter((w) => /behind the sealer/.test(w))).toHaveLength(1);
    expect(await stateColumn(s, 'sealed_xid')).toBeNull();
    // Transactions of this cluster's until its counter is past the restored row's.
    while ((await nextXid(s)) <= ahead) {
      await s.base.db.transaction((c) => c.query('SELECT pg_current_xact_id()'));
    }
    await reveal(s, 2);
    expect(await sealAll(s)).toBe(2);
    expect(await stateColumn(s, 'sealed_xid')).not.toBeNull();
    await reveal(s, 2);
    expect(await sealAll(s)).toBe(2);
    await expectWholeOnce(s);
  });
});

/** An access-log row of the tenant written as the database owner, its transaction id given. */
const insertRow = (s: Setup, { sealXid }: { sealXid: string }) =>
  s.base.db.transaction((c) =>
    c.query(
      `INSERT INTO credential_access_log (tenant_id, id, action, outcome, actor, reason, seal_xid)
       VALUES ($1, $2, 'reveal', 'granted', 'restored', 'restored', $3::xid8)`,
      [s.tenantId, newId(), sealXid],
    ),
  );

const postgres = BACKENDS.find((b) => b.name === 'postgres');

describe.skipIf(!postgres)('the sealer beside a transaction left open [postgres]', () => {
  let s: Setup;
  let open: pg.Client;
  beforeAll(async () => {
    s = await setUp(() => postgres!.open());
    open = new pg.Client({ connectionString: s.base.url });
    await open.connect();
  });
  afterAll(async () => {
    await open.end();
    await s.base.close();
  });

  it('reads only the rows it has not read, and seals the open transaction’s row once it commits', async () => {
    await reveal(s, 30);
    await sealAll(s);
    // A transaction that writes an access-log row and stays open: every row written after it
    // commits first, and it holds the oldest running transaction (the low-water mark) down.
    const lateId = newId();
    await open.query('BEGIN');
    await open.query(
      `INSERT INTO credential_access_log (tenant_id, id, credential_id, vault_id, action, outcome, actor, reason, version)
       VALUES ($1, $2, $3, $4, 'reveal', 'granted', 'late', 'late', 1)`,
      [s.tenantId, lateId, s.credentialId, s.vaultId],
    );
    await reveal(s, 20);
    expect(await sealAll(s)).toBe(20);

    // Three more: a pass reads those three, not every row since the open transaction began.
    await reveal(s, 3);
    const readBefore = s.reads();
    expect(await sealAll(s)).toBe(3);
    expect(s.reads() - readBefore).toBe(3);

    await open.query('COMMIT');
    const size = (await s.tenant.audit.checkpoint()).treeSize;
    const { items } = await s.tenant.audit.leaves({ treeSize: size, from: size - 1 });
    expect(items[0]!.entry).toMatchObject({ id: lateId, actor: 'late' });
    expect(await sealAll(s)).toBe(0);
    await expectWholeOnce(s);
  });

  it('a restored row whose transaction id this cluster then gives a transaction still running as the key comes back is sealed once', async () => {
    // Restored rows of another cluster's transaction `xid`, ahead of this one's counter, sealed
    // from the start; then this cluster's counter brought to `xid`, and that transaction opened.
    // The server is shared with other test files, which may take the id first: then again.
    let xid = 0n;
    for (let attempt = 0; ; attempt++) {
      xid = (await nextXid(s)) + 5n;
      await insertRow(s, { sealXid: String(xid) });
      await insertRow(s, { sealXid: String(xid) });
      await sealAll(s);
      while ((await nextXid(s)) < xid) {
        await s.base.db.transaction((c) => c.query('SELECT pg_current_xact_id()'));
      }
      await open.query('BEGIN');
      const [got] = (await open.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows;
      if (BigInt(got!.x) === xid) break;
      await open.query('ROLLBACK');
      if (attempt === 20) throw new Error('the transaction id was taken every time');
    }
    const lateId = newId();
    await open.query(
      `INSERT INTO credential_access_log (tenant_id, id, action, outcome, actor, reason)
       VALUES ($1, $2, 'reveal', 'granted', 'late', 'late')`,
      [s.tenantId, lateId],
    );
    // A row after it commits; the pass that finds the counter past the restored rows keys the
    // tree again with that transaction pending, and its rows (the restored ones among them) are
    // read once it commits: the restored ones are leaves already.
    await reveal(s, 1);
    expect(await sealAll(s)).toBe(1);
    expect(await stateColumn(s, 'probe_below')).not.toBeNull();
    await open.query('COMMIT');
    expect(await sealAll(s)).toBe(1);
    await reveal(s, 1);
    expect(await sealAll(s)).toBe(1);
    // Nothing the probe covers can be read again: reads are not checked any more.
    expect(await stateColumn(s, 'probe_below')).toBeNull();
    await expectWholeOnce(s);
  });
});
