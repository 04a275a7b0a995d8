/**
 * Rotation over HTTP: settings on store and PATCH, shown in the metadata; `POST …/rotate` without a
 * value runs the rotator; a rotator's failure is a 502 problem and the value stays.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend } from '../helpers/backends.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

describeEachBackend('rotation over HTTP', (backend) => {
  let s: TestServer;
  let seed: Awaited<ReturnType<typeof seedTenant>>;
  let vaultId: string;

  beforeAll(async () => {
    s = await startServer(backend);
    seed = await seedTenant(s, 'rot');
    vaultId = (await seed.t.vaults.create({ name: 'v' }, seed.ctx)).id;
  });
  afterAll(() => s.stop());

  it('store with a rotator, run it with an empty body, and read the result', async () => {
    const stored = await s.call('POST', `/v1/vaults/${vaultId}/credentials`, {
      token: seed.tokens.writer,
      body: {
        name: 'k',
        type: 'api_key',
        value: 'v1',
        rotation: { schedule: 'P7D', rotator: { type: 'random' } },
      },
    });
    expect(stored.status).toBe(201);
    const id = (stored.body as { id: string }).id;
    expect((stored.body as { rotation: unknown }).rotation).toMatchObject({
      schedule: 'P7D',
      rotator: { type: 'random' },
      state: 'idle',
    });
    // A reader may not rotate; a writer may, and never sees the value.
    expect(
      (await s.call('POST', `/v1/credentials/${id}/rotate`, { token: seed.tokens.reader, body: {} })).status,
    ).toBe(403);
    const rotated = await s.call('POST', `/v1/credentials/${id}/rotate`, {
      token: seed.tokens.writer,
      body: {},
    });
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.body).toMatchObject({
      version: 2,
      credential: { currentVersion: 2, rotation: { previousVersion: 1 } },
    });
    expect(rotated.text).not.toContain('v1');
    const revealed = await s.call('POST', `/v1/credentials/${id}/reveal`, {
      token: seed.tokens.reader,
      body: { reason: 'check' },
    });
    expect((revealed.body as { value: string }).value).toMatch(/^[A-Za-z0-9_-]{32}$/);

    // Stages: the version listing labels them, and a reveal may ask for one instead of a version.
    const versions = await s.call('GET', `/v1/credentials/${id}/versions`, { token: seed.tokens.reader });
    expect(
      (versions.body as { items: { version: number; stages: string[] }[] }).items.map((v) => [
        v.version,
        v.stages,
      ]),
    ).toEqual([
      [2, ['current']],
      [1, ['previous']],
    ]);
    const previous = await s.call('POST', `/v1/credentials/${id}/reveal`, {
      token: seed.tokens.reader,
      body: { reason: 'compare', stage: 'previous' },
    });
    expect(previous.body).toMatchObject({ version: 1, value: 'v1' });
    const pending = await s.call('POST', `/v1/credentials/${id}/reveal`, {
      token: seed.tokens.reader,
      body: { reason: 'compare', stage: 'pending' },
    });
    expect(pending.status).toBe(404);
    const both = await s.call('POST', `/v1/credentials/${id}/reveal`, {
      token: seed.tokens.reader,
      body: { reason: 'compare', stage: 'previous', version: 1 },
    });
    expect(both.status).toBe(400);
    expect((both.body as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual(['stage']);
  });

  it('PATCH sets and removes rotation; a bad setting is a 400 naming it', async () => {
    const c = await seed.t.credentials.store({ vaultId, name: 'p', type: 'api_key', value: 'x' }, seed.ctx);
    const bad = await s.call('PATCH', `/v1/credentials/${c.id}`, {
      token: seed.tokens.admin,
      body: { rotation: { rotator: { type: 'random', length: 2 } } },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('rotation.rotator.length');
    const set = await s.call('PATCH', `/v1/credentials/${c.id}`, {
      token: seed.tokens.admin,
      body: { rotation: { rotator: { type: 'random' } } },
    });
    expect(set.status).toBe(200);
    expect((set.body as { rotation: { nextRotationAt: unknown } }).rotation.nextRotationAt).toBeNull();
    const removed = await s.call('PATCH', `/v1/credentials/${c.id}`, {
      token: seed.tokens.admin,
      body: { rotation: null },
    });
    expect((removed.body as { rotation: unknown }).rotation).toBeNull();
    const noRotator = await s.call('POST', `/v1/credentials/${c.id}/rotate`, {
      token: seed.tokens.admin,
      body: {},
    });
    expect(noRotator.status).toBe(400);
    const list = (q: string) =>
      s.call('GET', `/v1/vaults/${vaultId}/credentials?${q}`, { token: seed.tokens.reader });
    const due = await list('rotationDue=true&expiringWithin=P7D');
    expect(due.status, due.text).toBe(200);
    expect((due.body as { items: unknown[] }).items).toEqual([]);
    expect((await list('expiringWithin=soon')).status).toBe(400);
  });
});
