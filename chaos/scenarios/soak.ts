/** Steady mixed load for a long while: nothing may leak, fail or go missing. */
import type { ScenarioRun } from '../scenario-kit.js';
import { postgresStore } from '../stores.js';

const SAMPLE_EVERY_MS = 30_000;

export async function soak(run: ScenarioRun): Promise<void> {
  await run.setUp(await postgresStore(run.ctx, run.name), { vaults: 4, credentials: 200 });
  const durationMs = run.ctx.soakSeconds * 1000;
  const loadEnd = run.ledger.now() + durationMs;
  const load = run.load({ reveal: 90, rotate: 7, store: 3 }, durationMs);
  const rss: number[] = [];
  try {
    await run.sleep(Math.min(5000, durationMs / 4));
    run.sampleRssStart();
    for (;;) {
      const left = loadEnd - run.ledger.now();
      if (left < 1000 || run.ctx.signal.aborted) break;
      await run.sleep(Math.min(SAMPLE_EVERY_MS, left - 500));
      const mb = run.service.rssMb();
      if (mb !== undefined) rss.push(mb);
    }
    run.rssEndMb = run.service.rssMb();
  } finally {
    await load.stop();
  }
  const rate = run.ledger.requests / run.ctx.soakSeconds;
  run.notes.push(
    `${rate.toFixed(0)} requests/s; rss samples (MB, every ${SAMPLE_EVERY_MS / 1000} s): ${rss.map((m) => m.toFixed(0)).join(' ')}`,
  );
}
