/**
 * What every scenario shares: `credreg serve` processes on the scenario's store, the workload,
 * the ledger, and the bookkeeping that turns them into one row of the report. A scenario's body
 * only says what load to drive and which fault to inject when.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosContext } from './context.js';
import { Ledger } from './ledger.js';
import { type Mix, runLoad } from './load.js';
import type { ScenarioResult } from './report.js';
import { lastLines, ServiceProcess } from './service.js';
import type { Store } from './stores.js';
import type { Verification } from './verify.js';
import { type ProvisionOptions, provision, type Workload } from './workload.js';

/** Reveal-heavy, with some writes: what most scenarios run. */
export const STEADY: Mix = { reveal: 85, rotate: 10, store: 5 };
/** Half writes: for the kills, where acknowledged writes are what may be lost. */
export const WRITES: Mix = { reveal: 2, rotate: 2, store: 1 };

/** One scenario's state while it runs. */
export class ScenarioRun {
  readonly ledger = new Ledger();
  readonly failures: string[] = [];
  readonly notes: string[] = [];
  readonly evidence: string[] = [];
  /** Every service process this scenario started, in order; the last is the current one. */
  readonly services: ServiceProcess[] = [];
  store: Store | undefined;
  workload: Workload | undefined;
  platformToken: string | undefined;
  /** When the fault ended (ledger ms), for the recovery column; unset when it does not apply. */
  faultEndMs: number | undefined;
  rssStartMb: number | undefined;
  rssEndMb: number | undefined;
  latency: { p50Ms: number; maxMs: number } | undefined;

  constructor(
    readonly ctx: ChaosContext,
    readonly name: string,
  ) {}

  get service(): ServiceProcess {
    const s = this.services.at(-1);
    if (!s) throw new Error('no service started yet');
    return s;
  }

  /** The current service's address, for the load's clients. */
  readonly target = () => this.service.base;

  /** Starts `credreg serve` on the store (first start: keeps the platform admin token it prints). */
  async startService(): Promise<ServiceProcess> {
    const store = this.store!;
    const s = await ServiceProcess.start({ env: store.env, migrate: store.migrate, built: this.ctx.built });
    this.services.push(s);
    this.platformToken ??= s.bootstrapToken;
    return s;
  }

  /** Starts the service on a new store and provisions the workload through it. */
  async setUp(store: Store, options: Omit<ProvisionOptions, 'name'> = {}): Promise<Workload> {
    this.store = store;
    const s = await this.startService();
    if (!this.platformToken)
      throw new Error('the first start of an empty store printed no platform admin token');
    this.workload = await provision(s.base, this.platformToken, { name: `chaos-${this.name}`, ...options });
    return this.workload;
  }

  /**
   * Starts the load in the background: it runs for at most `maxMs`, or until `stop()`; `done`
   * resolves once no request is in flight any more.
   */
  load(mix: Mix, maxMs: number): { done: Promise<void>; stop(): Promise<void> } {
    const stopper = new AbortController();
    const done = runLoad({
      target: this.target,
      workload: this.workload!,
      ledger: this.ledger,
      mix,
      durationMs: maxMs,
      signal: AbortSignal.any([this.ctx.signal, stopper.signal]),
    });
    return {
      done,
      stop: () => {
        stopper.abort();
        return done;
      },
    };
  }

  sampleRssStart(): void {
    this.rssStartMb = this.service.rssMb();
  }

  fail(reason: string, ...evidence: string[]): void {
    this.failures.push(reason);
    this.evidence.push(...evidence);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.ctx.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.ctx.signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** Runs one scenario body and turns everything it left behind into a row of the report. */
export async function runScenario(
  ctx: ChaosContext,
  name: string,
  body: (run: ScenarioRun) => Promise<void>,
): Promise<ScenarioResult> {
  const run = new ScenarioRun(ctx, name);
  ctx.progress(`${name}: starting`);
  const t0 = performance.now();
  try {
    await body(run);
  } catch (err) {
    run.fail(`scenario error: ${(err as Error).message}`);
  }
  const current = run.services.at(-1);
  run.rssEndMb ??= current?.rssMb();
  for (const s of run.services) {
    if (!s.running) continue;
    const exit = await s.stop();
    if (exit.code !== 0)
      run.fail(
        `the final SIGTERM: pid ${s.pid} exited ${exit.code ?? exit.signal}, not 0`,
        lastLines(s.output(), 5),
      );
  }
  if (ctx.logsDir) {
    mkdirSync(ctx.logsDir, { recursive: true });
    for (const [i, s] of run.services.entries()) {
      writeFileSync(join(ctx.logsDir, `${name}-${i + 1}-pid${s.pid}.log`), s.output());
    }
  }
  let died = 0;
  for (const s of run.services) {
    const u = s.unexpectedExit;
    if (!u) continue;
    died++;
    const out = s.output();
    // The first line of a crash names the error; the last lines where it came from.
    const crash = /^.*(Error|error:|uncaught|Unhandled).*$/m.exec(out)?.[0];
    run.evidence.push(
      `pid ${s.pid} died (${u.code ?? u.signal}) unasked: ${crash ? `${crash.slice(0, 300)} … ` : ''}${lastLines(out, 6)}`,
    );
  }
  if (died) run.failures.push(`${died} service process(es) died unasked`);
  for (const s of run.services) {
    const errors = s
      .output()
      .split('\n')
      .filter((l) => /"level":(50|60)/.test(l));
    if (errors.length)
      run.evidence.push(
        `pid ${s.pid} logged ${errors.length} error line(s), first: ${errors[0]!.slice(0, 400)}`,
      );
  }
  let verification: Verification | undefined;
  if (run.store && !ctx.signal.aborted) {
    try {
      verification = await run.store.verify(run.ledger);
      run.evidence.push(...verification.samples);
    } catch (err) {
      run.fail(`verification failed: ${(err as Error).message}`);
    }
  }
  const l = run.ledger;
  const recover = run.faultEndMs === undefined ? undefined : (l.recoverySeconds(run.faultEndMs) ?? null);
  if (recover === null) run.fail('never recovered: no 20 consecutive successes after the fault');
  if (l.marks.length)
    run.notes.push(
      `timeline: ${l.marks.map((m) => `t=${(m.atMs / 1000).toFixed(2)}s ${m.label}`).join(', ')}`,
    );
  for (const [key, list] of l.samples) run.evidence.push(...list.map((s) => `[${key}] ${s}`));
  if (l.unavailableWithoutRetryAfter)
    run.notes.push(`${l.unavailableWithoutRetryAfter} answers 503 had no Retry-After`);
  if (l.unavailableNotProblem)
    run.notes.push(`${l.unavailableNotProblem} answers 503 were not problem documents`);
  ctx.progress(`${name}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s, ${l.requests} requests`);
  return {
    name,
    backend: run.store?.backend ?? '-',
    requests: l.requests,
    counts: { ...l.counts },
    withoutRow: verification?.withoutRow,
    wrongValues: l.wrongValues,
    lost: verification?.lost,
    recoverS: recover,
    rssStartMb: run.rssStartMb,
    rssEndMb: run.rssEndMb,
    died,
    latency: run.latency,
    failures: run.failures,
    notes: run.notes,
    evidence: run.evidence,
  };
}
