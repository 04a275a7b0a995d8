/**
 * The webhook routes over HTTP: admins only, never a vault-scoped token; the secret shown once;
 * a private URL refused when the server does not allow them (the default).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend } from '../helpers/backends.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

describeEachBackend('webhook routes', (backend) => {
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

  const url = 'https://hooks.example.com/in';

  it('an admin subscribes, lists, tests, reads deliveries and unsubscribes', async () => {
    const created = await s.call('POST', '/v1/webhooks', { token: seed.tokens.admin, body: { url } });
    expect(created.status).toBe(201);
    const body = created.body as { id: string; secret: string; url: string; events: null };
    expect(body).toMatchObject({ url, events: null, disabledAt: null });
    expect(body.secret).toMatch(/^whsec_/);
    const list = await s.call('GET', '/v1/webhooks', { token: seed.tokens.admin });
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(body.secret);
    expect((list.body as { items: Array<{ id: string }> }).items.map((i) => i.id)).toEqual([body.id]);
    const one = await s.call('GET', `/v1/webhooks/${body.id}`, { token: seed.tokens.admin });
    expect(one.status).toBe(200);
    expect(one.body).toEqual((list.body as { items: unknown[] }).items[0]);
    expect(one.text).not.toContain(body.secret);
    expect(Object.keys(one.body as object)).not.toContain('secretCiphertext');
    const test = await s.call('POST', `/v1/webhooks/${body.id}/test`, { token: seed.tokens.admin });
    expect(test.status).toBe(202);
    const deliveries = await s.call('GET', `/v1/webhooks/${body.id}/deliveries`, {
      token: seed.tokens.admin,
    });
    expect(deliveries.status).toBe(200);
    expect((deliveries.body as { items: unknown[] }).items).toEqual([
      expect.objectContaining({ eventType: 'webhook.test', status: 'pending', attempts: 0 }),
    ]);
    const enabled = await s.call('POST', `/v1/webhooks/${body.id}/enable`, { token: seed.tokens.admin });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ id: body.id, disabledAt: null, consecutiveFailures: 0 });
    expect(enabled.text).not.toContain(body.secret);
    expect((await s.call('DELETE', `/v1/webhooks/${body.id}`, { token: seed.tokens.admin })).status).toBe(
      204,
    );
    expect((await s.call('DELETE', `/v1/webhooks/${body.id}`, { token: seed.tokens.admin })).status).toBe(
      404,
    );
    expect((await s.call('GET', `/v1/webhooks/${body.id}`, { token: seed.tokens.admin })).status).toBe(404);
  });

  it('writers, readers, auditors and vault-scoped tokens are refused, and logged', async () => {
    for (const token of [seed.tokens.writer, seed.tokens.reader, seed.tokens.auditor, scoped]) {
      expect((await s.call('POST', '/v1/webhooks', { token, body: { url } })).status).toBe(403);
      expect((await s.call('GET', '/v1/webhooks', { token })).status).toBe(403);
    }
    const log = await seed.t.audit.query({ action: 'webhook_create' }, seed.ctx);
    expect(log.items.filter((r) => r.outcome === 'denied')).toHaveLength(4);
  });

  it('a private or loopback URL is refused (400) without quoting it', async () => {
    for (const target of ['http://127.0.0.1:8080/x', 'https://169.254.169.254/latest', 'https://[::1]/x']) {
      const res = await s.call('POST', '/v1/webhooks', { token: seed.tokens.admin, body: { url: target } });
      expect(res.status, target).toBe(400);
      expect(res.text).not.toContain(target);
    }
  });
});
