/**
 * The `webhook` rotator end to end over HTTP, on every backend, against a rotation endpoint in the
 * test (`helpers/rotation-endpoint.ts`: a node:http server that verifies every request with the
 * `standardwebhooks` library using the signing secret the registry showed once, performs
 * create/set/test/finish on a stand-in SaaS and records each call). The registry's clock is moved,
 * never slept on.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeAfterEach } from '../events/receiver.js';
import { asRuntime, describeEachBackend } from '../helpers/backends.js';
import { captureLogs } from '../helpers/logs.js';
import { rotationEndpoint } from '../helpers/rotation-endpoint.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

closeAfterEach();

const DAY_MS = 86_400_000;

describeEachBackend('the webhook rotator over HTTP', (backend) => {
  let s: TestServer;
  let seed: Awaited<ReturnType<typeof seedTenant>>;
  let vaultId: string;
  let logs: ReturnType<typeof captureLogs>;
  /** Every signing secret the registry showed in this suite, for the canary at the end. */
  const shown: string[] = [];
  let n = 0;

  beforeAll(async () => {
    logs = captureLogs('trace');
    s = await startServer(backend, {
      logger: logs.logger,
      config: { webhooks: { intervalMs: 0, allowPrivateUrls: true } },
    });
    seed = await seedTenant(s, 'rot');
    vaultId = (await seed.t.vaults.create({ name: 'v' }, seed.ctx)).id;
  });
  afterAll(() => s.stop());

  /** Stores an api_key rotated by the webhook rotator at `url`; answers it with the secret shown. */
  async function store(url: string, value: string) {
    const res = await s.call('POST', `/v1/vaults/${vaultId}/credentials`, {
      token: seed.tokens.admin,
      body: { name: `k${++n}`, type: 'api_key', value, rotation: { rotator: { type: 'webhook', url } } },
    });
    expect(res.status, res.text).toBe(201);
    const body = res.body as { id: string; rotation: { signingSecret?: string } };
    expect(body.rotation.signingSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    shown.push(body.rotation.signingSecret!);
    return { id: body.id, secret: body.rotation.signingSecret!, text: res.text };
  }

  const rotate = (id: string) =>
    s.call('POST', `/v1/credentials/${id}/rotate`, { token: seed.tokens.writer, body: {} });
  const reveal = async (id: string) =>
    (
      (
        await s.call('POST', `/v1/credentials/${id}/reveal`, {
          token: seed.tokens.reader,
          body: { reason: 'check' },
        })
      ).body as { value: string; version: number }
    ).value;
  const secretRows = (id: string) =>
    s.db.transaction((c) =>
      c.query<Record<string, unknown>>('SELECT * FROM rotation_endpoint_secrets WHERE credential_id = $1', [
        id,
      ]),
    );

  it('storing with the webhook rotator shows its signing secret once, and nowhere after', async () => {
    const endpoint = await rotationEndpoint('sk_first');
    const { id, secret } = await store(endpoint.url, 'sk_first');
    const raw = secret.slice('whsec_'.length);
    const reads = [
      await s.call('GET', `/v1/credentials/${id}`, { token: seed.tokens.reader }),
      await s.call('GET', `/v1/vaults/${vaultId}/credentials`, { token: seed.tokens.reader }),
      await s.call('GET', `/v1/credentials/${id}/versions`, { token: seed.tokens.reader }),
      await s.call('GET', `/v1/audit?credentialId=${id}`, { token: seed.tokens.auditor }),
    ];
    for (const r of reads) {
      expect(r.status, r.text).toBe(200);
      expect(r.text).not.toContain(raw);
      expect(r.text).not.toContain('signingSecret');
    }
    expect((reads[0]!.body as { rotation: unknown }).rotation).toMatchObject({
      rotator: { type: 'webhook', url: endpoint.url },
      state: 'idle',
    });
    const dump = await s.db.transaction(async (c) =>
      JSON.stringify([
        await c.query('SELECT * FROM events'),
        await c.query('SELECT * FROM credential_access_log'),
        await c.query('SELECT rotation FROM stored_credentials'),
      ]),
    );
    expect(dump).not.toContain(raw);
    // Stored only sealed: no column holds the secret or its key bytes.
    const [row] = await secretRows(id);
    for (const [column, value] of Object.entries(row!)) {
      const bytes = Buffer.from(value instanceof Uint8Array ? value : String(value));
      expect(bytes.includes(Buffer.from(raw, 'base64')), column).toBe(false);
      expect(bytes.toString('latin1').includes(raw), column).toBe(false);
    }
  });

  it('POST …/rotate without a value runs create, set, test and finish; the new value becomes current', async () => {
    const endpoint = await rotationEndpoint('sk_before');
    const { id, secret } = await store(endpoint.url, 'sk_before');
    endpoint.secrets.push(secret);
    const rotated = await rotate(id);
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.body).toMatchObject({ version: 2, credential: { currentVersion: 2 } });
    expect(endpoint.calls).toEqual(
      ['create', 'set', 'test', 'finish'].map((step) => ({ step, verifiedWith: 0, signatures: 1 })),
    );
    const value = await reveal(id);
    expect(value).toMatch(/^sk_/);
    expect(value).not.toBe('sk_before');
    expect([...endpoint.accepted]).toEqual([value]); // finish retired the old key
    const log = await seed.t.audit.query({ credentialId: id, action: 'rotate' });
    expect(log.items.every((e) => e.outcome === 'granted')).toBe(true);
    expect(log.items.map((e) => e.reason).join('\n')).toContain('webhook');
  });

  it('a request the endpoint cannot verify is refused; the rotation fails with its error recorded, the value stays', async () => {
    const endpoint = await rotationEndpoint('sk_kept');
    const { id } = await store(endpoint.url, 'sk_kept');
    endpoint.secrets.push(`whsec_${randomBytes(32).toString('base64')}`); // not the one the registry holds
    const failed = await rotate(id);
    expect(failed.status, failed.text).toBe(502);
    expect(failed.body).toMatchObject({ code: 'ROTATION_FAILED' });
    expect(endpoint.calls).toEqual([{ step: 'create', verifiedWith: null, signatures: 1 }]);
    const meta = (await s.call('GET', `/v1/credentials/${id}`, { token: seed.tokens.reader })).body as {
      currentVersion: number;
      rotation: { state: string; lastError: { code: string; message: string }; pendingVersion: null };
    };
    expect(meta.currentVersion).toBe(1);
    expect(meta.rotation).toMatchObject({ state: 'failed', pendingVersion: null });
    expect(meta.rotation.lastError.code).toBe('TARGET_REFUSED');
    expect(meta.rotation.lastError.message).toContain('HTTP 401, bad_signature');
    expect(await reveal(id)).toBe('sk_kept');
    const log = await seed.t.audit.query({ credentialId: id, action: 'rotate' });
    expect(log.items.some((e) => e.outcome === 'error' && e.errorCode === 'ROTATION_FAILED')).toBe(true);
  });

  it('replacing the signing secret shows the new one once; both sign during the overlap, then the old one is dropped', async () => {
    const endpoint = await rotationEndpoint('sk_0');
    const { id, secret: first } = await store(endpoint.url, 'sk_0');
    for (const token of [seed.tokens.reader, seed.tokens.auditor]) {
      const refused = await s.call('POST', `/v1/credentials/${id}/rotation/signing-secret`, { token });
      expect(refused.status).toBe(403);
    }
    const replaced = await s.call('POST', `/v1/credentials/${id}/rotation/signing-secret`, {
      token: seed.tokens.writer,
    });
    expect(replaced.status, replaced.text).toBe(200);
    const { signingSecret: second, previousRetiresAt } = replaced.body as {
      signingSecret: string;
      previousRetiresAt: string;
    };
    shown.push(second);
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    expect(new Date(previousRetiresAt).getTime()).toBe(s.clock.now().getTime() + DAY_MS);
    const meta = await s.call('GET', `/v1/credentials/${id}`, { token: seed.tokens.reader });
    expect(meta.text).not.toContain(second.slice(6));

    // An endpoint that still has only the old secret, then one that has only the new: both verify.
    endpoint.secrets.splice(0, Infinity, first);
    expect((await rotate(id)).status).toBe(200);
    endpoint.secrets.splice(0, Infinity, second);
    expect((await rotate(id)).status).toBe(200);
    expect(endpoint.calls.map((c) => [c.verifiedWith, c.signatures])).toEqual(Array(8).fill([0, 2]));

    // After the overlap the old one no longer signs, and its row is gone.
    s.clock.advance(DAY_MS + 1000);
    endpoint.calls.length = 0;
    endpoint.secrets.splice(0, Infinity, first);
    expect((await rotate(id)).status).toBe(502);
    expect(endpoint.calls).toEqual([{ step: 'create', verifiedWith: null, signatures: 1 }]);
    endpoint.secrets.splice(0, Infinity, second);
    expect((await rotate(id)).status).toBe(200);
    expect(await secretRows(id)).toHaveLength(1);

    // Replacing twice within an overlap drops the first at once: never more than two.
    for (let i = 0; i < 2; i++) {
      const again = await s.call('POST', `/v1/credentials/${id}/rotation/signing-secret`, {
        token: seed.tokens.admin,
      });
      shown.push((again.body as { signingSecret: string }).signingSecret);
    }
    expect(await secretRows(id)).toHaveLength(2);
    const log = await seed.t.audit.query({ credentialId: id, action: 'update' });
    expect(log.items.filter((e) => e.outcome === 'granted').map((e) => e.reason)).toContain(
      `webhook rotator: signing secret replaced; the previous one is signed with until ${previousRetiresAt}`,
    );
  });

  it('a writer, who may not reveal, may not point a value at a URL: setting the webhook rotator takes reveal too', async () => {
    const endpoint = await rotationEndpoint('sk_w');
    const refused = await s.call('POST', `/v1/vaults/${vaultId}/credentials`, {
      token: seed.tokens.writer,
      body: {
        name: `k${++n}`,
        type: 'api_key',
        value: 'sk_w',
        rotation: { rotator: { type: 'webhook', url: endpoint.url } },
      },
    });
    expect(refused.status, refused.text).toBe(403);
    const { id } = await store(endpoint.url, 'sk_w');
    const moved = await s.call('PATCH', `/v1/credentials/${id}`, {
      token: seed.tokens.writer,
      body: { rotation: { rotator: { type: 'webhook', url: `${endpoint.url}/elsewhere` } } },
    });
    expect(moved.status, moved.text).toBe(403);
    const rows = await s.db.transaction((c) =>
      c.query<{ outcome: string }>(
        "SELECT outcome FROM credential_access_log WHERE credential_id = $1 AND action = 'update'",
        [id],
      ),
    );
    expect(rows.map((r) => r.outcome)).toEqual(['denied']);
    // The settings are the admin's still.
    const meta = await s.call('GET', `/v1/credentials/${id}`, { token: seed.tokens.reader });
    expect((meta.body as { rotation: { rotator: { url: string } } }).rotation.rotator.url).toBe(endpoint.url);
  });

  it('removing the rotator, or switching to another, drops its signing secrets', async () => {
    const endpoint = await rotationEndpoint('sk_x');
    const { id } = await store(endpoint.url, 'sk_x');
    const patch = (rotation: unknown) =>
      s.call('PATCH', `/v1/credentials/${id}`, { token: seed.tokens.admin, body: { rotation } });
    // Other settings, the same rotator: the endpoint keeps its secret.
    const moved = await patch({ schedule: 'P7D', rotator: { type: 'webhook', url: `${endpoint.url}/v2` } });
    expect(moved.status, moved.text).toBe(200);
    expect((moved.body as { rotation: object }).rotation).not.toHaveProperty('signingSecret');
    expect(await secretRows(id)).toHaveLength(1);
    expect((await patch({ rotator: { type: 'random' } })).status).toBe(200);
    expect(await secretRows(id)).toHaveLength(0);
    const back = await patch({ rotator: { type: 'webhook', url: endpoint.url } });
    const secret = (back.body as { rotation: { signingSecret: string } }).rotation.signingSecret;
    shown.push(secret);
    expect(secret).toMatch(/^whsec_/);
    expect(await secretRows(id)).toHaveLength(1);
    expect((await patch(null)).status).toBe(200);
    expect(await secretRows(id)).toHaveLength(0);
    const none = await s.call('POST', `/v1/credentials/${id}/rotation/signing-secret`, {
      token: seed.tokens.writer,
    });
    expect(none.status).toBe(409);
  });

  it('row-level security: another tenant, no tenant and the platform role see no signing secret', async () => {
    const endpoint = await rotationEndpoint('sk_rls');
    const { id } = await store(endpoint.url, 'sk_rls');
    const other = (await s.registry.tenants.create({ name: 'other' })).id;
    const count = (tenant: string | null) =>
      asRuntime(s, tenant, (q) =>
        q<{ n: number }>('SELECT count(*)::int AS n FROM rotation_endpoint_secrets'),
      );
    expect((await count(seed.tenant.id))[0]!.n).toBeGreaterThan(0);
    expect((await count(other))[0]!.n).toBe(0);
    expect((await count(null))[0]!.n).toBe(0);
    await expect(
      asRuntime(s, other, (q) =>
        q(`UPDATE rotation_endpoint_secrets SET retires_at = now() WHERE credential_id = $1 RETURNING id`, [
          id,
        ]),
      ),
    ).resolves.toEqual([]);
    await expect(
      asRuntime(s, other, (q) =>
        q(
          `INSERT INTO rotation_endpoint_secrets (tenant_id, id, credential_id, wrapped_key, provider, provider_key_id,
                                                  secret_ciphertext, created_by, created_at)
           SELECT $1, gen_random_uuid(), $2, '\\x00', 'local', 'k', '\\x00', 'mallory', now()`,
          [seed.tenant.id, id],
        ),
      ),
    ).rejects.toThrow(/row-level security/);
    await expect(
      s.db.transaction(
        (c) => c.query('SELECT count(*) FROM rotation_endpoint_secrets'),
        `SELECT set_config('role', '${s.roles.platform}', true)`,
      ),
    ).rejects.toThrow(/permission denied/);
    // Through the API, another tenant's credential answers as a missing one.
    const stranger = await seedTenant(s, 'stranger');
    const foreign = await s.call('POST', `/v1/credentials/${id}/rotation/signing-secret`, {
      token: stranger.tokens.admin,
    });
    expect(foreign.status).toBe(404);
  });

  it('canary: no signing secret the registry showed appears in any log line', async () => {
    expect(shown.length).toBeGreaterThanOrEqual(8);
    const text = logs.text();
    expect(text.length).toBeGreaterThan(0);
    for (const secret of shown) {
      expect(text).not.toContain(secret.slice('whsec_'.length));
    }
    expect(text).not.toContain('whsec_');
  });
});
