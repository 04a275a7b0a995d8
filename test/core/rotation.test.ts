/**
 * Rotation by a rotator: settings checked against the rotator, a run through pending → current
 * with a row per step, a failure that leaves the current value alone and resumes, one run at a
 * time, and the scheduler claiming each due rotation once.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import type { TenantRegistry } from '../../src/core/registry.js';
import { RotationError, type Rotator } from '../../src/core/rotator.js';
import { describeEachBackend, expectCode, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const alice = { actor: 'alice' };

/** A rotator whose steps count their calls and fail while `failAt` says so. */
function flakyRotator() {
  const calls = { create: 0, set: 0, test: 0, finish: 0 };
  const state = { failAt: null as null | 'set' | 'test', next: 0 };
  const rotator: Rotator<{ prefix: string }> = {
    type: 'flaky',
    credentialTypes: ['api_key'],
    settings: z.strictObject({ prefix: z.string().default('k') }),
    async create(ctx) {
      calls.create++;
      return `${ctx.settings.prefix}-${++state.next}`;
    },
    async set() {
      calls.set++;
      if (state.failAt === 'set') throw new RotationError('TARGET_UNREACHABLE', 'the target did not answer');
    },
    async test() {
      calls.test++;
      if (state.failAt === 'test') throw new RotationError('TEST_FAILED', 'the new key was refused');
    },
    async finish() {
      calls.finish++;
    },
  };
  return { rotator, calls, state };
}

