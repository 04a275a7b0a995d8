/**
 * What a rotation run tells the outside when it ends (for metrics), through an optional port on
 * `RegistryDeps`. The core counts nothing itself and imports no metrics library: `main.ts` hands
 * the observations to whoever listens (the Prometheus collector in `http/metrics.ts`).
 *
 * Every field is from a closed set or a number: never a tenant or credential id, never a value,
 * never text a caller typed. So a label made of one can neither leak nor grow without bound.
 */
import { outcomeOf, type RegistryDeps } from './audited-operation.js';

/**
 * How a run ended.
 * - `rotated`: a new version was tested and made current;
 * - `failed`: a step failed at the target (recorded on the credential; a schedule retries);
 * - `needs_reauthorization`: the target refused for good (`INVALID_GRANT`), a person must act;
 * - `conflict`: another run held the credential's rotation, or rotated it meanwhile (a changed
 *   pending or current version);
 * - `refused`: the run did not start (no rotator on the credential, not found, not allowed);
 * - `error`: the registry itself failed (the database or key provider away).
 */
export const ROTATION_OUTCOMES = [
  'rotated',
  'failed',
  'needs_reauthorization',
  'conflict',
  'refused',
  'error',
] as const;
export type RotationOutcome = (typeof ROTATION_OUTCOMES)[number];

/** The `rotator` of a run refused before its settings were read, or naming no rotator this service has. */
export const UNKNOWN_ROTATOR = 'unknown';

/** One run, as it ended. */
export interface RotationObservation {
  /** The rotator's type, one this service has (the operator configures them), or `unknown`. */
  rotator: string;
  outcome: RotationOutcome;
  /**
   * Scheduled runs only: seconds from the due time the scheduler claimed to the run's start
   * (the database's clock at the claim, plus the registry's clock since). Absent for on-demand runs.
   */
  lagSeconds?: number;
}

/**
 * Called once per rotation run, after it ended. Must not throw and must be quick: it runs on the
 * rotation's path (an exception is swallowed, so a broken observer cannot fail a rotation).
 *
 * @example
 * deps.rotationObserver = ({ rotator, outcome }) => counter.inc({ rotator, outcome });
 */
export type RotationObserver = (observation: RotationObservation) => void;

/** What a run learnt on its way, for its observation: the rotator once known, a step's failure code. */
export interface RunFacts {
  rotator?: string;
  /** The `RotationError` code of the step that failed, when one did. */
  failedWith?: string;
}

/** The outcome of a run that threw `err`. */
export function outcomeOfRun(facts: RunFacts, err: unknown): RotationOutcome {
  if (facts.failedWith !== undefined)
    return facts.failedWith === 'INVALID_GRANT' ? 'needs_reauthorization' : 'failed';
  const outcome = outcomeOf(err);
  if (outcome === 'conflict' || outcome === 'error') return outcome;
  return 'refused';
}

/** Tells `deps.rotationObserver`, if any, how a run ended; never throws. */
export function observeRotation(
  deps: Pick<RegistryDeps, 'rotationObserver' | 'rotators'>,
  facts: RunFacts,
  outcome: RotationOutcome,
  lagSeconds?: number,
): void {
  if (!deps.rotationObserver) return;
  // A type a credential names but this service no longer has is not a label: only configured ones are.
  const rotator =
    facts.rotator !== undefined && deps.rotators?.has(facts.rotator) ? facts.rotator : UNKNOWN_ROTATOR;
  try {
    deps.rotationObserver({
      rotator,
      outcome,
      ...(lagSeconds !== undefined ? { lagSeconds: Math.max(0, lagSeconds) } : {}),
    });
  } catch {
    // Metrics must never decide whether a rotation happened.
  }
}
