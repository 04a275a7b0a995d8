/**
 * When to try a failed webhook delivery again, and when to stop.
 *
 * Exponential backoff with full jitter above a floor: after attempt `n` fails, the next one waits
 * a uniformly random time between `baseDelayMs` and `min(maxDelayMs, baseDelayMs × 2^(n-1))`.
 * The jitter spreads the retries of many messages to one receiver that came back, so they do
 * not arrive in a single wave; the floor keeps a flapping receiver from being hit at once again.
 *
 * With the defaults (5 s … 1 h, give up 24 h after the first attempt or after 60 attempts):
 *
 * | after attempt | next one waits |
 * |---|---|
 * | 1 | 5 s |
 * | 2 | 5 s – 10 s |
 * | 3 | 5 s – 20 s |
 * | 4 | 5 s – 40 s |
 * | 5 | 5 s – 1 min 20 s |
 * | 6 | 5 s – 2 min 40 s |
 * | 7 | 5 s – 5 min 20 s |
 * | 8 | 5 s – 10 min 40 s |
 * | 9 | 5 s – 21 min 20 s |
 * | 10 | 5 s – 42 min 40 s |
 * | 11 and later | 5 s – 1 h |
 *
 * That is about 11 attempts in the first hour and then about two an hour, some 57 in all
 * before the 24 h bound ends it. Like Standard Webhooks and Svix, any non-2xx answer or network
 * failure counts as failed; whether a failure is worth retrying at all is the caller's decision.
 */

/** The backoff and the bounds. */
export interface RetryPolicy {
  /** The first retry's delay, and the least delay of any retry. (Default: 5000 ms) */
  readonly baseDelayMs: number;
  /** The largest delay. (Default: 3600000 ms, 1 h) */
  readonly maxDelayMs: number;
  /** No attempt starts later than this after the first one. (Default: 86400000 ms, 24 h) */
  readonly giveUpAfterMs: number;
  /** No more attempts than this, first included. (Default: 60) */
  readonly maxAttempts: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  baseDelayMs: 5_000,
  maxDelayMs: 3_600_000,
  giveUpAfterMs: 86_400_000,
  maxAttempts: 60,
});

/**
 * How long to wait, in ms, after attempt number `attempt` (1 for the first) failed.
 *
 * @param random a source of numbers in [0, 1). (Default: `Math.random`)
 * @example
 * ```ts
 * nextAttemptDelay(1); // 5000
 * nextAttemptDelay(3); // between 5000 and 20000
 * ```
 */
export function nextAttemptDelay(
  attempt: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number {
  /* Precondition: the attempt number is a whole number of at least 1. */
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError('attempt must be a whole number of at least 1');
  }
  // 2 ** large is Infinity, which min() turns into the cap.
  const ceiling = Math.max(
    policy.baseDelayMs,
    Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1)),
  );
  return Math.round(policy.baseDelayMs + random() * (ceiling - policy.baseDelayMs));
}

/** A delivery's attempts so far. */
export interface AttemptHistory {
  /** Attempts made, the one that just failed included. */
  attempts: number;
  firstAttemptAt: Date;
  /** When the last attempt failed. */
  now: Date;
}

/**
 * When to make the next attempt, or `null` to give up: the attempt limit is reached, or the next
 * attempt would start more than `giveUpAfterMs` after the first one.
 *
 * @example
 * ```ts
 * const at = nextAttemptAt({ attempts: 3, firstAttemptAt, now: clock.now() });
 * if (at === null) markFailed(); else scheduleAt(at);
 * ```
 */
export function nextAttemptAt(
  history: AttemptHistory,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): Date | null {
  if (history.attempts >= policy.maxAttempts) return null;
  const at = history.now.getTime() + nextAttemptDelay(history.attempts, policy, random);
  return at - history.firstAttemptAt.getTime() > policy.giveUpAfterMs ? null : new Date(at);
}
