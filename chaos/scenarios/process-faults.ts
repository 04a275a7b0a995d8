/**
 * The service process itself dying: SIGKILL during writes (five times, restarted at once on the
 * same store, PostgreSQL and embedded), and SIGTERM under load, which must drain in-flight requests
 * and exit 0.
 */
import { type ScenarioRun, STEADY, WRITES } from '../scenario-kit.js';
import { lastLines, ServiceStartError } from '../service.js';
import { embeddedStore, postgresStore, type Store } from '../stores.js';

const KILLS = 5;

/** SIGKILL on PostgreSQL. */
export async function sigkillPg(run: ScenarioRun): Promise<void> {
  await sigkill(run, await postgresStore(run.ctx, run.name));
}

/** SIGKILL on the embedded store: the restart must take over the lock its dead owner held. */
export async function sigkillEmbedded(run: ScenarioRun): Promise<void> {
  await sigkill(run, embeddedStore(run.ctx, run.name));
}

async function sigkill(run: ScenarioRun, store: Store): Promise<void> {
  await run.setUp(store, { credentials: 20 });
  const load = run.load(WRITES, 120_000);
  try {
    await run.sleep(1000);
    run.sampleRssStart();
    const restartMs: number[] = [];
    for (let i = 1; i <= KILLS && !run.ctx.signal.aborted; i++) {
      await run.sleep(2500);
      const victim = run.service;
      victim.kill('SIGKILL');
      run.faultEndMs = run.ledger.mark(`SIGKILL ${i} (pid ${victim.pid})`);
      await victim.exited;
      restartMs.push(await restart(run, i));
    }
    run.notes.push(
      `${KILLS} SIGKILLs; restarts listened after ${restartMs.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s; rss end is of the last process`,
    );
    await run.sleep(10_000);
  } finally {
    await load.stop();
  }
}

/**
 * Restarts at once with the same environment; a refusal is a failure of the scenario, reported with
 * the service's words. Then it keeps trying (for at most 30 s), so the writes can still be counted.
 */
async function restart(run: ScenarioRun, kill: number): Promise<number> {
  const t0 = performance.now();
  const until = Date.now() + 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      await run.startService();
      return performance.now() - t0;
    } catch (err) {
      const output = err instanceof ServiceStartError ? err.output : '';
      if (attempt === 1) {
        const inUse = /in use by another credreg process/.test(output);
        run.fail(
          `restart ${kill} right after SIGKILL failed${inUse ? ': "in use by another credreg process"' : ''}`,
          `restart ${kill}: ${(err as Error).message}`,
        );
      }
      if (Date.now() > until)
        throw new Error(`the service could not be restarted after SIGKILL ${kill}: ${lastLines(output, 3)}`);
      await run.sleep(1000);
    }
  }
}

/**
 * SIGTERM under load: requests in flight when it arrives must be answered (no reset), later ones
 * get 503 problem documents or connection refused, and the process exits 0.
 */
export async function sigterm(run: ScenarioRun): Promise<void> {
  await run.setUp(await postgresStore(run.ctx, run.name));
  const load = run.load(STEADY, 60_000);
  try {
    await run.sleep(4000);
    run.sampleRssStart();
    const s = run.service;
    run.rssEndMb = s.rssMb();
    const termAt = run.ledger.mark('SIGTERM');
    s.kill('SIGTERM');
    const exit = await Promise.race([s.exited, run.sleep(45_000).then(() => undefined)]);
    const exitMs = run.ledger.now() - termAt;
    await run.sleep(2000); // the clients meet a closed port
    await load.stop();
    const l = run.ledger;
    const inFlightResets = l.countStarted('reset', 0, termAt);
    const after = (c: 'reset' | 'refused' | '503' | '2xx') =>
      l.countStarted(c, termAt, Number.POSITIVE_INFINITY);
    run.notes.push(
      `exited ${exit ? (exit.code ?? exit.signal) : 'not at all'} ${(exitMs / 1000).toFixed(2)} s after SIGTERM; ` +
        `requests sent after it: ${after('2xx')} 2xx, ${after('503')} 503, ${after('refused')} refused, ${after('reset')} reset`,
    );
    if (!exit) {
      s.kill('SIGKILL');
      run.fail('did not exit within 45 s of SIGTERM', lastLines(s.output(), 5));
    } else if (exit.code !== 0)
      run.fail(`exited ${exit.code ?? exit.signal} after SIGTERM, not 0`, lastLines(s.output(), 5));
    if (inFlightResets)
      run.fail(`${inFlightResets} requests in flight at SIGTERM were reset instead of answered`);
    if (after('reset'))
      run.fail(`${after('reset')} requests sent after SIGTERM were reset (not 503, not refused)`);
    if (l.unavailableNotProblem)
      run.fail(`${l.unavailableNotProblem} answers 503 during the close were not problem documents`);
  } finally {
    await load.stop();
  }
}
