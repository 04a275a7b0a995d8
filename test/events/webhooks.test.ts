/**
 * Events and webhooks end to end, on every backend: the outbox commits with its change, every
 * event reaches a real receiver signed (verified with the `standardwebhooks` library), a receiver
 * that fails and recovers still gets each one, and no secret value goes anywhere. The worker is
 * driven by calling its tick directly, with the registry's clock moved instead of sleeping.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { TenantRegistry } from '../../src/core/registry.js';
import { defineUseCase } from '../../src/core/use-case.js';
import { assemble } from '../../src/main.js';
import {
  asRuntime,
  describeEachBackend,
  expectCode,
  localKey,
  openTestRegistry,
  silentLogger,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';
import { captureLogs } from '../helpers/logs.js';
import { answer, closeAfterEach, type Handler, headerRecord, type Received, receiver } from './receiver.js';

const alice = { actor: 'alice' };
const CANARY = 'CANARY-value-7f3e9a1c-never-in-an-event';
const HOUR = 3_600_000;

closeAfterEach();

describeEachBackend('events and webhooks', (backend) => {
  let t: TestRegistry;
  let logs: ReturnType<typeof captureLogs>;
  let tenantId: string;
  let acme: TenantRegistry;
  let otherId: string;

  beforeAll(async () => {
    logs = captureLogs('trace');
    t = await openTestRegistry(backend, {
      logger: logs.logger,
      config: { webhooks: { intervalMs: 0, allowPrivateUrls: true } },
    });
    tenantId = (await t.registry.tenants.create({ name: 'acme' })).id;
    acme = t.registry.forTenant(tenantId);
    otherId = (await t.registry.tenants.create({ name: 'other' })).id;
  });
  afterAll(() => t.close());

  /** Ticks until nothing is due, moving the clock past every retry; returns the ticks made. */
  async function drain(maxTicks = 200, stepMs = 2 * HOUR): Promise<number> {
    for (let i = 0; i < maxTicks; i++) {
      const r = await t.registry.deliverWebhooks();
      if (r.claimed === 0) {
        t.clock.advance(stepMs);
        if ((await t.registry.deliverWebhooks()).claimed === 0) return i;
      }
    }
    throw new Error('the outbox never drained');
  }

  const verify = (secret: string, r: Received) =>
    new Webhook(secret).verify(r.body, headerRecord(r.headers)) as {
      type: string;
      timestamp: string;
      data: Record<string, unknown>;
    };

  async function subscribe(handler: Handler = answer(204), events?: string[]) {
    const rx = await receiver(handler);
    const created = await acme.webhooks.create(
      { url: `${rx.origin}/hook`, ...(events ? { events } : {}) },
      alice,
    );
    return { rx, ...created };
  }

  const eventCount = async (id = tenantId) =>
    (await asRuntime(t, id, (q) => q<{ n: number }>('SELECT count(*)::int AS n FROM events')))[0]!.n;

  it('every event reaches the receiver, signed with its secret, with ids and metadata only', async () => {
    const { rx, secret, subscription } = await subscribe();
    expect(secret).toMatch(/^whsec_/);
    const vault = await acme.vaults.create({ name: 'payments' }, alice);
    const c = await acme.credentials.store(
      { vaultId: vault.id, name: 'stripe', type: 'api_key', value: CANARY },
      alice,
    );
    await acme.credentials.rotate(c.id, `${CANARY}-2`, alice);
    await acme.credentials.update(c.id, { metadata: { team: 'billing' } }, alice);
    await acme.credentials.delete(c.id, {}, alice);
    await acme.credentials.restore(c.id, alice);
    await acme.vaults.rotateKey(vault.id, alice);
    await acme.vaults.delete(vault.id, { force: true }, alice);
    await drain();

    // Attempted concurrently, so compared in event order: ids are UUIDv7s, made in order.
    const messages = rx.received
      .map((r) => ({ id: String(r.headers['webhook-id']), ...verify(secret, r) }))
      .sort((x, y) => x.id.localeCompare(y.id));
    expect(messages.map((m) => m.type)).toEqual([
      'vault.created',
      'credential.created',
      'credential.rotated',
      'credential.updated',
      'credential.deleted',
      'credential.restored',
      'key.rotated',
      'vault.deleted',
    ]);
    for (const m of messages) expect(m.data.tenantId).toBe(tenantId);
    expect(messages[1]!.data).toMatchObject({
      vaultId: vault.id,
      credentialId: c.id,
      name: 'stripe',
      version: 1,
    });
    expect(messages[2]!.data).toMatchObject({ credentialId: c.id, version: 2 });
    expect(messages[6]!.data).toMatchObject({ vaultId: vault.id, version: 2 });
    const page = await acme.webhooks.deliveries(subscription.id, {}, alice);
    expect(page.items).toHaveLength(8);
    for (const d of page.items)
      expect(d).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 204 });
    await acme.webhooks.delete(subscription.id, alice);
  });

  it('the outbox row commits with its change, and not without it', async () => {
    const before = await eventCount();
    // A refused store (no such vault) and a body that fails after emitting: neither leaves an event.
    await expectCode(
      acme.credentials.store(
        { vaultId: '0190d5a0-0000-7000-8000-000000000000', name: 'x', type: 'api_key', value: CANARY },
        alice,
      ),
      'NOT_FOUND',
    );
    const failsAfterEmitting = defineUseCase({
      action: 'store',
      capability: 'credentials:write',
      input: z.object({}),
      logs: 'every attempt',
      async body(op) {
        await op.emit('credential.created', { credentialId: 'never' });
        throw new Error('the store failed after the event was written');
      },
    });
    await expectCode(acme.run(failsAfterEmitting, {}, alice), 'INTERNAL');
    expect(await eventCount()).toBe(before);
    const vault = await acme.vaults.create({ name: 'committed' }, alice);
    expect(await eventCount()).toBe(before + 1);
    await acme.vaults.delete(vault.id, {}, alice);
  });

  it('a receiver that fails, then recovers, gets every event at least once (dedupe by webhook-id)', async () => {
    let failuresLeft = 7;
    const { rx, secret, subscription } = await subscribe((_req, res) => {
      if (failuresLeft-- > 0) res.writeHead(503).end('down');
      else res.writeHead(200).end('ok');
    });
    const vault = await acme.vaults.create({ name: 'flaky' }, alice);
    for (const name of ['a', 'b', 'c']) {
      await acme.credentials.store({ vaultId: vault.id, name, type: 'api_key', value: CANARY }, alice);
    }
    await drain();
    const received = rx.received.map((r) => ({ id: String(r.headers['webhook-id']), ...verify(secret, r) }));
    const unique = new Map(received.map((m) => [m.id, m.type]));
    expect([...unique.values()].sort()).toEqual(
      ['credential.created', 'credential.created', 'credential.created', 'vault.created'].sort(),
    );
    expect(received.length).toBeGreaterThan(unique.size); // retried, with the same webhook-id
    const page = await acme.webhooks.deliveries(subscription.id, {}, alice);
    for (const d of page.items) expect(d.status).toBe('delivered');
    expect(page.items.some((d) => d.attempts > 1)).toBe(true);
    expect((await acme.webhooks.list({}, alice)).items.find((s) => s.id === subscription.id)).toMatchObject({
      consecutiveFailures: 0,
      disabledAt: null,
    });
    await acme.webhooks.delete(subscription.id, alice);
    await acme.vaults.delete(vault.id, { force: true }, alice);
  });

  it('a subscription whose deliveries keep failing is given up on, then disabled, with a webhook.disabled event', async () => {
    const { subscription } = await subscribe(answer(500), ['vault.created']);
    const watcher = await subscribe(answer(204), ['webhook.disabled']);
    for (let i = 0; i < 5; i++) await acme.vaults.create({ name: `doomed-${i}` }, alice);
    await drain();
    const [sub] = (await acme.webhooks.list({}, alice)).items.filter((s) => s.id === subscription.id);
    expect(sub!.disabledAt).not.toBeNull();
    const page = await acme.webhooks.deliveries(subscription.id, {}, alice);
    expect(page.items.map((d) => d.status)).toEqual(Array(5).fill('failed'));
    expect(page.items[0]!.lastError).toMatch(/^HTTP_STATUS/);
    const notices = watcher.rx.received.map((r) => verify(watcher.secret, r));
    expect(notices).toEqual([
      expect.objectContaining({
        type: 'webhook.disabled',
        data: expect.objectContaining({ subscriptionId: subscription.id }),
      }),
    ]);
    await expectCode(acme.webhooks.test(subscription.id, alice), 'CONFLICT');
    await acme.webhooks.delete(subscription.id, alice);
    await acme.webhooks.delete(watcher.subscription.id, alice);
  });

  it('a disabled subscription enabled again gets the events made from then on, its failures reset, logged', async () => {
    let up = false;
    const { rx, secret, subscription } = await subscribe(
      (_req, res) => res.writeHead(up ? 204 : 500).end(),
      ['vault.created'],
    );
    for (let i = 0; i < 5; i++) await acme.vaults.create({ name: `down-${i}` }, alice);
    await drain();
    const [sub] = (await acme.webhooks.list({}, alice)).items.filter((s) => s.id === subscription.id);
    expect(sub).toMatchObject({ consecutiveFailures: 5, disabledAt: expect.any(Date) });
    await acme.vaults.create({ name: 'while-disabled' }, alice);
    up = true;

    expect(await acme.webhooks.enable(subscription.id, alice)).toMatchObject({
      id: subscription.id,
      consecutiveFailures: 0,
      disabledAt: null,
    });
    // Enabling an enabled subscription changes nothing.
    expect(await acme.webhooks.enable(subscription.id, alice)).toMatchObject({ disabledAt: null });
    const vault = await acme.vaults.create({ name: 'after-enable' }, alice);
    const before = rx.received.length;
    await drain();
    expect(rx.received.slice(before).map((r) => verify(secret, r).data.vaultId)).toEqual([vault.id]);
    const { eventId } = await acme.webhooks.test(subscription.id, alice);
    expect(eventId).toBeTruthy();

    const rows = await acme.audit.query({ action: 'webhook_enable' }, alice);
    expect(rows.items.map((r) => [r.outcome, r.reason])).toEqual([
      ['granted', `webhook ${subscription.id}`],
      ['granted', `webhook ${subscription.id}`],
    ]);
    await expectCode(acme.webhooks.enable('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', alice), 'NOT_FOUND');
    await acme.webhooks.delete(subscription.id, alice);
  });

  it("the subscription's URL is one the server still allows: enabling one it now refuses is a CONFLICT", async () => {
    const { subscription } = await subscribe();
    const strict = await assemble(t.db, {
      config: { ...testConfig(t.prefix, t.rootKey), webhooks: { intervalMs: 0, allowPrivateUrls: false } },
      logger: silentLogger,
    });
    const err = await expectCode(
      strict.forTenant(tenantId).webhooks.enable(subscription.id, alice),
      'CONFLICT',
    );
    expect(err.message).toMatch(/^the subscription's url must use https now; delete it/);
    expect(err.message).not.toContain('127.0.0.1');
    await acme.webhooks.delete(subscription.id, alice);
  });

  it('a test message goes to its subscription only', async () => {
    const one = await subscribe(answer(204), ['credential.created']);
    const two = await subscribe();
    const { eventId } = await acme.webhooks.test(one.subscription.id, alice);
    await drain();
    expect(one.rx.received.map((r) => [r.headers['webhook-id'], verify(one.secret, r).type])).toEqual([
      [eventId, 'webhook.test'],
    ]);
    expect(two.rx.received).toHaveLength(0);
    await acme.webhooks.delete(one.subscription.id, alice);
    await acme.webhooks.delete(two.subscription.id, alice);
  });

  it('the subscription secret is not stored in clear', async () => {
    const { secret, subscription } = await subscribe();
    const [row] = await t.db.transaction((c) =>
      c.query<Record<string, unknown>>('SELECT * FROM webhook_subscriptions WHERE id = $1', [
        subscription.id,
      ]),
    );
    const raw = Buffer.from(secret.slice('whsec_'.length), 'base64');
    for (const [column, value] of Object.entries(row!)) {
      const bytes = Buffer.from(value instanceof Uint8Array ? value : String(value));
      expect(bytes.includes(raw), column).toBe(false);
      expect(bytes.toString('latin1').includes(secret), column).toBe(false);
      expect(bytes.toString('latin1').includes(secret.slice(6)), column).toBe(false);
    }
    expect(
      (await acme.webhooks.list({}, alice)).items.find((s) => s.id === subscription.id),
    ).not.toHaveProperty('secret');
    await acme.webhooks.delete(subscription.id, alice);
  });

  it('no secret value appears in any event, delivery row, response or log', async () => {
    const { rx } = await subscribe();
    const vault = await acme.vaults.create({ name: 'canary' }, alice);
    const c = await acme.credentials.store(
      { vaultId: vault.id, name: 'k', type: 'api_key', value: CANARY },
      alice,
    );
    await acme.credentials.rotate(c.id, `${CANARY}-rotated`, alice);
    await drain();
    const dump = await t.db.transaction(async (q) =>
      JSON.stringify([
        await q.query('SELECT * FROM events'),
        await q.query('SELECT * FROM webhook_deliveries'),
      ]),
    );
    expect(dump).not.toContain('CANARY');
    expect(JSON.stringify(rx.received)).not.toContain('CANARY');
    expect(logs.text()).not.toContain('CANARY');
    expect(logs.text()).not.toContain('whsec_');
  });

  it("another tenant neither sees nor claims a tenant's subscriptions and deliveries", async () => {
    const { subscription } = await subscribe(answer(204));
    await acme.vaults.create({ name: 'isolated' }, alice);
    const other = t.registry.forTenant(otherId);
    expect((await other.webhooks.list({}, alice)).items).toEqual([]);
    await expectCode(other.webhooks.deliveries(subscription.id, {}, alice), 'NOT_FOUND');
    await expectCode(other.webhooks.delete(subscription.id, alice), 'NOT_FOUND');
    await expectCode(other.webhooks.test(subscription.id, alice), 'NOT_FOUND');
    for (const table of ['events', 'webhook_subscriptions', 'webhook_deliveries']) {
      const [r] = await asRuntime(t, otherId, (q) =>
        q<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`),
      );
      expect(r!.n, table).toBe(0);
    }
    // The platform role sees pending deliveries' ids and due times only, and nothing else of them.
    const asPlatform = (sql: string) =>
      t.db.transaction((c) => c.query(sql), `SELECT set_config('role', '${t.roles.platform}', true)`);
    const pending = await asPlatform('SELECT tenant_id, id, next_attempt_at FROM webhook_deliveries');
    expect(pending.length).toBeGreaterThan(0);
    for (const column of ['subscription_id', 'event_id', 'last_error']) {
      await expect(asPlatform(`SELECT ${column} FROM webhook_deliveries`), column).rejects.toThrow(
        /permission denied/,
      );
    }
    for (const table of ['events', 'webhook_subscriptions']) {
      await expect(asPlatform(`SELECT count(*) FROM ${table}`), table).rejects.toThrow(/permission denied/);
    }
    await expect(asPlatform("UPDATE webhook_deliveries SET status = 'delivered'")).rejects.toThrow(
      /permission denied/,
    );
    await drain();
    expect((await asPlatform('SELECT id FROM webhook_deliveries')).length).toBe(0); // delivered rows vanish from its view
    await acme.webhooks.delete(subscription.id, alice);
  });

  it('a webhook event type outside the list is refused', async () => {
    const rx = await receiver();
    await expectCode(
      acme.webhooks.create({ url: rx.origin, events: ['credential.revealed'] }, alice),
      'VALIDATION',
    );
  });
});

describeEachBackend('webhook URLs without private addresses allowed', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
  });
  afterAll(() => t.close());

  it('a private, loopback or plain-http URL is refused at subscribe time', async () => {
    for (const url of [
      'http://127.0.0.1:9/hook',
      'https://10.0.0.1/hook',
      'https://localhost/x',
      'http://hooks.example.com/x',
    ]) {
      const err = await expectCode(acme.webhooks.create({ url }, alice), 'VALIDATION');
      expect(err.message, url).toMatch(/^url /);
      expect(err.message).not.toContain(url);
    }
    expect((await acme.webhooks.list({}, alice)).items).toEqual([]);
    const rows = await acme.audit.query({ action: 'webhook_create' }, alice);
    expect(rows.items.map((r) => r.outcome)).toEqual(Array(4).fill('invalid'));
  });
});

describe('event payloads', () => {
  it('credential events carry ids, name and version only', async () => {
    const { credentialEventData } = await import('../../src/core/events.js');
    expect(credentialEventData({ id: 'c', vaultId: 'v', name: 'n', currentVersion: 3 })).toEqual({
      vaultId: 'v',
      credentialId: 'c',
      name: 'n',
      version: 3,
    });
  });
});

describeEachBackend('webhook secrets across a root key rotation', (backend) => {
  it('a root rotation moves subscription keys too, and signing works once the old root key is gone', async () => {
    const oldRoot = randomBytes(32).toString('base64');
    const newRoot = randomBytes(32).toString('base64');
    const t = await openTestRegistry(backend, {
      rootKey: oldRoot,
      config: { webhooks: { intervalMs: 0, allowPrivateUrls: true } },
    });
    const open = (root: string, previous: string[]) =>
      assemble(t.db, {
        config: {
          ...testConfig(t.prefix, root),
          previousKeyProviders: previous.map(localKey),
          webhooks: { intervalMs: 0, allowPrivateUrls: true },
        },
        logger: silentLogger,
      });
    try {
      const tenantId = (await t.registry.tenants.create({ name: 'acme' })).id;
      const rx = await receiver();
      const { secret } = await t.registry.forTenant(tenantId).webhooks.create({ url: rx.origin }, alice);
      const rotating = await open(newRoot, [oldRoot]);
      expect((await rotating.rootKeyStatus()).remaining).toBe(1);
      expect(await rotating.rotateRoot(alice)).toEqual({ rewrapped: 1, failed: 0 });
      expect((await rotating.rootKeyStatus()).remaining).toBe(0);
      const after = await open(newRoot, []);
      await after.forTenant(tenantId).vaults.create({ name: 'v' }, alice);
      expect(await after.deliverWebhooks()).toMatchObject({ claimed: 1, delivered: 1 });
      const [r] = rx.received;
      expect(new Webhook(secret).verify(r!.body, headerRecord(r!.headers))).toMatchObject({
        type: 'vault.created',
      });
    } finally {
      await t.close();
    }
  });
});
