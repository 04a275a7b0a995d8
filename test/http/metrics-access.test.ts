/**
 * Who may read /metrics: nobody by default; with CREDREG_METRICS_TOKEN, a scraper presenting that
 * token on the main listener; with CREDREG_METRICS_LISTEN, whoever can reach that separate address.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, loadMigrationConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { HttpMetrics } from '../../src/http/metrics.js';
import { buildMetricsApp, METRICS_NOT_SERVED } from '../../src/http/metrics-routes.js';
import { BACKENDS, openTestRegistry, type TestRegistry } from '../helpers/backends.js';
import { captureLogs } from '../helpers/logs.js';
import { collect, credreg, exited, freePort, LISTENING } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

// Access to /metrics is the HTTP layer's; the database backend does not matter here.
const backend = BACKENDS[0]!;
const TOKEN = randomBytes(32).toString('base64url');

interface Stand {
  t: TestRegistry;
  base: string;
  /** The separate metrics listener, when one was asked for. */
  metricsBase?: string;
  metricsApp?: FastifyInstance;
  logs: () => string;
  get(base: string, path: string, headers?: Record<string, string>, method?: string): Promise<Answer>;
  stop(): Promise<void>;
}
interface Answer {
  status: number;
  type: string;
  text: string;
  body: Record<string, unknown>;
  headers: Headers;
}

