/**
 * What a scenario's clients saw, request by request: when each started and ended, its kind and
 * outcome; the request id and value of every granted reveal; every write the service
 * acknowledged. The verdicts are computed from it afterwards, against the database.
 *
 * Glossary: an *acknowledged write* is a store (201) or rotate (200) the client got an answer for,
 * with the credential id and version it names; a *granted row* is the access-log row
 * `action = 'reveal', outcome = 'granted'` with the response's X-Request-Id.
 */
import type { Outcome } from './http-client.js';

export const OP_KINDS = ['reveal', 'reveal-cold', 'store', 'rotate'] as const;
export type OpKind = (typeof OP_KINDS)[number];

/** How a request ended, as the report counts it. */
export const CATEGORIES = [
  '2xx',
  '503',
  '4xx',
  '500',
  '5xx',
  'refused',
  'reset',
  'timeout',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

export function categoryOf(o: Outcome): Category {
  if (o.kind === 'failure') return o.failure;
  if (o.status >= 200 && o.status < 300) return '2xx';
  if (o.status === 503) return '503';
  if (o.status === 500) return '500';
  if (o.status >= 500) return '5xx';
  return '4xx';
}

export interface AckedWrite {
  credentialId: string;
  version: number;
}

/** A growable column of numbers, so a long soak keeps millions of requests in a few MB. */
class Column<T extends Float64Array | Uint8Array> {
  #data: T;
  constructor(
    readonly make: (n: number) => T,
    size = 4096,
  ) {
    this.#data = make(size);
  }
  set(i: number, v: number) {
    if (i >= this.#data.length) {
      const bigger = this.make(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[i] = v;
  }
  get(i: number): number {
    return this.#data[i]!;
  }
}

const SAMPLES_PER_KEY = 3;

export class Ledger {
  readonly #epoch = performance.now();
  #n = 0;
  readonly #start = new Column((n) => new Float64Array(n));
  readonly #end = new Column((n) => new Float64Array(n));
  readonly #category = new Column((n) => new Uint8Array(n));
  readonly #kind = new Column((n) => new Uint8Array(n));
  readonly counts = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  /** X-Request-Id of every reveal answered 200. */
  readonly revealIds: string[] = [];
  /** Reveals answered 200 with a value this run never wrote to that credential. */
  wrongValues = 0;
  readonly acked: AckedWrite[] = [];
  /** 503 answers without Retry-After, and 503 answers that are not problem documents. */
  unavailableWithoutRetryAfter = 0;
  unavailableNotProblem = 0;
  /** A few answers or errors of each kind other than 2xx, as evidence: `503 UNAVAILABLE: detail`. */
  readonly samples = new Map<string, string[]>();
  /** Events of the scenario (fault start and end, kills), in ms since the ledger was made. */
  readonly marks: { atMs: number; label: string }[] = [];

  /** Milliseconds since this ledger was made: the clock of every entry. */
  now(): number {
    return performance.now() - this.#epoch;
  }

  mark(label: string): number {
    const atMs = this.now();
    this.marks.push({ atMs, label });
    return atMs;
  }

  get requests(): number {
    return this.#n;
  }

  record(kind: OpKind, startMs: number, outcome: Outcome): Category {
    const i = this.#n++;
    const category = categoryOf(outcome);
    this.#start.set(i, startMs);
    this.#end.set(i, this.now());
    this.#category.set(i, CATEGORIES.indexOf(category));
    this.#kind.set(i, OP_KINDS.indexOf(kind));
    this.counts[category]++;
    if (outcome.kind === 'reply' && outcome.status === 503) {
      if (!outcome.headers['retry-after']) this.unavailableWithoutRetryAfter++;
      if (!String(outcome.headers['content-type'] ?? '').startsWith('application/problem+json'))
        this.unavailableNotProblem++;
    }
    if (category !== '2xx') {
      const key = outcome.kind === 'reply' ? String(outcome.status) : outcome.failure;
      const list = this.samples.get(key) ?? [];
      if (list.length < SAMPLES_PER_KEY) {
        const what =
          outcome.kind === 'reply' ? `${outcome.status} ${describeBody(outcome.body)}` : outcome.message;
        list.push(`t=${(startMs / 1000).toFixed(2)}s ${kind} ${what}`);
        this.samples.set(key, list);
      }
    }
    return category;
  }

  /** A reveal answered 200: `known` is whether its value is one this run wrote to that credential. */
  granted(requestId: string | undefined, known: boolean): void {
    // A 200 without a request id can be matched with no row: it counts as a value without one.
    this.revealIds.push(requestId ?? '(no X-Request-Id)');
    if (!known) this.wrongValues++;
  }

  acknowledged(write: AckedWrite): void {
    this.acked.push(write);
  }

  /**
   * Seconds from `faultEndMs` until the first of `run` consecutive successes (by completion time)
   * among the requests that completed after it; undefined when that never happened.
   */
  recoverySeconds(faultEndMs: number, run = 20): number | undefined {
    const after: number[] = [];
    for (let i = 0; i < this.#n; i++) if (this.#end.get(i) >= faultEndMs) after.push(i);
    after.sort((a, b) => this.#end.get(a) - this.#end.get(b));
    let streak = 0;
    let first = -1;
    for (const i of after) {
      if (this.#category.get(i) === 0) {
        if (streak++ === 0) first = i;
        if (streak >= run) return Math.max(0, this.#end.get(first) - faultEndMs) / 1000;
      } else streak = 0;
    }
    return undefined;
  }

  /** Latency (ms) of the requests of `kinds` that started in [fromMs, toMs). */
  latency(
    kinds: readonly OpKind[],
    fromMs: number,
    toMs: number,
  ): { n: number; p50Ms: number; maxMs: number } {
    const wanted = new Set(kinds.map((k) => OP_KINDS.indexOf(k)));
    const ms: number[] = [];
    for (let i = 0; i < this.#n; i++) {
      const s = this.#start.get(i);
      if (s >= fromMs && s < toMs && wanted.has(this.#kind.get(i))) ms.push(this.#end.get(i) - s);
    }
    ms.sort((a, b) => a - b);
    if (ms.length === 0) return { n: 0, p50Ms: Number.NaN, maxMs: Number.NaN };
    return { n: ms.length, p50Ms: ms[Math.ceil(ms.length / 2) - 1]!, maxMs: ms[ms.length - 1]! };
  }

  /** How many requests (of `kinds`, when given) that started in [fromMs, toMs) ended in one of `categories`. */
  countStarted(
    categories: Category | readonly Category[],
    fromMs: number,
    toMs: number,
    kinds?: readonly OpKind[],
  ): number {
    const wantedCategories = new Set([categories].flat().map((c) => CATEGORIES.indexOf(c)));
    const wantedKinds = kinds ? new Set(kinds.map((k) => OP_KINDS.indexOf(k))) : undefined;
    let n = 0;
    for (let i = 0; i < this.#n; i++) {
      const s = this.#start.get(i);
      if (s < fromMs || s >= toMs || !wantedCategories.has(this.#category.get(i))) continue;
      if (!wantedKinds || wantedKinds.has(this.#kind.get(i))) n++;
    }
    return n;
  }
}

/** A problem document as `CODE: detail`, anything else cut short. Never a value: only errors get here. */
function describeBody(body: string): string {
  try {
    const p = JSON.parse(body) as { code?: unknown; detail?: unknown; message?: unknown };
    if (p && typeof p === 'object' && (p.code || p.detail))
      return `${String(p.code ?? '')}: ${String(p.detail ?? p.message ?? '')}`.slice(0, 240);
  } catch {
    // not JSON
  }
  return JSON.stringify(body.slice(0, 160));
}
