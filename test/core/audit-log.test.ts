/**
 * The tamper-evident log's server side: sealing in order, checkpoints signed with the tenant's
 * key, proofs that verify by RFC 9162, on every backend.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { auditLeafHash } from '../../src/crypto/audit-leaf.js';
import { openCheckpoint } from '../../src/crypto/checkpoint-note.js';
import { TreeBuilder, verifyConsistency, verifyInclusion } from '../../src/crypto/merkle.js';
import { assemble } from '../../src/main.js';
import {
  describeEachBackend,
  expectCode,
  insertAccessRows,
  localKey,
  openTestRegistry,
  silentLogger,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';

const alice = { actor: 'alice' };
const b = (s: string) => Buffer.from(s, 'base64');

describeEachBackend('audit log tree', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let other: TenantRegistry;
  let vaultId: string;

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    other = t.registry.forTenant((await t.registry.tenants.create({ name: 'other' })).id);
    vaultId = (await acme.vaults.create({ name: 'v' }, alice)).id;
    const c = await acme.credentials.store({ vaultId, name: 'k', type: 'api_key', value: 'sekrit' }, alice);
    for (let i = 0; i < 5; i++) await acme.credentials.reveal(c.id, { ...alice, reason: `r${i}` });
    await other.vaults.create({ name: 'w' }, alice);
  });
  afterAll(() => t.close());

  it('a checkpoint covers every committed row, signed by the key GET /v1/audit/keys lists', async () => {
    const cp = await acme.audit.checkpoint();
    const { keys, origin } = await acme.audit.keys();
    expect(origin).toBe(`credreg/audit/${acme.tenantId}`);
    expect(keys).toHaveLength(1);
    const opened = openCheckpoint(cp.checkpoint, [createPublicKey(keys[0]!.publicKeyPem)]);
    expect(opened.checkpoint).toMatchObject({ origin, treeSize: cp.treeSize });
    expect(opened.checkpoint.rootHash.toString('base64')).toBe(cp.rootHash);
    // Every row of the log, and nothing the checkpoint call itself logged.
    const rows = (await acme.audit.query({ limit: 1000 })).items.reverse();
    expect(cp.treeSize).toBe(rows.length);
    // The root is the RFC 9162 root over the rows' own leaf hashes, in the log's order.
    const { items } = await acme.audit.leaves({ treeSize: cp.treeSize });
    const tree = new TreeBuilder();
    for (const leaf of items) {
      expect(leaf.entry, `leaf ${leaf.leafIndex}`).not.toBeNull();
      expect(auditLeafHash(leaf.entry!).toString('base64')).toBe(leaf.leafHash);
      tree.append(auditLeafHash(leaf.entry!));
    }
    expect(tree.root().toString('base64')).toBe(cp.rootHash);
    expect(items.map((l) => l.entry!.id)).toEqual(rows.map((r) => r.id));
    expect(items.map((l) => l.entry!.reason).slice(-5)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    // The same checkpoint again while nothing was logged.
    expect((await acme.audit.checkpoint()).checkpoint).toBe(cp.checkpoint);
  });

  it("another tenant's log is its own tree, under its own key", async () => {
    const cp = await other.audit.checkpoint();
    expect(cp.treeSize).toBe((await other.audit.query()).items.length);
    const mine = (await acme.audit.keys()).keys[0]!;
    expect(() => openCheckpoint(cp.checkpoint, [createPublicKey(mine.publicKeyPem)])).toThrow();
    const { items } = await other.audit.leaves({ treeSize: cp.treeSize });
    for (const leaf of items) expect(leaf.entry!.tenantId).toBe(other.tenantId);
  });

  it('inclusion and consistency proofs verify against the signed roots', async () => {
    const first = await acme.audit.checkpoint();
    const c = await acme.credentials.store({ vaultId, name: `more`, type: 'api_key', value: 'v' }, alice);
    for (let i = 0; i < 10; i++) await acme.credentials.reveal(c.id, { ...alice, reason: `m${i}` });
    const second = await acme.audit.checkpoint();
    expect(second.treeSize).toBe(first.treeSize + 11);
    const { items } = await acme.audit.leaves({ treeSize: second.treeSize, proofs: true });
    for (const leaf of items) {
      const ok = verifyInclusion(
        b(leaf.leafHash),
        leaf.leafIndex,
        second.treeSize,
        leaf.proof!.map(b),
        b(second.rootHash),
      );
      expect(ok, `leaf ${leaf.leafIndex}`).toBe(true);
      const single = await acme.audit.proof({ index: leaf.leafIndex, treeSize: second.treeSize });
      expect(single.proof).toEqual(leaf.proof);
    }
    const { proof } = await acme.audit.consistency({ from: first.treeSize, to: second.treeSize });
    expect(
      verifyConsistency(first.treeSize, second.treeSize, proof.map(b), b(first.rootHash), b(second.rootHash)),
    ).toBe(true);
    // A proof at an older size verifies against the older root: nodes never change.
    const old = await acme.audit.proof({ index: 3, treeSize: first.treeSize });
    expect(verifyInclusion(b(old.leafHash), 3, first.treeSize, old.proof.map(b), b(first.rootHash))).toBe(
      true,
    );
  });

  it('refuses sizes past the sealed tree and indexes past the size, with a 4xx code and a row', async () => {
    const cp = await acme.audit.checkpoint();
    await expectCode(acme.audit.proof({ index: 0, treeSize: cp.treeSize + 1 }), 'VALIDATION');
    await expectCode(acme.audit.proof({ index: cp.treeSize, treeSize: cp.treeSize }), 'VALIDATION');
    await expectCode(acme.audit.consistency({ from: 3, to: cp.treeSize + 5 }), 'VALIDATION');
    await expectCode(acme.audit.consistency({ from: 5, to: 3 }), 'VALIDATION');
    await expectCode(acme.audit.leaves({ treeSize: cp.treeSize + 1 }), 'VALIDATION');
    await expectCode(acme.audit.proof({ index: -1, treeSize: 2 } as never), 'VALIDATION');
    await expectCode(acme.audit.leaves({ treeSize: 1, extra: 1 } as never), 'VALIDATION');
    const refused = (await acme.audit.query({ action: 'audit_read', outcome: 'invalid' })).items;
    expect(refused.length).toBeGreaterThanOrEqual(7);
  });

  it('a vault-scoped token may not read the tree, nor make the sealer sign for it', async () => {
    const scoped = { actor: 'scoped', vaultScope: vaultId };
    await expectCode(acme.audit.leaves({ treeSize: 1 }, scoped), 'FORBIDDEN');
    await expectCode(acme.audit.checkpoint(scoped), 'FORBIDDEN');
    await expectCode(acme.audit.proof({ index: 0, treeSize: 1 }, scoped), 'FORBIDDEN');
    await expectCode(acme.audit.consistency({ from: 0, to: 1 }, scoped), 'FORBIDDEN');
    const denied = (await acme.audit.query({ actor: 'scoped', outcome: 'denied' })).items;
    expect(denied).toHaveLength(4);
  });

  it('a rotated key signs from then on; what the old key signed still verifies with it', async () => {
    const before = await acme.audit.checkpoint();
    const oldKey = (await acme.audit.keys()).keys.find((k) => !k.validTo)!;
    await expectCode(acme.audit.rotateKey({ actor: 'auditor', role: 'auditor' }), 'FORBIDDEN');
    const rotated = await acme.audit.rotateKey({ actor: 'admin', role: 'admin' });
    const { keys } = await acme.audit.keys();
    expect(keys.map((k) => k.id)).toEqual([oldKey.id, rotated.id]);
    expect(keys[0]!.validTo).toEqual(rotated.validFrom);
    expect(keys[1]!.validTo).toBeUndefined();
    // The rotation is logged, so the tree grew, and its checkpoint is the new key's.
    const after = await acme.audit.checkpoint();
    expect(after.treeSize).toBeGreaterThan(before.treeSize);
    expect(after.keyId).toBe(rotated.id);
    const [oldPub, newPub] = keys.map((k) => createPublicKey(k.publicKeyPem));
    expect(() => openCheckpoint(after.checkpoint, [oldPub!])).toThrow();
    expect(openCheckpoint(after.checkpoint, [newPub!]).checkpoint.treeSize).toBe(after.treeSize);
    expect(openCheckpoint(before.checkpoint, [oldPub!]).checkpoint.treeSize).toBe(before.treeSize);
    const rows = (await acme.audit.query({ action: 'key_rotate' })).items;
    expect(rows.map((r) => r.outcome)).toEqual(['granted', 'denied']);
    expect(rows[0]!.reason).toBe(`audit signing key ${rotated.id}`);
  });

  it('a root key rotation re-wraps the signing key; the new root alone then signs', async () => {
    const newRoot = randomBytes(32).toString('base64');
    const open = (current: string, previous: string[] = []) =>
      assemble(t.db, {
        config: {
          ...testConfig(t.prefix),
          keyProvider: localKey(current),
          previousKeyProviders: previous.map(localKey),
        },
        logger: silentLogger,
      });
    await other.audit.checkpoint();
    const moving = await open(newRoot, [t.rootKey]);
    const { remaining } = await moving.rootKeyStatus();
    expect(remaining).toBeGreaterThan(0);
    await moving.rotateRoot({ actor: 'platform:ops' });
    expect((await moving.rootKeyStatus()).remaining).toBe(0);
    // A cold key ring with the new root alone opens the signing key, and signs the new entries.
    const fresh = (await open(newRoot)).forTenant(other.tenantId);
    await fresh.vaults.create({ name: 'after-root-rotation' }, alice);
    const cp = await fresh.audit.checkpoint();
    const key = (await fresh.audit.keys()).keys.find((k) => k.id === cp.keyId)!;
    expect(openCheckpoint(cp.checkpoint, [createPublicKey(key.publicKeyPem)]).checkpoint.treeSize).toBe(
      cp.treeSize,
    );
  });

  describe('the sealer', () => {
    it('seals in batches, resumes where it stopped, and never seals a row twice', async () => {
      const c = await acme.credentials.store(
        { vaultId, name: 'batches', type: 'api_key', value: 'v' },
        alice,
      );
      const before = (await acme.audit.checkpoint()).treeSize;
      for (let i = 0; i < 5; i++) await acme.credentials.reveal(c.id, { ...alice, reason: `c${i}` });
      const pass = () => t.registry.sealAuditLogs({ batchSize: 2, batchesPerTenant: 1 });
      expect(await pass()).toMatchObject({ sealed: 2, more: true });
      expect(await pass()).toMatchObject({ sealed: 2, more: true });
      expect(await pass()).toMatchObject({ sealed: 1, more: false });
      expect(await pass()).toMatchObject({ tenants: 0, sealed: 0, more: false });
      const { items } = await acme.audit.leaves({ treeSize: before + 5, from: before });
      expect(items.map((l) => l.entry!.reason)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    });

    it('a pass drains a tenant batch after batch, up to its share or until told to stop, and says when it left rows', async () => {
      const c = await acme.credentials.store({ vaultId, name: 'share', type: 'api_key', value: 'v' }, alice);
      await t.registry.sealAuditLogs();
      for (let i = 0; i < 7; i++) await acme.credentials.reveal(c.id, { ...alice, reason: `s${i}` });
      // Three batches of two: six rows, and one left for the next pass.
      const pass = () => t.registry.sealAuditLogs({ batchSize: 2, batchesPerTenant: 3 });
      expect(await pass()).toMatchObject({ tenants: 1, sealed: 6, more: true });
      // The last batch comes back short: the tenant is drained, and the pass leaves nothing.
      expect(await pass()).toMatchObject({ tenants: 1, sealed: 1, more: false });
      expect(await pass()).toMatchObject({ tenants: 0, sealed: 0, more: false });
      // Stopping: a pass asked to stop seals nothing more, and says rows may be left.
      await acme.credentials.reveal(c.id, { ...alice, reason: 'stopping' });
      const signal = AbortSignal.abort();
      expect(await t.registry.sealAuditLogs({ batchSize: 2, signal })).toMatchObject({
        sealed: 0,
        more: true,
      });
      // A share of none is one batch: the pass still seals.
      for (let i = 0; i < 3; i++) await acme.credentials.reveal(c.id, { ...alice, reason: `z${i}` });
      expect(await t.registry.sealAuditLogs({ batchSize: 2, batchesPerTenant: 0 })).toMatchObject({
        sealed: 2,
        more: true,
      });
    });

    it('a pass over every tenant seals each and signs its checkpoint', async () => {
      for (let i = 0; i < 3; i++) await other.vaults.create({ name: `x${i}` }, alice);
      t.clock.advance(2000);
      const report = await t.registry.sealAuditLogs({ batchSize: 100, checkpointIntervalMs: 1000 });
      expect(report.sealed).toBeGreaterThanOrEqual(3);
      expect(report.checkpoints).toBeGreaterThanOrEqual(1);
      const again = await t.registry.sealAuditLogs({ batchSize: 100, checkpointIntervalMs: 1000 });
      expect(again).toMatchObject({ tenants: 0, sealed: 0, checkpoints: 0 });
    });
  });

  it('proofs span the stored levels and those hashed from leaves (trees of more than 256 leaves)', async () => {
    // Rows written as the owner, 700 at once: the tree then has perfect subtrees of 256 and 512
    // leaves (stored) and partial blocks whose nodes are hashed from their leaves.
    const tenant = t.registry.forTenant((await t.registry.tenants.create({ name: 'wide' })).id);
    const small = await tenant.audit.checkpoint();
    await insertAccessRows(t, tenant.tenantId, 700);
    // In batches of 300, so batches end inside the blocks of 256.
    while ((await t.registry.sealAuditLogs({ batchSize: 300 })).sealed > 0);
    const whole = await tenant.audit.checkpoint();
    expect(whole.treeSize).toBe(small.treeSize + 700);
    const { items } = await tenant.audit.leaves({ treeSize: whole.treeSize, limit: 1000 });
    const leafHashes = items.map((leaf) => b(leaf.leafHash));
    /** The root of the first `size` leaves, made here from the leaves alone. */
    const rootOf = (size: number) => {
      const tree = new TreeBuilder();
      for (const h of leafHashes.slice(0, size)) tree.append(h);
      return tree.root();
    };
    expect(rootOf(whole.treeSize)).toEqual(b(whole.rootHash));

    const indexes = [0, 1, 254, 255, 256, 257, 511, 512, 513, 640, whole.treeSize - 1];
    for (const treeSize of [257, 512, 513, 600, whole.treeSize]) {
      const root = rootOf(treeSize);
      for (const index of indexes.filter((i) => i < treeSize)) {
        const p = await tenant.audit.proof({ index, treeSize });
        const ok = verifyInclusion(b(p.leafHash), index, treeSize, p.proof.map(b), root);
        expect(ok, `leaf ${index} of ${treeSize}`).toBe(true);
      }
    }
    for (const [from, to] of [
      [1, 700],
      [256, 512],
      [257, 600],
      [300, whole.treeSize],
      [small.treeSize, whole.treeSize],
    ] as const) {
      const { proof } = await tenant.audit.consistency({ from, to });
      const ok = verifyConsistency(from, to, proof.map(b), rootOf(from), rootOf(to));
      expect(ok, `${from} to ${to}`).toBe(true);
    }
  });
});
