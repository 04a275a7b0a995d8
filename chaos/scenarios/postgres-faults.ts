/**
 * PostgreSQL going away under load: its backends terminated, the server restarted, the server
 * stopped for a while. The service must answer 503 (never 500) meanwhile and recover on its own.
 */
import { type ScenarioRun, STEADY } from '../scenario-kit.js';
import { postgresStore } from '../stores.js';

/** `pg_terminate_backend` of every service connection (by its login role), every 2 s for 20 s. */
export async function terminate(run: ScenarioRun): Promise<void> {
  const store = await postgresStore(run.ctx, run.name);
  await run.setUp(store);
  const cluster = await run.ctx.cluster();
  const load = run.load(STEADY, 40_000);
  try {
    await run.sleep(3000);
    run.sampleRssStart();
    run.ledger.mark('fault start');
    let terminated = 0;
    for (let round = 0; round < 10 && !run.ctx.signal.aborted; round++) {
      if (round > 0) await run.sleep(2000);
      // Our own connection is another role in another database, and excluded by pid as well.
      const [row] = await cluster.sql<{ n: number }>(
        'postgres',
        `SELECT count(*)::int AS n FROM (
           SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE usename = $1 AND datname = $2 AND pid <> pg_backend_pid()) t`,
        [store.serviceUser, store.database],
      );
      terminated += row?.n ?? 0;
      run.faultEndMs = run.ledger.mark(`terminated ${row?.n ?? 0} backends`);
    }
    run.notes.push(`terminated ${terminated} service backends in 10 rounds, 2 s apart`);
    await run.sleep(10_000);
  } finally {
    await load.stop();
  }
}

/** `pg_ctl restart -m fast` under load. */
export async function pgRestart(run: ScenarioRun): Promise<void> {
  await run.setUp(await postgresStore(run.ctx, run.name));
  const cluster = await run.ctx.cluster();
  const load = run.load(STEADY, 60_000);
  try {
    await run.sleep(5000);
    run.sampleRssStart();
    const from = run.ledger.mark('restart');
    await cluster.restart('fast');
    run.faultEndMs = run.ledger.mark('restarted');
    run.notes.push(`pg_ctl restart -m fast took ${((run.faultEndMs - from) / 1000).toFixed(1)} s`);
    await run.sleep(15_000);
  } finally {
    await load.stop();
  }
}

/** `pg_ctl stop -m fast`, 10 s without a database, then `pg_ctl start`, under load. */
export async function pgStop(run: ScenarioRun): Promise<void> {
  await run.setUp(await postgresStore(run.ctx, run.name));
  const cluster = await run.ctx.cluster();
  const load = run.load(STEADY, 60_000);
  try {
    await run.sleep(5000);
    run.sampleRssStart();
    run.ledger.mark('stop');
    await cluster.stop('fast');
    try {
      await run.sleep(10_000);
    } finally {
      await cluster.start(); // whatever happened, the next scenarios need the server
    }
    run.faultEndMs = run.ledger.mark('started');
    await run.sleep(15_000);
  } finally {
    await load.stop();
  }
}
