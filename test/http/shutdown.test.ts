/**
 * Graceful shutdown: closing the app (what SIGTERM does in `credreg serve`) stops accepting, lets
 * every request already received finish, then closes the store.
 */
import { expect, it } from 'vitest';
import { closeGracefully } from '../../src/http/app.js';
import { describeEachBackend } from '../helpers/backends.js';
import { captureLogs } from '../helpers/logs.js';
import { waitFor } from '../helpers/wait.js';
import { seedTenant, startServer } from './helpers.js';

describeEachBackend('graceful shutdown', (backend) => {
  it('in-flight reveals finish with 200 while the server closes', async () => {
    let logs: () => string;
    const captured = captureLogs('info');
    logs = captured.text;
    const s = await startServer(backend, { logger: captured.logger });
    const seed = await seedTenant(s, 'bye');
    const vault = await seed.t.vaults.create({ name: 'v' }, seed.ctx);
    const c = await seed.t.credentials.store(
      { vaultId: vault.id, name: 'c', type: 'api_key', value: 'x' },
      seed.ctx,
    );
    const received = () =>
      [...logs().matchAll(/"clientRequestId":"r-(\d+)"[^\n]*"msg":"incoming request"/g)].map((m) =>
        Number(m[1]),
      );
    let closing = Number.POSITIVE_INFINITY;
    const finishedAt: number[] = [];
    const reveals = Array.from({ length: 200 }, (_, i) =>
      s
        .call('POST', `/v1/credentials/${c.id}/reveal`, {
          token: seed.tokens.reader,
          body: { reason: 'shutdown' },
          headers: { 'x-request-id': `r-${i}` },
        })
        .then(
          (r) => {
            finishedAt[i] = performance.now();
            return r.status;
          },
          () => 0, // refused: never received, or received after the server stopped listening
        ),
    );
    while (received().length < 10) await new Promise((r) => setTimeout(r, 1));
    // Received before the close began: these are in flight, and must finish.
    const inFlight = received();
    closing = performance.now();
    await closeGracefully(s.app);
    const statuses = await Promise.all(reveals);
    for (const i of inFlight) expect(statuses[i], `r-${i}`).toBe(200);
    // Later ones were refused (503, or the connection closed); none got through half-done.
    for (const status of statuses) expect([0, 200, 503]).toContain(status);
    if (backend.name === 'postgres') {
      // Requests wait on the database there, so some were still running when close() began.
      expect(inFlight.some((i) => finishedAt[i]! > closing)).toBe(true);
    }
    await s.close(); // the app is closed already; this closes the store
  });
});

describeEachBackend('requests during shutdown', (backend) => {
  it('a request arriving after the close began gets a 503 problem document with Retry-After and Connection: close', async () => {
    const captured = captureLogs('info');
    const s = await startServer(backend, { logger: captured.logger });
    const seed = await seedTenant(s, 'late');
    // A token never used yet must be looked up; holding the token table makes that lookup wait,
    // so the first request is still in flight, holding the close open, when the second arrives.
    const fresh = (await seed.t.tokens.create({ principalId: seed.principal.id, role: 'admin' }, seed.ctx))
      .token;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = s.db.transaction(async (c) => {
      if (backend.name === 'postgres') await c.query('LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE');
      locked(); // on PGlite, an open transaction holds its one connection
      await held;
    });
    await isLocked;
    const first = s.call('GET', '/v1/vaults', { token: fresh, headers: { 'x-request-id': 'first' } });
    await waitFor(
      () => captured.text().match(/"clientRequestId":"first"[^\n]*"msg":"incoming request"/),
      'the first request',
    );
    const closed = closeGracefully(s.app);
    // What a keep-alive connection sends now goes through the same hooks as this.
    const late = await s.app.inject({
      method: 'GET',
      url: '/v1/vaults',
      headers: { authorization: `Bearer ${fresh}`, 'x-request-id': 'late' },
    });
    release();
    await holder;
    const answered = await first;
    expect(answered.status).toBe(200);
    // In flight when the close began: answered in full, and its connection ends with it.
    expect(answered.headers.get('connection')).toBe('close');
    await closed;
    expect(late.statusCode).toBe(503);
    expect(late.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(late.headers['retry-after']).toMatch(/^\d+$/);
    expect(late.headers.connection).toBe('close');
    expect(late.json()).toMatchObject({ status: 503, code: 'UNAVAILABLE', clientRequestId: 'late' });
    await s.close();
  });
});
