/**
 * `/ui` as HTTP, without a browser: what is cached and what never is, the CSP on every answer, the
 * console's own routing, and a console that is not built or turned off. And `GET /v1/whoami`,
 * which the console reads to show what a token may do.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

const backend = BACKENDS[0]!;

function fakeBuild(): string {
  const dir = mkdtempSync(join(tmpdir(), 'credreg-ui-fake-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><title>console</title><script type="module" src="/ui/assets/app-abc123.js"></script>',
  );
  writeFileSync(join(dir, 'assets', 'app-abc123.js'), 'console.log("hi")');
  return dir;
}

describe('the console at /ui', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(backend, { consoleDir: fakeBuild() });
  });
  afterAll(() => s?.stop());

  it('answers its page at /ui/, never cached, under a strict CSP', async () => {
    const r = await s.call('GET', '/ui/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/html');
    expect(r.text).toContain('<title>console</title>');
    expect(r.headers.get('cache-control')).toBe('no-store');
    const csp = r.headers.get('content-security-policy')!;
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
    expect(r.headers.get('x-frame-options')).toBe('DENY');
  });

  it('answers the same page for any path under /ui/, so a deep link or a reload works', async () => {
    for (const path of [
      '/ui/vaults',
      '/ui/credentials/0190e9c2-0000-7000-8000-000000000000',
      '/ui/audit?actor=x',
    ]) {
      const r = await s.call('GET', path);
      expect(r.status, path).toBe(200);
      expect(r.text).toContain('<title>console</title>');
      expect(r.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('sends / and /ui to /ui/', async () => {
    for (const path of ['/', '/ui']) {
      const r = await fetch(`${s.base}${path}`, { redirect: 'manual' });
      expect(r.status, path).toBe(302);
      expect(r.headers.get('location')).toBe('/ui/');
    }
  });

  it('caches a hashed asset for good, and answers a missing one 404 (not the page)', async () => {
    const asset = await s.call('GET', '/ui/assets/app-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-security-policy')).toContain("script-src 'self'");
    const missing = await s.call('GET', '/ui/assets/app-old999.js');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
  });

  it('is not in the API document', async () => {
    const doc = (await s.call('GET', '/openapi.json')).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/ui') || p === '/')).toEqual([]);
  });
});

describe('a console that is not there', () => {
  it('answers /ui with a problem that says how to build it', async () => {
    const s = await startServer(backend, { consoleDir: mkdtempSync(join(tmpdir(), 'credreg-ui-empty-')) });
    try {
      const r = await s.call('GET', '/ui/vaults');
      expect(r.status).toBe(404);
      expect((r.body as { detail: string }).detail).toContain('npm run build');
    } finally {
      await s.stop();
    }
  });

  it('answers /ui with a problem that says it is turned off', async () => {
    const s = await startServer(backend);
    try {
      const r = await s.call('GET', '/ui/');
      expect(r.status).toBe(404);
      expect((r.body as { detail: string }).detail).toContain('CREDREG_CONSOLE_DIR=off');
    } finally {
      await s.stop();
    }
  });
});

describe('GET /v1/whoami', () => {
  let s: TestServer;
  let seeded: Awaited<ReturnType<typeof seedTenant>>;
  beforeAll(async () => {
    s = await startServer(backend);
    seeded = await seedTenant(s, 'whoami');
  });
  afterAll(() => s?.stop());

  it("answers a tenant token's tenant, principal, role and capabilities, never its secret", async () => {
    const r = await s.call('GET', '/v1/whoami', { token: seeded.tokens.reader });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body).toMatchObject({
      kind: 'tenant',
      tenantId: seeded.tenant.id,
      principalId: seeded.principal.id,
      role: 'reader',
      vaultId: null,
      capabilities: ['vaults:read', 'credentials:read', 'credentials:reveal'],
    });
    expect(r.text).not.toContain(seeded.tokens.reader.split('.').at(-1));
  });

  it('answers the capabilities of each role as the server enforces them', async () => {
    const of = async (role: 'admin' | 'writer' | 'auditor') =>
      ((await s.call('GET', '/v1/whoami', { token: seeded.tokens[role] })).body as { capabilities: string[] })
        .capabilities;
    expect(await of('admin')).toContain('tokens:manage');
    expect(await of('writer')).not.toContain('credentials:reveal');
    expect(await of('auditor')).toEqual(['vaults:read', 'credentials:read', 'audit:read']);
  });

  it('leaves out what a token limited to one vault can never do', async () => {
    const vault = await seeded.t.vaults.create({ name: 'scoped' }, seeded.ctx);
    const { token } = await seeded.t.tokens.create(
      { principalId: seeded.principal.id, role: 'admin', vaultId: vault.id },
      seeded.ctx,
    );
    const r = (await s.call('GET', '/v1/whoami', { token })).body as {
      vaultId: string;
      capabilities: string[];
    };
    expect(r.vaultId).toBe(vault.id);
    expect(r.capabilities).toContain('credentials:reveal');
    for (const c of ['tokens:manage', 'principals:manage', 'vaults:create', 'webhooks:manage'])
      expect(r.capabilities).not.toContain(c);
  });

  it('answers a platform token as platform', async () => {
    const platformToken = (await s.registry.authenticator.bootstrap())!;
    const r = await s.call('GET', '/v1/whoami', { token: platformToken });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ kind: 'platform' });
  });

  it('refuses no token or a bad one with 401, and a query parameter with 400', async () => {
    expect((await s.call('GET', '/v1/whoami')).status).toBe(401);
    expect((await s.call('GET', '/v1/whoami', { token: 'crt.nope' })).status).toBe(401);
    const r = await s.call('GET', '/v1/whoami?role=admin', { token: seeded.tokens.reader });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
  });
});
