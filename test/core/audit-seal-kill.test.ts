/**
 * The sealer under failure and concurrency: a sealer process killed (SIGKILL) in the middle of a
 * batch leaves the tree as its last committed batch left it, and the next sealer resumes with no
 * gap and no duplicate; two instances sealing one tenant at once never fork its tree. Each time,
 * the whole log must then pass the offline verifier against a fresh checkpoint.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { verifyAuditExport } from '../../src/crypto/audit-log-verifier.js';
import { migrate } from '../../src/db/migrate.js';
import { openPg } from '../../src/db/pg-adapter.js';
import { openPglite } from '../../src/db/pglite-adapter.js';
import { rolesFromPrefix } from '../../src/db/roles.js';
import type { SqlDatabase } from '../../src/db/sql.js';
import { assemble, type RegistryHandle } from '../../src/main.js';
import { exportLines, publicKeysOf } from '../helpers/audit-export.js';
import { BACKENDS, silentLogger, testConfig } from '../helpers/backends.js';
import { collect } from '../helpers/processes.js';

const alice = { actor: 'alice' };
const ROWS = 120;
const BATCH = 50;

/** Fills a new tenant's log with exactly ROWS rows. */
async function fill(registry: RegistryHandle): Promise<TenantRegistry> {
  const tenant = registry.forTenant(
    (await registry.tenants.create({ name: `t${randomBytes(4).toString('hex')}` })).id,
  );
  const { id: vaultId } = await tenant.vaults.create({ name: 'v' }, alice);
  const c = await tenant.credentials.store({ vaultId, name: 'k', type: 'api_key', value: 'x' }, alice);
  let size = (await tenant.audit.query({ limit: 1000 })).items.length;
  for (; size < ROWS; size++) await tenant.credentials.reveal(c.id, { ...alice, reason: `r${size}` });
  return tenant;
}

/** The whole log, checked as `credreg audit verify` checks it, against a fresh checkpoint. */
async function verifyWhole(tenant: TenantRegistry) {
  const { cp, lines } = await exportLines(tenant);
  const ids = new Set(lines.slice(1).map((line) => (JSON.parse(line) as { entry: { id: string } }).entry.id));
  const publicKeys = await publicKeysOf(tenant);
  const result = await verifyAuditExport({ lines: () => lines, checkpoint: cp.checkpoint, publicKeys });
  return { cp, ids, result };
}

/** Whether the tree is sealed to exactly `size` leaves: proofs and pages are refused past it. */
async function sealedExactly(tenant: TenantRegistry, size: number): Promise<boolean> {
  const answers = (n: number) =>
    tenant.audit.leaves({ treeSize: n, limit: 1 }).then(
      () => true,
      () => false,
    );
  return (await answers(size)) && !(await answers(size + 1));
}

interface Store {
  prefix: string;
  childArgs: [string, string];
  open(): Promise<SqlDatabase>;
  dispose(): Promise<void>;
}

const STORES: Array<{ name: string; make: () => Promise<Store> }> = [
  ...(process.env.DATABASE_URL
    ? [
        {
          name: 'postgres',
          make: async (): Promise<Store> => {
            const t = await BACKENDS.find((b) => b.name === 'postgres')!.open();
            await t.db.close();
            return {
              prefix: t.prefix,
              childArgs: ['postgres', t.url!],
              open: async () => openPg({ connectionString: t.url!, maxConnections: 4 }),
              dispose: () => t.close(),
            };
          },
        },
      ]
    : []),
  {
    name: 'pglite',
    make: async (): Promise<Store> => {
      const root = mkdtempSync(join(tmpdir(), 'credreg-seal-kill-'));
      const dataDir = join(root, 'data');
      const db = await openPglite({ dataDir });
      await migrate(db, rolesFromPrefix('credreg')).finally(() => db.close());
      return {
        prefix: 'credreg',
        childArgs: ['pglite', dataDir],
        open: () => openPglite({ dataDir }),
        dispose: async () => rmSync(root, { recursive: true, force: true }),
      };
    },
  },
];

for (const { name, make } of STORES) {
  describe(`the audit sealer killed mid-batch [${name}]`, () => {
    it('resumes after the last committed batch, with no gap and no duplicate', async () => {
      const store = await make();
      const rootKey = randomBytes(32).toString('base64');
      const open = async () =>
        assemble(await store.open(), { config: testConfig(store.prefix, rootKey), logger: silentLogger });
      try {
        let registry = await open();
        const tenantId = (await fill(registry)).tenantId;
        // PGlite: one process at a time on a data directory.
        await registry.close();
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            'test/helpers/seal-kill-child.ts',
            ...store.childArgs,
            store.prefix,
            rootKey,
            String(BATCH),
            '2',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        const { out } = collect(child);
        const signal = await new Promise((resolve) => child.once('exit', (_code, s) => resolve(s)));
        expect(signal, out()).toBe('SIGKILL');
        expect(out()).toMatch(/^batch 1\nbatch 2\n$/);

        registry = await open();
        try {
          const tenant = registry.forTenant(tenantId);
          // The first batch committed; the second, killed before its commit, left nothing.
          expect(await sealedExactly(tenant, BATCH)).toBe(true);
          const { cp, ids, result } = await verifyWhole(tenant);
          // ROWS, and the refused page of sealedExactly: a refusal is logged too.
          const rows = (await tenant.audit.query({ limit: 1000 })).items.map((e) => e.id);
          expect(rows).toHaveLength(ROWS + 1);
          expect(result, JSON.stringify(result)).toMatchObject({ ok: true, treeSize: rows.length });
          expect(cp.treeSize).toBe(rows.length);
          expect(ids.size).toBe(rows.length);
          expect([...ids].sort()).toEqual(rows.sort());
        } finally {
          await registry.close();
        }
      } finally {
        await store.dispose();
      }
    });
  });
}

if (process.env.DATABASE_URL) {
  describe('two instances sealing one tenant [postgres]', () => {
    it('never fork its tree: every row once, one history', async () => {
      const store = await STORES.find((s) => s.name === 'postgres')!.make();
      const rootKey = randomBytes(32).toString('base64');
      const open = async () =>
        assemble(await store.open(), { config: testConfig(store.prefix, rootKey), logger: silentLogger });
      const [a, b] = [await open(), await open()];
      try {
        const tenant = await fill(a);
        const { id: vaultId } = (await tenant.vaults.list()).items[0]!;
        const c = (await tenant.credentials.list(vaultId)).items[0]!;
        // Both seal in small batches while more rows are written.
        let writing = true;
        const sealer = async (r: RegistryHandle) => {
          while (writing) await r.sealAuditLogs({ batchSize: 7 });
        };
        const sealers = [sealer(a), sealer(b)];
        for (let i = 0; i < 60; i++)
          await tenant.credentials.reveal(c.id, { ...alice, reason: `during ${i}` });
        writing = false;
        await Promise.all(sealers);
        const { cp, ids, result } = await verifyWhole(b.forTenant(tenant.tenantId));
        expect(result, JSON.stringify(result)).toMatchObject({ ok: true, treeSize: ROWS + 60 });
        expect(cp.treeSize).toBe(ROWS + 60);
        expect(ids.size).toBe(ROWS + 60);
      } finally {
        await a.close();
        await b.close();
        await store.dispose();
      }
    });
  });
}
