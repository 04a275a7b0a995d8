/**
 * The tamper-evident log over HTTP: each route's answer, and bad input answered 4xx with a stable
 * code and a row in the log, never a 5xx.
 */
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/crypto/checkpoint-note.js';
import { verifyConsistency, verifyInclusion } from '../../src/crypto/merkle.js';
import { describeEachBackend } from '../helpers/backends.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

const b = (s: string) => Buffer.from(s, 'base64');

describeEachBackend('audit log routes', (backend) => {
  let s: TestServer;
  let seed: Awaited<ReturnType<typeof seedTenant>>;
  let scoped: string;

  beforeAll(async () => {
    s = await startServer(backend);
    seed = await seedTenant(s, 'acme');
    const vault = await seed.t.vaults.create({ name: 'v' }, seed.ctx);
    scoped = (
      await seed.t.tokens.create(
        { principalId: seed.principal.id, role: 'admin', vaultId: vault.id },
        seed.ctx,
      )
    ).token;
  });
  afterAll(() => s.stop());

  const get = (path: string, token = seed.tokens.admin) => s.call('GET', path, { token });

  it('keys, checkpoint, proof, consistency and leaves agree with each other', async () => {
    const keys = (await get('/v1/audit/keys')).body as {
      origin: string;
      keys: Array<{ publicKeyPem: string }>;
    };
    expect(keys.origin).toBe(`credreg/audit/${seed.t.tenantId}`);
    const first = (await get('/v1/audit/checkpoint')).body as {
      treeSize: number;
      rootHash: string;
      checkpoint: string;
    };
    const publicKey = createPublicKey(keys.keys[0]!.publicKeyPem);
    expect(openCheckpoint(first.checkpoint, [publicKey]).checkpoint.treeSize).toBe(first.treeSize);
    await seed.t.vaults.create({ name: 'more' }, seed.ctx);
    const second = (await get('/v1/audit/checkpoint')).body as typeof first;
    expect(second.treeSize).toBeGreaterThan(first.treeSize);

    const proof = (await get(`/v1/audit/proof?index=0&treeSize=${second.treeSize}`)).body as {
      leafHash: string;
      proof: string[];
    };
    expect(
      verifyInclusion(b(proof.leafHash), 0, second.treeSize, proof.proof.map(b), b(second.rootHash)),
    ).toBe(true);
    const consistency = (await get(`/v1/audit/consistency?from=${first.treeSize}&to=${second.treeSize}`))
      .body as {
      proof: string[];
    };
    expect(
      verifyConsistency(
        first.treeSize,
        second.treeSize,
        consistency.proof.map(b),
        b(first.rootHash),
        b(second.rootHash),
      ),
    ).toBe(true);
    const leaves = await get(`/v1/audit/leaves?treeSize=${second.treeSize}&proofs=true&limit=2`);
    expect(leaves.status).toBe(200);
    const items = (leaves.body as { items: Array<{ leafIndex: number; proof: string[]; entry: unknown }> })
      .items;
    expect(items.map((i) => i.leafIndex)).toEqual([0, 1]);
    expect(items[0]!.proof).toEqual(proof.proof);
  });

  it('bad input is a 400 with a stable code, and is logged', async () => {
    const before = (await seed.t.audit.query({ action: 'audit_read', outcome: 'invalid' })).items.length;
    for (const path of [
      '/v1/audit/proof?index=abc&treeSize=1',
      '/v1/audit/proof?index=0',
      '/v1/audit/proof?index=0&treeSize=1&extra=1',
      '/v1/audit/proof?index=-1&treeSize=1',
      '/v1/audit/proof?index=0&treeSize=99999999999999999999',
      '/v1/audit/proof?index=5&treeSize=2',
      '/v1/audit/consistency?from=3&to=1',
      '/v1/audit/consistency?from=1&to=1000000',
      '/v1/audit/leaves?treeSize=1000000',
      '/v1/audit/leaves?treeSize=1&limit=0',
      '/v1/audit/leaves?treeSize=1&proofs=yes',
    ]) {
      const r = await get(path);
      expect(r.status, path).toBe(400);
      expect((r.body as { code: string }).code, path).toMatch(/^(VALIDATION|BAD_REQUEST)$/);
    }
    const after = (await seed.t.audit.query({ action: 'audit_read', outcome: 'invalid' })).items.length;
    expect(after - before).toBeGreaterThanOrEqual(7);
  });

  it('a vault-scoped token may not export the whole log (403), and no token gets 401', async () => {
    const r = await get('/v1/audit/leaves?treeSize=1', scoped);
    expect(r.status).toBe(403);
    expect((await s.call('GET', '/v1/audit/checkpoint', {})).status).toBe(401);
  });
});
