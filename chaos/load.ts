/**
 * The load: a fixed number of keep-alive clients on loopback, each sending one request after
 * another until the time is up (a closed loop, like bench/load.ts), every outcome written to the
 * ledger. A client that gets no success pauses briefly, so a service that is down is polled, not
 * flooded.
 */
import { KeepAliveClient, type Outcome } from './http-client.js';
import type { Ledger, OpKind } from './ledger.js';
import { apiKey, type Workload } from './workload.js';

/** Clients in every scenario: enough to keep both cores busy, few enough to leave room for chaos. */
export const CLIENTS = 16;
const PAUSE_AFTER_FAILURE_MS = 50;

/** Relative weights of the operations; `revealCold` picks from the workload's cold credentials. */
export interface Mix {
  reveal: number;
  rotate?: number;
  store?: number;
  revealCold?: number;
}

export interface LoadOptions {
  /** The service's current address (it changes when a scenario restarts the service). */
  target: () => string;
  workload: Workload;
  ledger: Ledger;
  mix: Mix;
  durationMs: number;
  signal: AbortSignal;
  /** (Default: CLIENTS) */
  clients?: number;
}

/** A 2xx body that is not JSON counts as a wrong answer, not as a crash of the load. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

function chooser(mix: Mix): () => OpKind {
  const table: [OpKind, number][] = [
    ['reveal', mix.reveal],
    ['rotate', mix.rotate ?? 0],
    ['store', mix.store ?? 0],
    ['reveal-cold', mix.revealCold ?? 0],
  ];
  const total = table.reduce((s, [, w]) => s + w, 0);
  return () => {
    let r = Math.random() * total;
    for (const [kind, w] of table) {
      r -= w;
      if (r < 0) return kind;
    }
    return 'reveal';
  };
}

/** Runs the load for `durationMs` (or until `signal` aborts); resolves once every client has stopped. */
export async function runLoad(o: LoadOptions): Promise<void> {
  const { workload: w, ledger } = o;
  const next = chooser(o.mix);
  const until = ledger.now() + o.durationMs;
  let stored = 0;
  const client = async () => {
    const http = new KeepAliveClient();
    try {
      while (!o.signal.aborted && ledger.now() < until) {
        const kind = next();
        const start = ledger.now();
        let outcome: Outcome;
        let credentialId: string;
        switch (kind) {
          case 'reveal':
          case 'reveal-cold':
            credentialId = pick(kind === 'reveal' ? w.hot : w.cold);
            outcome = await http.send(
              o.target(),
              'POST',
              `/v1/credentials/${credentialId}/reveal`,
              w.tokens.reader,
              {
                reason: 'chaos',
              },
            );
            break;
          case 'rotate': {
            credentialId = pick(w.hot);
            const value = apiKey();
            // Remembered before it is sent: a rotation may commit without its answer arriving.
            w.values.get(credentialId)?.add(value);
            outcome = await http.send(
              o.target(),
              'POST',
              `/v1/credentials/${credentialId}/rotate`,
              w.tokens.writer,
              {
                value,
              },
            );
            break;
          }
          case 'store': {
            credentialId = '';
            const value = apiKey();
            outcome = await http.send(
              o.target(),
              'POST',
              `/v1/vaults/${pick(w.vaultIds)}/credentials`,
              w.tokens.writer,
              {
                name: `load-${++stored}-${value.slice(-8)}`,
                type: 'api_key',
                value,
              },
            );
            if (outcome.kind === 'reply' && outcome.status === 201) {
              const c = parseJson(outcome.body) as { id?: unknown; currentVersion?: unknown } | undefined;
              if (typeof c?.id === 'string' && typeof c.currentVersion === 'number') {
                w.values.set(c.id, new Set([value]));
                w.hot.push(c.id);
                ledger.acknowledged({ credentialId: c.id, version: c.currentVersion });
              }
            }
            break;
          }
        }
        const category = ledger.record(kind, start, outcome);
        if (outcome.kind === 'reply' && outcome.status === 200 && kind !== 'store') {
          const body = parseJson(outcome.body) as { value?: unknown; version?: unknown } | undefined;
          if (kind === 'rotate') {
            if (typeof body?.version === 'number')
              ledger.acknowledged({ credentialId, version: body.version });
          } else {
            const id = outcome.headers['x-request-id'];
            const known =
              typeof body?.value === 'string' && (w.values.get(credentialId)?.has(body.value) ?? false);
            ledger.granted(typeof id === 'string' ? id : undefined, known);
          }
        }
        if (category !== '2xx') await new Promise((r) => setTimeout(r, PAUSE_AFTER_FAILURE_MS));
      }
    } finally {
      http.close();
    }
  };
  await Promise.all(Array.from({ length: o.clients ?? CLIENTS }, client));
}
