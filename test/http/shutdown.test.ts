/**
 * Graceful shutdown: closing the app (what SIGTERM does in `credreg serve`) stops accepting, lets
 * every request already received finish, then closes the store.
 */
import { expect, it } from 'vitest';
import { closeGracefully } from '../../src/http/app.js';
import { describeEachBackend } from '../helpers/backends.js';
import { captureLogs } from '../helpers/logs.js';
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
      [...logs().matchAll(/"reqId":"r-(\d+)"[^\n]*"msg":"incoming request"/g)].map((m) => Number(m[1]));
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
