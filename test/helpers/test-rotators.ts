/**
 * Rotators for the rotation robustness tests, shared by the test files and the child processes
 * they start: one that counts its `create` calls, and a wrapper that kills its own process at a
 * chosen step boundary of a run (see `runRotation` in src/core/credential-rotation.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { RotationContext, Rotator } from '../../src/core/rotator.js';

/**
 * A `random`-like rotator for `api_key`s whose `create` reports each call, so a test can count
 * the values made per credential, across instances. `create` yields a moment first, so the runs of
 * concurrent callers interleave.
 */
export function countingRotator(onCreate: (ctx: RotationContext<object>) => void): Rotator<object> {
  return {
    type: 'counting',
    credentialTypes: ['api_key'],
    settings: z.strictObject({}),
    async create(ctx) {
      onCreate(ctx);
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 15));
      return `counted-${randomBytes(12).toString('base64url')}`;
    },
    async set() {},
    async test() {},
    async finish() {},
  };
}

/**
 * The step boundaries a run can die at. The core's own use-cases (`beginRotation`, `stagePending`,
 * `promoteRotation`) have no hook, so a boundary after one is reached as the start of the rotator
 * step that follows it.
 */
export const KILL_POINTS = [
  'after-begin', // the lease is taken; dies as `create` starts
  'after-create', // `create` made a value; dies before `stagePending` stores it
  'after-stage', // the pending version is stored; dies as `set` starts
  'after-set', // the target has the new password; dies before `test`
  'after-test', // the new password logged in; dies before `promoteRotation`
  'after-promote', // the new version is current; dies as `finish` starts
] as const;
export type KillPoint = (typeof KILL_POINTS)[number];

/** A value's fingerprint, to name it in a child's output without printing the secret. */
export const fingerprint = (value: unknown): string =>
  createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);

/** What the wrapper reports as it goes; a child prints these, a test collects them. */
export interface StepEvents {
  created?(ctx: RotationContext<unknown>): void;
  /** `test` succeeded for this pending value. */
  tested?(pending: unknown): void;
}

/**
 * `inner` under its own type, with each step reported and, when `killAt` is set, the process
 * killed (SIGKILL: no cleanup, no `finally`, connections just drop) at that boundary.
 */
export function dyingRotator<S>(
  inner: Rotator<S>,
  killAt: KillPoint | null,
  events: StepEvents = {},
): Rotator<S> {
  const die = (at: KillPoint) => {
    if (killAt === at) process.kill(process.pid, 'SIGKILL');
  };
  return {
    type: inner.type,
    credentialTypes: inner.credentialTypes,
    settings: inner.settings,
    async create(ctx) {
      die('after-begin');
      events.created?.(ctx as RotationContext<unknown>);
      const value = await inner.create(ctx);
      die('after-create');
      return value;
    },
    async set(ctx, pending) {
      die('after-stage');
      await inner.set(ctx, pending);
      die('after-set');
    },
    async test(ctx, pending) {
      await inner.test(ctx, pending);
      events.tested?.(pending);
      die('after-test');
    },
    async finish(ctx, pending) {
      die('after-promote');
      await inner.finish(ctx, pending);
    },
  };
}
