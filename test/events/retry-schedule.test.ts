import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, nextAttemptAt, nextAttemptDelay } from '../../src/events/retry-schedule.js';

const S = 1_000;
const MIN = 60 * S;
const H = 60 * MIN;
const lowest = () => 0;
const highest = () => 1 - Number.EPSILON;

describe('nextAttemptDelay', () => {
  // The table in retry-schedule.ts's header, row by row: [after attempt, longest wait].
  const documented: Array<[number, number]> = [
    [1, 5 * S],
    [2, 10 * S],
    [3, 20 * S],
    [4, 40 * S],
    [5, 80 * S],
    [6, 160 * S],
    [7, 320 * S],
    [8, 640 * S],
    [9, 1280 * S],
    [10, 2560 * S],
    [11, H],
    [12, H],
    [100, H],
    [10_000, H],
  ];

  it.each(documented)('after attempt %i waits between 5 s and %i ms, as documented', (attempt, longest) => {
    expect(nextAttemptDelay(attempt, DEFAULT_RETRY_POLICY, lowest)).toBe(5 * S);
    expect(nextAttemptDelay(attempt, DEFAULT_RETRY_POLICY, highest)).toBe(longest);
    for (let i = 0; i < 200; i++) {
      const d = nextAttemptDelay(attempt);
      expect(d).toBeGreaterThanOrEqual(5 * S);
      expect(d).toBeLessThanOrEqual(longest);
    }
  });

  it('spreads retries over the whole range (full jitter), not around one value', () => {
    const delays = Array.from({ length: 2_000 }, () => nextAttemptDelay(20));
    expect(Math.min(...delays)).toBeLessThan(10 * MIN);
    expect(Math.max(...delays)).toBeGreaterThan(50 * MIN);
  });

  it.each([0, -1, 1.5, Number.NaN])(
    'Precondition: the attempt number is a whole number of at least 1. (%s)',
    (n) => {
      expect(() => nextAttemptDelay(n)).toThrow(RangeError);
    },
  );
});

describe('nextAttemptAt', () => {
  const first = new Date('2030-01-01T00:00:00Z');

  it('schedules the next attempt after the delay', () => {
    const now = new Date(first.getTime() + 30 * S);
    expect(nextAttemptAt({ attempts: 1, firstAttemptAt: first, now }, DEFAULT_RETRY_POLICY, lowest)).toEqual(
      new Date(now.getTime() + 5 * S),
    );
  });

  it('gives up when the next attempt would start more than 24 h after the first', () => {
    const now = new Date(first.getTime() + 24 * H - 10 * S);
    expect(
      nextAttemptAt({ attempts: 30, firstAttemptAt: first, now }, DEFAULT_RETRY_POLICY, lowest),
    ).not.toBeNull();
    expect(
      nextAttemptAt({ attempts: 30, firstAttemptAt: first, now }, DEFAULT_RETRY_POLICY, highest),
    ).toBeNull();
  });

  it('gives up after maxAttempts attempts, however little time has passed', () => {
    const now = new Date(first.getTime() + H);
    const history = { firstAttemptAt: first, now };
    expect(nextAttemptAt({ ...history, attempts: 59 }, DEFAULT_RETRY_POLICY, lowest)).not.toBeNull();
    expect(nextAttemptAt({ ...history, attempts: 60 }, DEFAULT_RETRY_POLICY, lowest)).toBeNull();
  });

  it('makes about 57 attempts in the 24 h when every draw is the average one, as documented', () => {
    let attempts = 1;
    let now = first;
    for (;;) {
      const at = nextAttemptAt({ attempts, firstAttemptAt: first, now }, DEFAULT_RETRY_POLICY, () => 0.5);
      if (at === null) break;
      attempts++;
      now = at;
    }
    expect(attempts).toBeGreaterThanOrEqual(50);
    expect(attempts).toBeLessThanOrEqual(60);
    expect(now.getTime() - first.getTime()).toBeLessThanOrEqual(24 * H);
  });
});
