/**
 * `oauth2_refresh` through the registry, against a real OAuth 2.0 server (oidc-provider, refresh
 * tokens rotated): the token is due by its own `expires_at`, refreshed by the scheduler and before
 * a reveal, exactly once for any number of concurrent reveals, and a refused refresh token marks
 * the credential for re-authorization instead of being retried.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { openPg } from '../../src/db/pg-adapter.js';
import { assemble, type RegistryHandle } from '../../src/main.js';
import type { OAuth2Token } from '../../src/rotators/oauth2-refresh.js';
import {
  BACKENDS,
  describeEachBackend,
  openTestRegistry,
  silentLogger,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';
import { waitUntil } from '../helpers/wait.js';
import { type OAuthServer, startOAuthServer } from '../rotators/oauth2-server.js';

const alice = { actor: 'alice' };
const MINUTE = 60_000;

describeEachBackend('oauth2_refresh through the registry', (backend) => {
  let t: TestRegistry;
  let server: OAuthServer;
  let acme: TenantRegistry;
  let vaultId: string;
  let clientId: string;
  const canary = `canary-${randomUUID()}`;

  beforeAll(async () => {
    server = await startOAuthServer(canary);
    t = await openTestRegistry(backend, {
      config: { webhooks: { intervalMs: 0, allowPrivateUrls: true } },
    });
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    vaultId = (await acme.vaults.create({ name: 'oauth' }, alice)).id;
    clientId = (
      await acme.credentials.store(
        { vaultId, name: 'client', type: 'oauth2_client', value: server.rotating },
        alice,
      )
    ).id;
  });
  afterAll(async () => {
    await t?.registry.close();
    await t?.close();
    await server?.close();
  });

  let n = 0;
  /**
   * An oauth2_token whose access token expires `inMs` from the registry's now (its test clock;
   * `real`: the database's, which the scheduler's queue is due by).
   */
  const storeToken = async (inMs: number, { real = false } = {}) => {
    const value: OAuth2Token = {
      access_token: `at-${randomUUID()}`,
      refresh_token: await server.mint(server.rotating),
      expires_at: new Date((real ? Date.now() : t.clock.now().getTime()) + inMs).toISOString(),
    };
    const c = await acme.credentials.store(
      {
        vaultId,
        name: `token-${++n}`,
        type: 'oauth2_token',
        value,
        rotation: { rotator: { type: 'oauth2_refresh', clientCredential: clientId } },
      },
      alice,
    );
    return { id: c.id, value, credential: c };
  };
  const reveal = (id: string, extra: object = {}) =>
    acme.credentials.reveal(id, { ...alice, reason: 'call the API', ...extra });
  const sql = <R = Record<string, unknown>>(text: string, params: unknown[] = []) =>
    t.db.transaction((q) => q.query<R>(text, params));
  const rows = (id: string) =>
    sql<{ action: string; outcome: string; actor: string; reason: string | null }>(
      'SELECT action, outcome, actor, reason FROM credential_access_log WHERE credential_id = $1 ORDER BY occurred_at, id',
      [id],
    );

  it('is due by its expires_at minus the lead (5 minutes), with no schedule of its own', async () => {
    const { credential, value } = await storeToken(60 * MINUTE);
    expect(credential.rotation?.schedule).toBeNull();
    expect(credential.rotation?.nextRotationAt?.getTime()).toBe(Date.parse(value.expires_at!) - 5 * MINUTE);
    // Not due yet: a reveal answers the stored token and calls nothing.
    const before = server.tokenRequests;
    expect((await reveal(credential.id)).value).toEqual(value);
    expect(server.tokenRequests).toBe(before);
  });

  it('50 concurrent reveals of a due token make exactly one refresh, and all of them answer the new token', async () => {
    const { id, value } = await storeToken(10 * MINUTE);
    t.clock.advance(9 * MINUTE); // inside the lead: 20% of a 10-minute lifetime
    const before = server.tokenRequests;
    const revealed = await Promise.all(Array.from({ length: 50 }, () => reveal(id)));
    expect(server.tokenRequests - before).toBe(1);
    const fresh = revealed[0]!.value as OAuth2Token;
    expect(fresh.access_token).not.toBe(value.access_token);
    expect(await server.isActive(server.rotating, fresh.access_token)).toBe(true);
    for (const r of revealed) expect(r).toMatchObject({ version: 2, value: fresh });
    // One row per reveal (none for the ones that waited), and the refresh's own rows.
    const log = await rows(id);
    expect(log.filter((r) => r.action === 'reveal' && r.actor === 'alice')).toHaveLength(50);
    expect(log.filter((r) => r.actor === 'system:refresh' && r.action === 'rotate')).toEqual(
      expect.arrayContaining([expect.objectContaining({ outcome: 'granted' })]),
    );
    // The new token is due by its own expiry, and the old refresh token is spent.
    const after = await acme.credentials.get(id, alice);
    expect(after.rotation).toMatchObject({ state: 'idle', previousVersion: 1 });
    expect(after.rotation?.nextRotationAt?.getTime()).toBe(Date.parse(fresh.expires_at!) - 5 * MINUTE);
    // The previous stage still holds the old value.
    expect((await reveal(id, { stage: 'previous' })).value).toEqual(value);
    expect((await acme.credentials.listVersions(id, alice)).map((v) => [v.version, v.stages])).toEqual([
      [2, ['current']],
      [1, ['previous']],
    ]);
  });

  it('the scheduler refreshes a due token by itself, once', async () => {
    // The queue is due by the database's clock: a token that expired a minute ago is due there.
    const { id } = await storeToken(-MINUTE, { real: true });
    const before = server.tokenRequests;
    // Other tests' tokens may be due too: run until this one is refreshed.
    for (let i = 0; i < 5 && (await acme.credentials.get(id, alice)).currentVersion === 1; i++) {
      await t.registry.rotateDue({ limit: 100 });
    }
    expect((await acme.credentials.get(id, alice)).currentVersion).toBe(2);
    // Only this token is due by the database's clock: the others' next refresh is an hour ahead.
    expect(server.tokenRequests - before).toBe(1);
    const calls = server.tokenRequests;
    await t.registry.rotateDue({ limit: 100 });
    await reveal(id);
    expect(server.tokenRequests).toBe(calls);
  });

  it('a refused refresh token marks it needs_reauthorization, emits the event, and is not retried; a new token by hand starts over', async () => {
    const { id, value } = await storeToken(10 * MINUTE);
    await server.revoke(server.rotating, value.refresh_token!);
    t.clock.advance(9 * MINUTE);
    const before = server.tokenRequests;
    // The reveal still answers what is current (the access token has minutes left).
    expect((await reveal(id)).value).toEqual(value);
    expect(server.tokenRequests - before).toBe(1);
    const c = await acme.credentials.get(id, alice);
    expect(c.rotation).toMatchObject({ state: 'needs_reauthorization', nextRotationAt: null });
    expect(c.rotation?.lastError?.code).toBe('INVALID_GRANT');
    const events = await sql<{ type: string; data: Record<string, unknown> }>(
      "SELECT type, data FROM events WHERE data->>'credentialId' = $1 AND type = 'credential.needs_reauthorization'",
      [id],
    );
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events)).not.toContain(String(value.refresh_token));
    // Not retried by reveals or the scheduler.
    await reveal(id);
    await t.registry.rotateDue({ limit: 100 });
    expect(server.tokenRequests - before).toBe(1);

    // The user authorizes again: the new token, given by hand, is due by its own expiry again.
    const fresh: OAuth2Token = {
      access_token: `at-${randomUUID()}`,
      refresh_token: await server.mint(server.rotating),
      expires_at: new Date(t.clock.now().getTime() + 60 * MINUTE).toISOString(),
    };
    const rotated = await acme.credentials.rotate(id, fresh, { ...alice, expectedVersion: 1 });
    expect(rotated.credential.rotation).toMatchObject({ state: 'idle', lastError: null, attempts: 0 });
    expect(rotated.credential.rotation?.nextRotationAt?.getTime()).toBe(
      Date.parse(String(fresh.expires_at)) - 5 * MINUTE,
    );
  });

  it('a token endpoint that fails for now is retried with backoff, not at every reveal', async () => {
    let calls = 0;
    const down = createServer((_req, res) => {
      calls++;
      res.writeHead(503).end();
    });
    down.listen(0, '127.0.0.1');
    await once(down, 'listening');
    try {
      const client = await acme.credentials.store(
        {
          vaultId,
          name: `down-client-${++n}`,
          type: 'oauth2_client',
          value: {
            ...server.keeping,
            token_url: `http://127.0.0.1:${(down.address() as AddressInfo).port}/token`,
          },
        },
        alice,
      );
      const value: OAuth2Token = {
        access_token: `at-${randomUUID()}`,
        refresh_token: 'rt-unused',
        expires_at: new Date(t.clock.now().getTime() + 10 * MINUTE).toISOString(),
      };
      const { id } = await acme.credentials.store(
        {
          vaultId,
          name: `token-${++n}`,
          type: 'oauth2_token',
          value,
          rotation: { rotator: { type: 'oauth2_refresh', clientCredential: client.id } },
        },
        alice,
      );
      t.clock.advance(9 * MINUTE);
      for (let i = 0; i < 5; i++) expect((await reveal(id)).value).toEqual(value);
      expect(calls).toBe(1);
      const c = await acme.credentials.get(id, alice);
      expect(c.rotation).toMatchObject({ state: 'failed', attempts: 1 });
      expect(c.rotation?.nextRotationAt?.getTime()).toBe(t.clock.now().getTime() + MINUTE);
      // The retry comes when its time does.
      t.clock.advance(MINUTE);
      await reveal(id);
      expect(calls).toBe(2);
      expect((await acme.credentials.get(id, alice)).rotation).toMatchObject({ attempts: 2 });
    } finally {
      down.closeAllConnections();
      down.close();
    }
  });

  it('setting the rotator later (PATCH) reads the due time from the current token', async () => {
    const value: OAuth2Token = {
      access_token: `at-${randomUUID()}`,
      refresh_token: await server.mint(server.rotating),
      expires_at: new Date(t.clock.now().getTime() + 30 * MINUTE).toISOString(),
    };
    const c = await acme.credentials.store(
      { vaultId, name: `token-${++n}`, type: 'oauth2_token', value },
      alice,
    );
    const updated = await acme.credentials.update(
      c.id,
      { rotation: { rotator: { type: 'oauth2_refresh', clientCredential: clientId, leadSeconds: 600 } } },
      alice,
    );
    expect(updated.rotation?.nextRotationAt?.getTime()).toBe(Date.parse(value.expires_at!) - 10 * MINUTE);
  });

  it('a stage is revealed on request; a version and a stage together, or a stage that is empty, are refused', async () => {
    const { id, value } = await storeToken(60 * MINUTE);
    expect((await reveal(id, { stage: 'current' })).value).toEqual(value);
    await expect(reveal(id, { stage: 'pending' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(reveal(id, { stage: 'previous' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(reveal(id, { stage: 'current', version: 1 })).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    await expect(reveal(id, { stage: 'next' })).rejects.toMatchObject({ code: 'VALIDATION' });
    const log = await rows(id);
    expect(log.filter((r) => r.outcome !== 'granted').map((r) => r.outcome)).toEqual([
      'not_found',
      'not_found',
      'invalid',
      'invalid',
    ]);
  });

  it('no token or client secret reaches the events or the access log', async () => {
    const dump = JSON.stringify([
      await sql('SELECT * FROM events'),
      await sql('SELECT * FROM credential_access_log'),
    ]);
    expect(dump).not.toContain(canary);
    expect(dump).not.toMatch(/"access_token"|"refresh_token"/);
  });
});

const postgres = BACKENDS.find((b) => b.name === 'postgres');

describe.skipIf(!postgres)('oauth2_refresh across two instances [postgres]', () => {
  let t: TestRegistry;
  let second: RegistryHandle;
  let server: OAuthServer;

  beforeAll(async () => {
    server = await startOAuthServer(`canary-${randomUUID()}`);
    const config = { webhooks: { intervalMs: 0, allowPrivateUrls: true } };
    t = await openTestRegistry(postgres!, { config });
    // The same database and root key, its own pool and process state: another instance.
    second = await assemble(openPg({ connectionString: t.url!, maxConnections: 10 }), {
      config: { ...testConfig(t.prefix, t.rootKey), ...config },
      logger: silentLogger,
      clock: t.clock,
    });
  });
  afterAll(async () => {
    await second?.close();
    await t?.registry.close();
    await t?.close();
    await server?.close();
  });

  it('a reveal on another instance while a refresh runs waits for it and answers its token: one refresh', async () => {
    const tenantId = (await t.registry.tenants.create({ name: 'acme' })).id;
    const [a, b] = [t.registry.forTenant(tenantId), second.forTenant(tenantId)];
    const vaultId = (await a.vaults.create({ name: 'oauth' }, alice)).id;
    const clientCredential = (
      await a.credentials.store(
        { vaultId, name: 'client', type: 'oauth2_client', value: server.rotating },
        alice,
      )
    ).id;
    const { id } = await a.credentials.store(
      {
        vaultId,
        name: 'token',
        type: 'oauth2_token',
        value: {
          access_token: 'old',
          refresh_token: await server.mint(server.rotating),
          expires_at: new Date(t.clock.now().getTime() + 10 * MINUTE).toISOString(),
        },
        rotation: { rotator: { type: 'oauth2_refresh', clientCredential } },
      },
      alice,
    );
    t.clock.advance(9 * MINUTE);
    const release = server.hold();
    const before = server.tokenRequests;
    const onA = a.credentials.reveal(id, { ...alice, reason: 'a' });
    // A's refresh is at the token endpoint, holding the lease.
    await waitUntil(async () => server.tokenRequests > before, 'the refresh to reach the token endpoint');
    const onB = b.credentials.reveal(id, { ...alice, reason: 'b' });
    // B found the token due and the lease taken: its refresher's refusal is in the log.
    await waitUntil(async () => {
      const rows = await b.audit.query({ credentialId: id, action: 'rotate', limit: 100 });
      return rows.items.some((r) => r.actor === 'system:refresh' && r.outcome === 'conflict');
    }, "the second instance's refresher to find the rotation running");
    expect((await b.credentials.get(id, alice)).currentVersion).toBe(1);
    release();
    const [fromA, fromB] = await Promise.all([onA, onB]);
    expect(server.tokenRequests - before).toBe(1);
    expect(fromA.version).toBe(2);
    expect(fromB).toMatchObject({ version: 2, value: fromA.value });
  });
});
