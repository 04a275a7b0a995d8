import type { FastifyInstance } from 'fastify';
import type { Config } from '../../src/config.js';
import type { Logger } from '../../src/core/ports.js';
import type { TenantRegistry } from '../../src/core/registry.js';
import type { Role } from '../../src/core/types.js';
import { type AppOptions, buildApp } from '../../src/http/app.js';
import { openTestRegistry, type TestBackend, type TestRegistry } from '../helpers/backends.js';

export interface TestServer extends TestRegistry {
  app: FastifyInstance;
  base: string;
  /** A request with a bearer token (or none), returning status, headers and parsed body. */
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: unknown; text: string; headers: Headers }>;
  stop(): Promise<void>;
}

/** The real app on a loopback port, on a fresh database of the given backend. */
export async function startServer(
  backend: TestBackend,
  options: {
    rateLimitPerMinute?: number;
    logger?: Logger;
    metrics?: AppOptions['metrics'];
    /** Configuration over the test defaults (e.g. `webhooks.allowPrivateUrls`). */
    config?: Partial<Config>;
    /** The built console to serve at /ui. (Default: none) */
    consoleDir?: string;
  } = {},
): Promise<TestServer> {
  const t = await openTestRegistry(backend, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.config ? { config: options.config } : {}),
  });
  const app = await buildApp(t.registry, {
    ...(options.logger ? { logger: options.logger as never } : {}),
    http: {
      trustedProxies: [],
      bodyLimit: 256 * 1024,
      rateLimitPerMinute: options.rateLimitPerMinute ?? 1_000_000,
    },
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.consoleDir ? { consoleDir: options.consoleDir } : {}),
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    ...t,
    app,
    base,
    async call(method, path, { token, body, headers } = {}) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = text;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async stop() {
      await app.close();
      await t.close();
    },
  };
}

/** A tenant with an admin principal and one token per role, made through the library. */
export async function seedTenant(s: TestServer, name: string) {
  const tenant = await s.registry.tenants.create({ name });
  const t: TenantRegistry = s.registry.forTenant(tenant.id);
  const principal = await t.principals.create({ name: 'ops', kind: 'user' }, { actor: 'seed' });
  const ctx = { actor: 'seed' };
  const tokens = {} as Record<Role, string>;
  for (const role of ['admin', 'writer', 'reader', 'auditor'] as const) {
    tokens[role] = (await t.tokens.create({ principalId: principal.id, role }, ctx)).token;
  }
  return { tenant, t, principal, tokens, ctx };
}