/** The app wired as `credreg serve` wires it: one collector, shared with the separate listener. */
async function start(options: { token?: string; separate?: boolean }): Promise<Stand> {
  const captured = captureLogs('info');
  const t = await openTestRegistry(backend);
  const collector = new HttpMetrics(t.registry);
  const app = await buildApp(t.registry, {
    logger: captured.logger,
    http: { trustedProxies: [], bodyLimit: 256 * 1024, rateLimitPerMinute: 1_000_000 },
    metrics: { token: options.token, collector },
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const metricsApp = options.separate
    ? await buildMetricsApp(collector, { logger: captured.logger })
    : undefined;
  const metricsBase = await metricsApp?.listen({ host: '127.0.0.1', port: 0 });
  return {
    t,
    base,
    ...(metricsBase ? { metricsBase, metricsApp } : {}),
    logs: captured.text,
    async get(at, path, headers = {}, method = 'GET') {
      const res = await fetch(`${at}${path}`, { method, headers });
      const text = await res.text();
      let body: Record<string, unknown> = {};
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        // the metrics text
      }
      return {
        status: res.status,
        type: res.headers.get('content-type') ?? '',
        text,
        body,
        headers: res.headers,
      };
    },
    async stop() {
      await metricsApp?.close();
      await app.close();
      await t.close();
    },
  };
}

/** A counter's value in a scrape, or 0 when the series is not there yet. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('the scrape settings', () => {
  it('default to neither: no token, no separate listener', () => {
    expect(loadConfig({}).metrics).toEqual({ token: undefined, listen: undefined });
    expect(Object.isFrozen(loadConfig({}).metrics)).toBe(true);
  });

  it('read a token and a separate listener address', () => {
    const c = loadConfig({ CREDREG_METRICS_TOKEN: TOKEN, CREDREG_METRICS_LISTEN: '127.0.0.1:9464' });
    expect(c.metrics).toEqual({ token: TOKEN, listen: { host: '127.0.0.1', port: 9464 } });
    // Base64 with padding, as `openssl rand -base64 32` prints it.
    const padded = randomBytes(32).toString('base64');
    expect(loadConfig({ CREDREG_METRICS_TOKEN: padded }).metrics.token).toBe(padded);
  });

  it('refuse a token shorter than 32 characters, naming the setting and never quoting the value', () => {
    const short = 'a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p'; // 31
    let message = '';
    try {
      loadConfig({ CREDREG_METRICS_TOKEN: short });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/CREDREG_METRICS_TOKEN must be at least 32 characters/);
    expect(message).not.toContain(short);
    expect(() => loadConfig({ CREDREG_METRICS_TOKEN: `${short}x` })).not.toThrow();
  });

  it('refuse an empty token rather than read it as unset', () => {
    expect(() => loadConfig({ CREDREG_METRICS_TOKEN: '' })).toThrow(/CREDREG_METRICS_TOKEN/);
  });

  it('refuse a token an Authorization header cannot carry as it is', () => {
    for (const bad of [`${TOKEN} x`, `${TOKEN}ü`, `${TOKEN}"`, `=${TOKEN}`, 'x'.repeat(1025)]) {
      let message = '';
      try {
        loadConfig({ CREDREG_METRICS_TOKEN: bad });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, bad.slice(0, 50)).toMatch(/CREDREG_METRICS_TOKEN/);
      expect(message).not.toContain(TOKEN);
    }
  });

  it("refuse a malformed separate listener address, or the main listener's own", () => {
    for (const bad of ['9464', 'localhost', 'host:port', '127.0.0.1:99999', ' 127.0.0.1:9464']) {
      expect(() => loadConfig({ CREDREG_METRICS_LISTEN: bad }), bad).toThrow(/CREDREG_METRICS_LISTEN/);
    }
    expect(() => loadConfig({ CREDREG_METRICS_LISTEN: '127.0.0.1:8200' })).toThrow(
      /CREDREG_METRICS_LISTEN must be another address than CREDREG_LISTEN/,
    );
  });

  it('are checked by `credreg migrate` too, like the rest of the environment', () => {
    expect(() => loadMigrationConfig({ CREDREG_METRICS_TOKEN: 'short' })).toThrow(/CREDREG_METRICS_TOKEN/);
  });
});

describe('/metrics on the main listener, by default', () => {
  let s: Stand;
  beforeAll(async () => {
    s = await start({});
  });
  afterAll(() => s.stop());

  it('answers 404 with a problem naming the two settings that enable it, and no metric', async () => {
    const r = await s.get(s.base, '/metrics');
    expect(r.status).toBe(404);
    expect(r.type).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({ status: 404, code: 'NOT_FOUND', detail: METRICS_NOT_SERVED });
    expect(String(r.body.detail)).toMatch(/CREDREG_METRICS_TOKEN.*CREDREG_METRICS_LISTEN/);
    expect(r.text).not.toContain('credreg_');
    expect((await s.get(s.base, '/metrics', {}, 'HEAD')).status).toBe(404);
  });

  it('no credential opens it: not a bearer token, not an API token', async () => {
    const platform = (await s.t.registry.authenticator.bootstrap())!;
    for (const token of [TOKEN, platform]) {
      const r = await s.get(s.base, '/metrics', { authorization: `Bearer ${token}` });
      expect(r.status).toBe(404);
      expect(r.text).not.toContain('credreg_');
    }
  });

  it('the rest of the service is unaffected', async () => {
    expect((await s.get(s.base, '/healthz')).status).toBe(200);
  });
});

describe('/metrics on the main listener, with a scrape token', () => {
  let s: Stand;
  let platform: string;
  beforeAll(async () => {
    s = await start({ token: TOKEN });
    platform = (await s.t.registry.authenticator.bootstrap())!;
  });
  afterAll(() => s.stop());

  const unauthenticated = (r: Answer) => {
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
    expect(r.type).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(String(r.body.detail)).toMatch(/CREDREG_METRICS_TOKEN/);
    expect(r.text).not.toContain('credreg_http');
  };

  it('refuses a scrape without Authorization with 401 and a problem', async () => {
    unauthenticated(await s.get(s.base, '/metrics'));
    expect((await s.get(s.base, '/metrics', {}, 'HEAD')).status).toBe(401);
  });

  it('refuses a wrong token with 401, whatever its length, and never echoes it', async () => {
    const sameLength = randomBytes(32).toString('base64url');
    for (const wrong of [sameLength, TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), 'x']) {
      const r = await s.get(s.base, '/metrics', { authorization: `Bearer ${wrong}` });
      unauthenticated(r);
      expect(r.text).not.toContain(wrong);
    }
  });

  it('refuses the token under another scheme, or with anything after it', async () => {
    for (const authorization of [
      TOKEN,
      `Basic ${TOKEN}`,
      `Basic ${Buffer.from(`prometheus:${TOKEN}`).toString('base64')}`,
      `Bearer ${TOKEN} ${TOKEN}`,
      `Bearer`,
    ]) {
      unauthenticated(await s.get(s.base, '/metrics', { authorization }));
    }
  });

  it('refuses API tokens: the platform admin token does not grant it', async () => {
    unauthenticated(await s.get(s.base, '/metrics', { authorization: `Bearer ${platform}` }));
    // The token is an API token there, and the scrape token is not one.
    expect((await s.get(s.base, '/v1/tenants', { authorization: `Bearer ${platform}` })).status).toBe(200);
    expect((await s.get(s.base, '/v1/tenants', { authorization: `Bearer ${TOKEN}` })).status).toBe(401);
  });

  it('serves the metrics with the right token (scheme in any case), counting the refusals as denials', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const r = await s.get(s.base, '/metrics', { authorization: `${scheme} ${TOKEN}` });
      expect(r.status).toBe(200);
      expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
      for (const name of [
        'credreg_http_requests_total',
        'credreg_http_request_duration_seconds_bucket',
        'credreg_root_key_calls_total',
        'credreg_vault_key_cache_hits_total',
      ]) {
        expect(r.text).toContain(name);
      }
      expect(
        sample(r.text, 'credreg_http_requests_total{route="/metrics",method="GET",status="401"}'),
      ).toBeGreaterThan(0);
      expect(sample(r.text, 'credreg_denials_total{status="401"}')).toBeGreaterThan(0);
    }
    expect((await s.get(s.base, '/metrics', { authorization: `Bearer ${TOKEN}` }, 'HEAD')).status).toBe(200);
  });

  it('never logs the scrape token', () => {
    expect(s.logs()).toContain('/metrics');
    expect(s.logs()).not.toContain(TOKEN);
  });
});

describe('a separate metrics listener', () => {
  let s: Stand;
  beforeAll(async () => {
    s = await start({ separate: true });
  });
  afterAll(() => s.stop());

  it('serves /metrics without a token, with the main listener’s requests in it', async () => {
    const before = await s.get(s.metricsBase!, '/metrics');
    expect(before.status).toBe(200);
    expect(before.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const series = 'credreg_http_requests_total{route="/healthz",method="GET",status="200"}';
    for (let i = 0; i < 3; i++) expect((await s.get(s.base, '/healthz')).status).toBe(200);
    const after = await s.get(s.metricsBase!, '/metrics');
    expect(sample(after.text, series) - sample(before.text, series)).toBe(3);
    expect(after.text).toContain('credreg_root_key_calls_total');
  });

  it('the main listener then does not serve /metrics', async () => {
    const r = await s.get(s.base, '/metrics');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ code: 'NOT_FOUND', detail: METRICS_NOT_SERVED });
  });

  it('serves nothing else: other paths and methods answer 404 problems', async () => {
    for (const path of ['/', '/healthz', '/readyz', '/v1/tenants', '/openapi.json', '/docs', '/metrics/x']) {
      const r = await s.get(s.metricsBase!, path);
      expect(r.status, path).toBe(404);
      expect(r.type).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({ code: 'NOT_FOUND' });
    }
    expect((await s.get(s.metricsBase!, '/metrics', {}, 'POST')).status).toBe(404);
    expect((await s.get(s.metricsBase!, '/metrics', {}, 'DELETE')).status).toBe(404);
  });

  it('its own scrapes are not counted in the main listener’s request metrics', async () => {
    const series = (text: string) =>
      text.split('\n').filter((l) => l.startsWith('credreg_http_requests_total{route="/metrics"'));
    const before = series((await s.get(s.metricsBase!, '/metrics')).text);
    await s.get(s.metricsBase!, '/metrics');
    expect(series((await s.get(s.metricsBase!, '/metrics')).text)).toEqual(before);
  });

  it('stops answering once closed', async () => {
    await s.metricsApp!.close();
    await expect(fetch(`${s.metricsBase}/metrics`)).rejects.toThrow();
    expect((await s.get(s.base, '/healthz')).status).toBe(200);
  });
});

describe('a separate metrics listener whose scrape fails', () => {
  it('answers a 500 problem with a fixed text, and logs why', async () => {
    const captured = captureLogs('info');
    const broken = new HttpMetrics({
      keyRingStats() {
        throw new Error('key ring stats unavailable: secret-detail');
      },
    });
    const app = await buildMetricsApp(broken, { logger: captured.logger });
    try {
      const base = await app.listen({ host: '127.0.0.1', port: 0 });
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({
        code: 'INTERNAL',
        detail: 'the server failed to complete the request',
      });
      expect(text).not.toContain('secret-detail');
      expect(captured.text()).toMatch(/metrics scrape failed/);
    } finally {
      await app.close();
    }
  });
});

describe('a separate metrics listener and a scrape token together', () => {
  let s: Stand;
  beforeAll(async () => {
    s = await start({ token: TOKEN, separate: true });
  });
  afterAll(() => s.stop());

  it('the main listener needs the token, the separate one does not', async () => {
    expect((await s.get(s.base, '/metrics')).status).toBe(401);
    expect((await s.get(s.base, '/metrics', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await s.get(s.metricsBase!, '/metrics')).status).toBe(200);
  });
});

describe('credreg serve with CREDREG_METRICS_LISTEN', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const env = () => {
    const dir = mkdtempSync(join(tmpdir(), 'credreg-metrics-'));
    dirs.push(dir);
    return {
      CREDREG_DATA_DIR: join(dir, 'data'),
      CREDREG_LISTEN: '127.0.0.1:0',
      CREDREG_MAINTENANCE_INTERVAL_MS: '0',
      CREDREG_AUDIT_SEAL_INTERVAL_MS: '0',
      CREDREG_AUDIT_SINK_INTERVAL_MS: '0',
      CREDREG_LOG_LEVEL: 'info',
    };
  };
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('serves /metrics there, not on the main listener, and closes both on SIGTERM', async () => {
    const port = await freePort();
    const child = credreg(['serve'], { ...env(), CREDREG_METRICS_LISTEN: `127.0.0.1:${port}` });
    children.push(child);
    const log = collect(child);
    const base = (
      await waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`credreg serve exited during start-up:\n${log.out()}`);
          return log.out().match(LISTENING);
        },
        'the listening line',
        240_000,
      )
    )[1]!;
    expect(log.out()).toContain(`metrics served without a token on http://127.0.0.1:${port}/metrics`);
    const scrape = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('credreg_http_requests_total');
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  }, 300_000);

  it('refuses to start when the metrics address is taken, naming the setting, before the main listener opens', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const { port } = taken.address() as { port: number };
    try {
      const child = credreg(['serve'], { ...env(), CREDREG_METRICS_LISTEN: `127.0.0.1:${port}` });
      children.push(child);
      const log = collect(child);
      // A setting the service cannot use is a configuration error: exit 2 (see the exit codes in the README).
      expect(await exited(child)).toBe(2);
      expect(log.out()).toMatch(
        new RegExp(`credreg: CREDREG_METRICS_LISTEN=127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
      );
      expect(log.out()).not.toMatch(LISTENING);
    } finally {
      taken.close();
    }
  }, 180_000);
});
