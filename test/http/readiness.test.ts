/**
 * `/healthz` says the process answers; `/readyz` says whether this instance can serve: the
 * database reachable with a current schema, and the root key provider reachable. A load balancer
 * takes an instance whose provider is gone out of rotation, and puts it back by itself.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { assemble, type Readiness, type RegistryHandle } from '../../src/main.js';
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
    return { status: res.status, body: (await res.json()) as Readiness & { status: string } };
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

  it.runIf(backend.name === 'postgres')(
    'turns not ready on a read-only database (a standby reached during a failover), and ready again',
    async () => {
      const admin = new pg.Client({ connectionString: t.url });
      await admin.connect();
      const db = new URL(t.url!).pathname.slice(1);
      // New sessions start read-only, as on a standby; dropping the pool's sessions makes it reconnect.
      const flip = async (on: boolean) => {
        await admin.query(`ALTER DATABASE ${db} SET default_transaction_read_only = ${on ? 'on' : 'off'}`);
        await admin.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [db],
        );
      };
      try {
        await flip(true);
        await waitUntil(async () => (await readyz()).status === 503, '/readyz to see a read-only database');
        expect((await readyz()).body.checks.database).toEqual({
          ready: false,
          detail: 'database is read-only (a standby?)',
        });
      } finally {
        await flip(false);
        await admin.end();
      }
      await waitUntil(async () => (await readyz()).status === 200, '/readyz to recover');
    },
  );
});
