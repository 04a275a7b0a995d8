/**
 * The root key provider failing under cold reveals (vault keys not cached, so each needs an
 * unwrap): the Vault Transit stand-in stopped (connection refused), or hanging (accepts, never
 * answers). Cold reveals must fail with 503 within about one provider deadline; warm reveals need
 * no provider and must go on.
 */
import { transitStandIn } from '../../test/helpers/transit-stand-in.js';
import { CATEGORIES } from '../ledger.js';
import type { ScenarioRun } from '../scenario-kit.js';
import { postgresStore } from '../stores.js';

/** The provider deadline the service is run with (CREDREG_KEY_PROVIDER_TIMEOUT_MS, its default). */
const DEADLINE_MS = 5000;
/** "About one deadline": what a request during the fault may cost at most. */
const ALLOWED_MS = DEADLINE_MS * 1.5;
const FAULT_MS = 15_000;

export const providerDown = (run: ScenarioRun) => providerFault(run, 'down');
export const providerHang = (run: ScenarioRun) => providerFault(run, 'hang');

async function providerFault(run: ScenarioRun, mode: 'down' | 'hang'): Promise<void> {
  const transit = await transitStandIn();
  const { port } = transit.server.address() as { port: number };
  try {
    const store = await postgresStore(run.ctx, run.name, {
      CREDREG_KEY_PROVIDER: 'vault-transit',
      CREDREG_VAULT_ADDR: transit.addr,
      CREDREG_VAULT_TOKEN: 'test-token',
      CREDREG_VAULT_TRANSIT_KEY: 'credreg',
      CREDREG_KEY_PROVIDER_TIMEOUT_MS: String(DEADLINE_MS),
    });
    await run.setUp(store, { vaults: 1, credentials: 10, coldVaults: 48 });
    // A new process caches no vault key: every cold vault needs the provider from now on.
    await run.service.stop();
    await run.startService();
    // Warms the hot vault only, while the provider is up.
    const warm = run.load({ reveal: 1 }, 3000);
    await warm.done;
    run.sampleRssStart();

    const load = run.load({ reveal: 1, revealCold: 3 }, FAULT_MS + 12_000);
    try {
      const from = run.ledger.mark(`provider ${mode}`);
      if (mode === 'down') {
        transit.server.closeAllConnections();
        await new Promise((r) => transit.server.close(r));
      } else transit.state.hang = true;
      await run.sleep(FAULT_MS);
      const to = run.ledger.now();
      if (mode === 'down') await new Promise<void>((r) => transit.server.listen(port, '127.0.0.1', r));
      else {
        transit.state.hang = false;
        transit.server.closeAllConnections(); // the hung requests get a reset, as from a restarted Vault
      }
      run.faultEndMs = run.ledger.mark('provider back');
      const cold = run.ledger.latency(['reveal-cold'], from, to);
      run.latency = cold;
      const warmFailed = run.ledger.countStarted(
        CATEGORIES.filter((c) => c !== '2xx'),
        from,
        to,
        ['reveal'],
      );
      run.notes.push(
        `${cold.n} cold reveals started during the ${FAULT_MS / 1000} s fault: ` +
          `${run.ledger.countStarted('503', from, to, ['reveal-cold'])} answered 503, ` +
          `${run.ledger.countStarted('2xx', from, to, ['reveal-cold'])} 2xx; deadline ${DEADLINE_MS} ms`,
      );
      if (cold.maxMs > ALLOWED_MS)
        run.fail(
          `a cold reveal during the fault took ${cold.maxMs.toFixed(0)} ms, more than about one provider deadline (${DEADLINE_MS} ms)`,
        );
      if (warmFailed)
        run.fail(`${warmFailed} warm reveals (vault key cached, no provider needed) failed during the fault`);
      await run.sleep(12_000);
    } finally {
      await load.stop();
    }
  } finally {
    transit.server.closeAllConnections();
    transit.server.close();
  }
}
