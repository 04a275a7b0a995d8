import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY_HEADERS } from '../../src/http/security-headers.js';
import { BACKENDS } from '../helpers/backends.js';
import { captureLogs } from '../helpers/logs.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

// Behaviour of the HTTP layer itself; the database backend does not matter here.
const backend = BACKENDS[0]!;
/** /metrics is closed by default; this suite scrapes the main listener with a token. */
const METRICS_TOKEN = randomBytes(32).toString('base64url');

describe('the HTTP service', () => {
  let s: TestServer;
  let seed: Awaited<ReturnType<typeof seedTenant>>;
  let credentialId: string;
  let logs: () => string;

  beforeAll(async () => {
    const captured = captureLogs('info');
    logs = captured.text;
    s = await startServer(backend, { logger: captured.logger, metrics: { token: METRICS_TOKEN } });
    seed = await seedTenant(s, 'svc');
    const vault = await seed.t.vaults.create({ name: 'v' }, seed.ctx);
    credentialId = (
      await seed.t.credentials.store(
        { vaultId: vault.id, name: 'c', type: 'api_key', value: 'the-value' },
        seed.ctx,
      )
    ).id;
  });
  afterAll(() => s.stop());

  it("records source IP, user agent, the server's request id and the caller's beside it", async () => {
    const r = await s.call('POST', `/v1/credentials/${credentialId}/reveal`, {
      token: seed.tokens.reader,
      body: { reason: 'deploy' },
      headers: { 'x-request-id': 'req-abc-123', 'user-agent': 'deployer/1.0' },
    });
    expect(r.status).toBe(200);
    const serverId = r.headers.get('x-request-id');
    expect(serverId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers.get('x-client-request-id')).toBe('req-abc-123');
    expect(r.headers.get('cache-control')).toBe('no-store');
    const [row] = (await seed.t.audit.query({ credentialId, action: 'reveal', limit: 1 })).items;
    expect(row).toMatchObject({
      requestId: serverId,
      clientRequestId: 'req-abc-123',
      userAgent: 'deployer/1.0',
      sourceIp: '127.0.0.1',
      reason: 'deploy',
    });
  });

  it('two requests with the same X-Request-Id get two request ids, and their rows cannot be confused', async () => {
    const send = () =>
      s.call('POST', `/v1/credentials/${credentialId}/reveal`, {
        token: seed.tokens.reader,
        body: { reason: 'twice' },
        headers: { 'x-request-id': 'same-id' },
      });
    const [a, b] = [await send(), await send()];
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
    const rows = (await seed.t.audit.query({ credentialId, action: 'reveal', limit: 2 })).items;
    expect(new Set(rows.map((e) => e.requestId)).size).toBe(2);
    expect(rows.map((e) => e.clientRequestId)).toEqual(['same-id', 'same-id']);
    // Problem documents carry both too.
    const refused = await s.call('POST', `/v1/credentials/${credentialId}/reveal`, {
      token: seed.tokens.reader,
      body: {},
      headers: { 'x-request-id': 'bad-one' },
    });
    expect(refused.body).toMatchObject({
      status: 400,
      clientRequestId: 'bad-one',
      requestId: expect.any(String),
    });
  });

  it('makes a request id always, and ignores an unprintable or overlong X-Request-Id', async () => {
    const r = await s.call('GET', '/healthz', { headers: { 'x-request-id': 'x'.repeat(300) } });
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers.get('x-client-request-id')).toBeNull();
  });

  it('sends every security header, on answers and refusals alike', async () => {
    for (const [path, status] of [
      ['/healthz', 200],
      ['/v2/nothing', 404],
      ['/v1/whoami', 401],
    ] as const) {
      const r = await s.call('GET', path);
      expect(r.status).toBe(status);
      for (const [name, value] of Object.entries(SECURITY_HEADERS))
        expect(r.headers.get(name), name).toBe(value);
    }
    expect(SECURITY_HEADERS).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
    });
  });

  it('answers unknown routes and methods with a problem document', async () => {
    for (const [method, path] of [
      ['GET', '/v2/nothing'],
      ['PUT', '/v1/vaults'],
    ] as const) {
      const r = await s.call(method, path, { token: seed.tokens.admin });
      expect(r.status).toBe(404);
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(r.body).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    }
  });

  it('refuses a body over the limit with 413, and malformed JSON with 400', async () => {
    const big = await s.call('POST', '/v1/vaults', {
      token: seed.tokens.admin,
      body: { name: 'x'.repeat(300 * 1024) },
    });
    expect(big.status).toBe(413);
    expect(big.headers.get('content-type')).toMatch(/problem\+json/);
    const bad = await s.call('POST', '/v1/vaults', { token: seed.tokens.admin, body: '{"name":' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('a value over 64 KiB is refused as VALIDATION and logged', async () => {
    const vault = (await seed.t.vaults.list()).items[0]!;
    const r = await s.call('POST', `/v1/vaults/${vault.id}/credentials`, {
      token: seed.tokens.writer,
      body: { name: 'huge', type: 'api_key', value: 'v'.repeat(64 * 1024 + 1) },
    });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'VALIDATION' });
  });

  it('publishes OpenAPI 3.1 with every operation, and renders /docs', async () => {
    const doc = (await s.call('GET', '/openapi.json')).body as {
      openapi: string;
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    for (const op of [
      'createTenant',
      'createToken',
      'revealCredential',
      'rotateCredential',
      'listAudit',
      'deleteVault',
    ]) {
      expect(ops).toContain(op);
    }
    const docs = await fetch(`${s.base}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toMatch(/swagger/i);
  });

  it('exposes Prometheus metrics: requests, latency, reveals, denials, key cache', async () => {
    await s.call('POST', `/v1/credentials/${credentialId}/reveal`, {
      token: seed.tokens.auditor,
      body: { reason: 'no' },
    });
    const text = (await s.call('GET', '/metrics', { token: METRICS_TOKEN })).text;
    for (const name of [
      'credreg_http_requests_total',
      'credreg_http_request_duration_seconds_bucket',
      'credreg_reveals_total{outcome="granted"}',
      'credreg_denials_total{status="403"}',
      'credreg_vault_key_cache_hits_total',
      'credreg_vault_key_cache_misses_total',
      'credreg_root_key_calls_total',
      'credreg_audit_write_failures_total',
    ]) {
      expect(text).toContain(name);
    }
    // What happened, in the access log's words: a malformed reveal is invalid, a refused one denied.
    await s.call('POST', `/v1/credentials/${credentialId}/reveal`, { token: seed.tokens.reader, body: {} });
    const after = (await s.call('GET', '/metrics', { token: METRICS_TOKEN })).text;
    expect(after).toMatch(/credreg_reveals_total\{outcome="invalid"\} [1-9]/);
    expect(after).toMatch(/credreg_reveals_total\{outcome="denied"\} [1-9]/);
    expect(after).not.toMatch(/credreg_reveals_total\{outcome="(INTERNAL|error)"\}/);
    expect(text).not.toContain(credentialId); // labels are route patterns, never ids
  });

  it('never logs a token or a revealed value', () => {
    expect(logs()).toContain('request completed');
    for (const token of Object.values(seed.tokens)) expect(logs()).not.toContain(token.split('.').at(-1));
    expect(logs()).not.toContain('the-value');
  });
});

describe('rate limiting', () => {
  let s: TestServer;
  let token: string;
  beforeAll(async () => {
    s = await startServer(backend, { rateLimitPerMinute: 3 });
    token = (await seedTenant(s, 'limited')).tokens.admin;
  });
  afterAll(() => s.stop());

  it('answers 429 with Retry-After past the per-token limit, and leaves health checks alone', async () => {
    for (let i = 0; i < 3; i++) expect((await s.call('GET', '/v1/vaults', { token })).status).toBe(200);
    const limited = await s.call('GET', '/v1/vaults', { token });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect((await s.call('GET', '/healthz')).status).toBe(200);
  });
});
