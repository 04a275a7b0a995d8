/**
 * The External Secrets Operator's webhook provider, as docs/kubernetes.md configures it: the exact
 * request it sends (POST, JSON content type, a bearer token, the body the store gives) to the
 * reveal-by-path route, and the JSON path it reads from the answer.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend } from '../helpers/backends.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

/** ESO's `result.jsonPath` for these stores: `$.value` and `$.value.<field>`. */
const jsonPath = (doc: unknown, path: string): unknown =>
  path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);

describeEachBackend('External Secrets Operator webhook provider', (backend) => {
  let s: TestServer;
  let seed: Awaited<ReturnType<typeof seedTenant>>;

  beforeAll(async () => {
    s = await startServer(backend);
    seed = await seedTenant(s, 'eso');
    const vault = await seed.t.vaults.create({ name: 'payments' }, seed.ctx);
    await seed.t.credentials.store(
      { vaultId: vault.id, name: 'stripe', type: 'api_key', value: 'sk_live_eso' },
      seed.ctx,
    );
    await seed.t.credentials.store(
      { vaultId: vault.id, name: 'db', type: 'basic_auth', value: { username: 'app', password: 'pw-eso' } },
      seed.ctx,
    );
  });
  afterAll(() => s.stop());

  /** The request ESO renders from the SecretStore in docs/kubernetes.md for `remoteRef.key`. */
  const esoRequest = (key: string, token: string) =>
    s.call('POST', `/v1/secrets/${key}/reveal`, {
      // Header names are case-insensitive; this key is the one the helper's own content type uses.
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{"reason":"external-secrets sync"}',
    });

  it('reads a text value at $.value and a field at $.value.password, each sync one logged reveal', async () => {
    const text = await esoRequest('payments/stripe', seed.tokens.reader);
    expect(text.status, text.text).toBe(200);
    expect(jsonPath(text.body, '$.value')).toBe('sk_live_eso');
    const structured = await esoRequest('payments/db', seed.tokens.reader);
    expect(jsonPath(structured.body, '$.value.password')).toBe('pw-eso');
    const rows = await seed.t.audit.query({ action: 'reveal', limit: 10 }, seed.ctx);
    expect(
      rows.items.filter((r) => r.reason === 'external-secrets sync' && r.outcome === 'granted'),
    ).toHaveLength(2);
  });

  it('a missing path is a 404 problem document (a sync error for ESO), and logged', async () => {
    const missing = await esoRequest('payments/nope', seed.tokens.reader);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const rows = await seed.t.audit.query({ action: 'reveal', outcome: 'not_found', limit: 10 }, seed.ctx);
    expect(rows.items.some((r) => r.reason === 'external-secrets sync')).toBe(true);
  });
});
