/**
 * `/healthz` says the process answers; `/readyz` says whether this instance can serve: the
 * database reachable with a current schema, and the root key provider reachable. A load balancer
 * takes an instance whose provider is gone out of rotation, and puts it back by itself.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { assemble, type RegistryHandle } from '../../src/main.js';
import { describeEachBackend, silentLogger, type TestDatabase, testConfig } from '../helpers/backends.js';
import { transitStandIn } from '../helpers/transit-stand-in.js';
import { waitUntil } from '../helpers/wait.js';

describeEachBackend('/healthz and /readyz', (backend) => {
  let t: TestDatabase;
  let registry: RegistryHandle;
  let transit: Awaited<ReturnType<typeof transitStandIn>>;
  let base: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    t = await backend.open();
    transit = await transitStandIn();
    registry = await assemble(t.db, {
      config: {
        ...testConfig(t.prefix),
        keyProvider: {
          kind: 'vault-transit',
          addr: transit.addr,
          token: 'test-token',
          key: 'credreg',
          mount: 'transit',
        },
        keyProviderGuard: { timeoutMs: 10_000, breakAfter: 3, openMs: 500 },
      },
      logger: silentLogger,
    });
    const app = await buildApp(registry, {
      http: { trustedProxies: [], bodyLimit: 256 * 1024, rateLimitPerMinute: 1_000_000 },
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    close = async () => {
      await app.close();
      await registry.close();
      transit.server.close();
    };
  });
  afterAll(async () => {
    await close();
    await t.close();
  });

  const readyz = async () => {
    const res = await fetch(`${base}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('is ready with both checks passing, and names each', async () => {
    const r = await readyz();
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      status: 'ready',
      checks: {
        database: { ready: true, detail: expect.stringMatching(/^schema at version \d+$/) },
        rootKeyProvider: { ready: true, detail: 'root key provider vault-transit reachable' },
      },
    });
  });

  it('turns not ready (503) when the root key provider goes away, while /healthz stays 200; and ready again when it is back', async () => {
    transit.state.status = 503;
    await waitUntil(async () => (await readyz()).status === 503, '/readyz to fail');
    const down = await readyz();
    expect(down.body).toMatchObject({
      status: 'not_ready',
      checks: { database: { ready: true }, rootKeyProvider: { ready: false } },
    });
    expect(JSON.stringify(down.body)).not.toMatch(/test-token/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    transit.state.status = null;
    await waitUntil(async () => (await readyz()).status === 200, '/readyz to recover');
  });
});
