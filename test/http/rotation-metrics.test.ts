/**
 * What /metrics says about rotations and webhook delivery: runs by rotator and outcome, the lag of
 * scheduled runs, how many are overdue, deliveries by outcome and the outbox depth. Labels are
 * rotator types and outcomes only: never a tenant or credential id, never a value.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import type { TenantRegistry } from '../../src/core/registry.js';
import { RotationError, type Rotator } from '../../src/core/rotator.js';
import { buildApp } from '../../src/http/app.js';
import { HttpMetrics } from '../../src/http/metrics.js';
import { type Receiver, startReceiver } from '../events/receiver.js';
import { describeEachBackend, expectCode, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const TOKEN = randomBytes(32).toString('base64url');
const alice = { actor: 'alice' };

/** A rotator whose `test` step always fails with `code` (not retryable, so it leaves the queue). */
function failingRotator(type: string, code: string): Rotator<Record<string, never>> {
  return {
    type,
    credentialTypes: ['api_key'],
    settings: z.strictObject({}),
    async create() {
      return `${type}-${randomBytes(8).toString('hex')}`;
    },
    async set() {},
    async test() {
      throw new RotationError(code, `the target refused the new key (${code})`, { retryable: false });
    },
    async finish() {},
  };
}

/** One sample of a scrape, by metric name and labels in any order; 0 when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    const wanted = Object.entries(labels);
    if (Object.keys(got).length === wanted.length && wanted.every(([k, v]) => got[k] === v))
      return Number(m[3]);
  }
  return 0;
}

describeEachBackend('rotation and delivery metrics', (backend) => {
  let t: TestRegistry;
  let app: FastifyInstance;
  let base: string;
  let acme: TenantRegistry;
  let vaultId: string;
  let n = 0;
  const ids: string[] = [];

  const scrape = async () => {
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    return res.text();
  };
  const store = async (rotation?: unknown) => {
    const c = await acme.credentials.store(
      {
        vaultId,
        name: `c${++n}`,
        type: 'api_key',
        value: `initial-${n}`,
        ...(rotation ? { rotation } : {}),
      } as never,
      alice,
    );
    ids.push(c.id);
    return c;
  };
  /** Makes a scheduled credential due `seconds` ago by the database's clock (the scheduler's). */
  const dueAgo = (id: string, seconds: number) =>
    t.db.transaction((q) =>
      q.query(
        "UPDATE due_rotations SET due_at = now() - $2::integer * interval '1 second' WHERE credential_id = $1",
        [id, seconds],
      ),
    );

  beforeAll(async () => {
    t = await openTestRegistry(backend, {
      rotators: [failingRotator('broken', 'TARGET_REFUSED'), failingRotator('revoked', 'INVALID_GRANT')],
      config: { webhooks: { intervalMs: 0, allowPrivateUrls: true } },
    });
    const collector = new HttpMetrics(t.registry);
    app = await buildApp(t.registry, {
      http: { trustedProxies: [], bodyLimit: 256 * 1024, rateLimitPerMinute: 1_000_000 },
      metrics: { token: TOKEN, collector },
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    const tenant = await t.registry.tenants.create({ name: 'acme' });
    ids.push(tenant.id);
    acme = t.registry.forTenant(tenant.id);
    vaultId = (await acme.vaults.create({ name: 'v' }, alice)).id;
    ids.push(vaultId);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('an on-demand run counts by rotator and outcome, with no lag', async () => {
    const c = await store({ rotator: { type: 'random' } });
    await acme.credentials.rotate(c.id, undefined, alice);
    const text = await scrape();
    expect(sample(text, 'credreg_rotations_total', { rotator: 'random', outcome: 'rotated' })).toBe(1);
    expect(sample(text, 'credreg_rotation_lag_seconds_count', { rotator: 'random' })).toBe(0);
  });

  it('failing runs count as failed or needs_reauthorization, by their rotator', async () => {
    const broken = await store({ rotator: { type: 'broken' } });
    const revoked = await store({ rotator: { type: 'revoked' } });
    await expectCode(acme.credentials.rotate(broken.id, undefined, alice), 'ROTATION_FAILED');
    await expectCode(acme.credentials.rotate(revoked.id, undefined, alice), 'ROTATION_FAILED');
    const text = await scrape();
    expect(sample(text, 'credreg_rotations_total', { rotator: 'broken', outcome: 'failed' })).toBe(1);
    expect(
      sample(text, 'credreg_rotations_total', { rotator: 'revoked', outcome: 'needs_reauthorization' }),
    ).toBe(1);
  });

  it('a run that cannot start counts as conflict or refused, under the unknown rotator', async () => {
    const busy = await store({ rotator: { type: 'random' } });
    // Another run holds it (as if on another instance, a minute into its lease).
    await t.db.transaction((q) =>
      q.query('UPDATE stored_credentials SET rotation_lease_until = $2 WHERE id = $1', [
        busy.id,
        new Date(t.clock.now().getTime() + 600_000),
      ]),
    );
    await expectCode(acme.credentials.rotate(busy.id, undefined, alice), 'CONFLICT');
    const plain = await store();
    await expectCode(acme.credentials.rotate(plain.id, undefined, alice), 'VALIDATION');
    const text = await scrape();
    expect(sample(text, 'credreg_rotations_total', { rotator: 'unknown', outcome: 'conflict' })).toBe(1);
    expect(sample(text, 'credreg_rotations_total', { rotator: 'unknown', outcome: 'refused' })).toBe(1);
  });

  it('scheduled runs: the overdue gauge counts what waits, and each run observes its lag', async () => {
    const scheduled = await store({ schedule: 'PT1H', rotator: { type: 'random' } });
    const failing = await store({ schedule: 'PT1H', rotator: { type: 'broken' } });
    expect(sample(await scrape(), 'credreg_rotations_overdue')).toBe(0);
    await dueAgo(scheduled.id, 90);
    await dueAgo(failing.id, 90);
    expect(sample(await scrape(), 'credreg_rotations_overdue')).toBe(2);

    const report = await t.registry.rotateDue();
    expect(report).toEqual({ claimed: 2, rotated: 1, failed: 1 });
    const text = await scrape();
    expect(sample(text, 'credreg_rotations_overdue')).toBe(0);
    expect(sample(text, 'credreg_rotations_total', { rotator: 'random', outcome: 'rotated' })).toBe(2);
    expect(sample(text, 'credreg_rotations_total', { rotator: 'broken', outcome: 'failed' })).toBe(2);
    for (const rotator of ['random', 'broken']) {
      expect(sample(text, 'credreg_rotation_lag_seconds_count', { rotator })).toBe(1);
      // Due 90 s before the claim: in the 300 s bucket, not the 60 s one.
      expect(sample(text, 'credreg_rotation_lag_seconds_sum', { rotator })).toBeGreaterThanOrEqual(90);
      expect(sample(text, 'credreg_rotation_lag_seconds_bucket', { rotator, le: '60' })).toBe(0);
      expect(sample(text, 'credreg_rotation_lag_seconds_bucket', { rotator, le: '300' })).toBe(1);
      expect(sample(text, 'credreg_rotation_lag_seconds_bucket', { rotator, le: '+Inf' })).toBe(1);
    }
  });

  it('deliveries by outcome and the outbox depth follow what the receiver got', async () => {
    let rx: Receiver | undefined;
    try {
      rx = await startReceiver();
      await acme.webhooks.create({ url: rx.origin }, alice);
      for (let i = 0; i < 3; i++) await store();
      const [{ pending } = { pending: 0 }] = await t.db.transaction((q) =>
        q.query<{ pending: number }>(
          "SELECT count(*)::int AS pending FROM webhook_deliveries WHERE status = 'pending'",
        ),
      );
      expect(pending).toBeGreaterThanOrEqual(3);
      const before = await scrape();
      expect(sample(before, 'credreg_webhook_outbox_depth')).toBe(pending);
      const deliveredBefore = sample(before, 'credreg_webhook_deliveries_total', { outcome: 'delivered' });
      let delivered = 0;
      for (let r = await t.registry.deliverWebhooks(); r.claimed > 0; r = await t.registry.deliverWebhooks())
        delivered += r.delivered;
      expect(delivered).toBe(pending);
      expect(rx.received).toHaveLength(pending);
      const after = await scrape();
      expect(sample(after, 'credreg_webhook_outbox_depth')).toBe(0);
      expect(
        sample(after, 'credreg_webhook_deliveries_total', { outcome: 'delivered' }) - deliveredBefore,
      ).toBe(pending);
      expect(sample(after, 'credreg_webhook_deliveries_total', { outcome: 'failed' })).toBe(0);
    } finally {
      await rx?.close();
    }
  });

  it('no label or sample carries an id or a value', async () => {
    const text = await scrape();
    for (const id of ids) expect(text).not.toContain(id);
    expect(text).not.toMatch(/initial-|broken-|revoked-/);
    const rotators = new Set(
      [...text.matchAll(/^credreg_rotation\w*\{[^}]*rotator="([^"]*)"/gm)].map((m) => m[1]),
    );
    expect([...rotators].sort()).toEqual(['broken', 'random', 'revoked', 'unknown']);
  });
});