describeEachBackend('rotation by a rotator', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let vaultId: string;
  const flaky = flakyRotator();
  let n = 0;
  const store = (rotation?: unknown, type = 'api_key', value: unknown = 'initial') =>
    acme.credentials.store(
      {
        vaultId,
        name: `c${++n}`,
        type: type as 'api_key',
        value,
        ...(rotation ? { rotation } : {}),
      } as never,
      alice,
    );
  const reveal = (id: string, version?: number) =>
    acme.credentials.reveal(id, { ...alice, reason: 'test', ...(version ? { version } : {}) });
  const rows = async (id: string) =>
    (await acme.audit.query({ credentialId: id, action: 'rotate', limit: 100 })).items.reverse();

  beforeAll(async () => {
    t = await openTestRegistry(backend, { rotators: [flaky.rotator] });
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    vaultId = (await acme.vaults.create({ name: 'v' }, alice)).id;
  });
  afterAll(() => t.close());

  it('settings are checked against the rotator they name, each refusal naming its field', async () => {
    const issues = async (rotation: unknown, type?: string, value?: unknown) =>
      (
        (await expectCode(store(rotation, type, value), 'VALIDATION')) as unknown as {
          issues: { path: string }[];
        }
      ).issues.map((i) => i.path);
    expect(await issues({ rotator: { type: 'nope' } })).toEqual(['rotation.rotator.type']);
    expect(
      await issues({ rotator: { type: 'random' } }, 'basic_auth', { username: 'u', password: 'p' }),
    ).toEqual(['rotation.rotator.type']);
    expect(await issues({ rotator: { type: 'random', length: 3 } })).toContain('rotation.rotator.length');
    expect(await issues({ schedule: 'every tuesday', rotator: { type: 'random' } })).toEqual([
      'rotation.schedule',
    ]);
    expect(await issues({ rotator: { type: 'random' }, extra: 1 })).toEqual(['rotation.extra']);
  });

  it('a schedule sets the next rotation; the metadata shows the settings and the state, never a value', async () => {
    const c = await store({ schedule: 'P1D', rotator: { type: 'random', length: 40 } });
    expect(c.rotation).toMatchObject({
      schedule: 'P1D',
      rotator: { type: 'random', length: 40 },
      state: 'idle',
      pendingVersion: null,
    });
    const ahead = c.rotation!.nextRotationAt!.getTime() - t.clock.now().getTime();
    expect(ahead).toBe(86_400_000);
    const cron = await store({ schedule: '0 3 * * *', rotator: { type: 'random' } });
    expect(cron.rotation!.nextRotationAt!.getUTCHours()).toBe(3);
    expect(JSON.stringify(c)).not.toContain('initial');
  });

  it('a run makes a new current version through pending, with a row for each step', async () => {
    const c = await store({ rotator: { type: 'random', length: 40, alphabet: 'hex' } });
    const { version, credential } = await acme.credentials.rotate(c.id, undefined, alice);
    expect(version).toBe(2);
    expect(credential.rotation).toMatchObject({ state: 'idle', previousVersion: 1, pendingVersion: null });
    expect(credential.lastRotatedAt).not.toBeNull();
    const now = await reveal(c.id);
    expect(now.version).toBe(2);
    expect(now.value).toMatch(/^[0-9a-f]{40}$/);
    expect((await reveal(c.id, 1)).value).toBe('initial');
    expect((await rows(c.id)).map((r) => [r.outcome, r.reason])).toEqual([
      ['granted', 'rotator random: started'],
      ['granted', 'rotator random: created version 2 (pending)'],
      ['granted', 'rotator random: version 2 tested and current'],
    ]);
  });

  it('without a rotator, a rotation needs a value', async () => {
    const c = await store();
    await expectCode(acme.credentials.rotate(c.id, undefined, alice), 'VALIDATION');
  });

  it('a failed test leaves the current value; the next run resumes the pending version without a new create', async () => {
    const c = await store({ rotator: { type: 'flaky', prefix: 'key' } });
    flaky.state.failAt = 'test';
    const created = flaky.calls.create;
    const err = await expectCode(acme.credentials.rotate(c.id, undefined, alice), 'ROTATION_FAILED');
    expect(err.message).toMatch(/flaky rotator failed at test: TEST_FAILED/);
    const failed = await acme.credentials.get(c.id, alice);
    expect(failed.currentVersion).toBe(1);
    expect(failed.rotation).toMatchObject({
      state: 'failed',
      attempts: 1,
      pendingVersion: 2,
      lastError: { code: 'TEST_FAILED', message: 'the new key was refused' },
    });
    expect((await reveal(c.id)).value).toBe('initial');
    // A value given by hand would fork the history while a pending version waits.
    await expectCode(acme.credentials.rotate(c.id, 'by-hand', alice), 'CONFLICT');
    flaky.state.failAt = null;
    const { version } = await acme.credentials.rotate(c.id, undefined, alice);
    expect(version).toBe(2);
    expect(flaky.calls.create).toBe(created + 1);
    expect((await reveal(c.id)).value).toBe(`key-${flaky.state.next}`);
    expect((await acme.credentials.get(c.id, alice)).rotation).toMatchObject({
      state: 'idle',
      attempts: 0,
      lastError: null,
    });
    const outcomes = (await rows(c.id)).map((r) => `${r.outcome}:${r.errorCode ?? ''}`);
    expect(outcomes).toContain('error:ROTATION_FAILED');
    // Both ends of it are events in the outbox, ids and codes only.
    const events = await t.db.transaction((q) =>
      q.query<{ type: string; data: Record<string, unknown> }>(
        "SELECT type, data FROM events WHERE data->>'credentialId' = $1 ORDER BY id",
        [c.id],
      ),
    );
    expect(events.map((e) => e.type)).toEqual([
      'credential.created',
      'credential.rotation_failed',
      'credential.rotated',
    ]);
    expect(events[1]!.data).toMatchObject({
      step: 'test',
      code: 'TEST_FAILED',
      rotator: 'flaky',
      attempts: 1,
    });
    expect(JSON.stringify(events)).not.toContain('key-');
  });

  it('one run at a time: a concurrent run is refused while the first holds the rotation', async () => {
    const c = await store({ rotator: { type: 'flaky' } });
    const created = flaky.calls.create;
    const results = await Promise.allSettled([
      acme.credentials.rotate(c.id, undefined, alice),
      acme.credentials.rotate(c.id, undefined, alice),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) expect((r.reason as { code: string }).code).toBe('CONFLICT');
    // Each successful run made exactly one value: never two creates for one rotation.
    expect(flaky.calls.create - created).toBe(ok.length);
  });

  it('the scheduler claims each due rotation once, however many callers ask at once', async () => {
    const c = await store({ schedule: 'PT1H', rotator: { type: 'random' } });
    // Due now, by the database's clock (the scheduler's): as if the hour had passed.
    await t.db.transaction((q) =>
      q.query("UPDATE due_rotations SET due_at = now() - interval '1 second' WHERE credential_id = $1", [
        c.id,
      ]),
    );
    const reports = await Promise.all([
      t.registry.rotateDue(),
      t.registry.rotateDue(),
      t.registry.rotateDue(),
    ]);
    expect(reports.reduce((s, r) => s + r.claimed, 0)).toBe(1);
    expect(reports.reduce((s, r) => s + r.rotated, 0)).toBe(1);
    const after = await acme.credentials.get(c.id, alice);
    expect(after.currentVersion).toBe(2);
    const next = after.rotation!.nextRotationAt!.getTime() - after.lastRotatedAt!.getTime();
    expect(next).toBe(3_600_000);
    expect((await t.registry.rotateDue()).claimed).toBe(0);
    const [started] = await rows(c.id);
    expect(started?.actor).toBe('system:scheduler');
  });

  it('listings filter what expires soon and what is due to rotate', async () => {
    const filtered = await acme.vaults.create({ name: `f${++n}` }, alice);
    const day = 86_400_000;
    const at = (days: number) => new Date(t.clock.now().getTime() + days * day);
    const put = (name: string, extra: object) =>
      acme.credentials.store(
        { vaultId: filtered.id, name, type: 'api_key', value: 'x', ...extra } as never,
        alice,
      );
    await put('soon', { expiresAt: at(2) });
    await put('later', { expiresAt: at(20) });
    const due = await put('due', { rotation: { schedule: 'P1D', rotator: { type: 'random' } } });
    await put('not-due', { rotation: { schedule: 'P1D', rotator: { type: 'random' } } });
    await t.db.transaction((q) =>
      q.query("UPDATE stored_credentials SET next_rotation_at = now() - interval '1 minute' WHERE id = $1", [
        due.id,
      ]),
    );
    const names = async (o: object) =>
      (await acme.credentials.list(filtered.id, o, alice)).items.map((c) => c.name);
    expect(await names({ expiringWithin: 'P7D' })).toEqual(['soon']);
    expect(await names({ expiringWithin: 'P30D' })).toEqual(['later', 'soon']);
    expect(await names({ rotationDue: true })).toEqual(['due']);
    expect(await names({})).toHaveLength(4);
    await expectCode(
      acme.credentials.list(filtered.id, { expiringWithin: 'soon' } as never, alice),
      'VALIDATION',
    );
  });

  it('removing the rotation takes the credential off the schedule', async () => {
    const c = await store({ schedule: 'PT1H', rotator: { type: 'random' } });
    const updated = await acme.credentials.update(c.id, { rotation: null }, alice);
    expect(updated.rotation).toBeNull();
    const queued = await t.db.transaction((q) =>
      q.query<{ n: number }>('SELECT count(*)::int AS n FROM due_rotations WHERE credential_id = $1', [c.id]),
    );
    expect(queued[0]!.n).toBe(0);
  });
});
