/**
 * The contract every rotator passes (`src/core/rotator.ts`), checked against the port alone: a
 * rotator's test file describes how to make a credential for it (and, where it has one, how to
 * reach its target), and `describeRotator` runs the same checks on each.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RotationContext, RotationError, type Rotator } from '../../src/core/rotator.js';
import type { CredentialType } from '../../src/core/types.js';
import { VALUE_SCHEMAS } from '../../src/core/validation.js';
import { freePort } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

/** What a rotator's test file gives the suite. */
export interface RotatorUnderTest<S> {
  rotator: Rotator<S>;
  /** Settings as a tenant would write them; the suite adds a field to see it refused. */
  settings: Record<string, unknown>;
  /** A credential of its own for one test (with its own account at the target, where there is one). */
  fresh(): Promise<RotationContext<S>>;
  /** The parts of a value that are secret (a password, the whole of an API key). */
  secrets(value: unknown): string[];
  /** Secrets the suite cannot see in any value (the admin's password), checked in every error too. */
  alsoSecret?: string[];
  /** How to reach the target, for a rotator that has one. */
  target?: TargetUnderTest<S>;
  close?(): Promise<void>;
}

/** A rotator's target, as the suite needs it. A password these make up contains the `canary` given. */
export interface TargetUnderTest<S> {
  /** Whether `value` logs in at the target now. */
  accepts(value: unknown): Promise<boolean>;
  /** A credential whose admin and own addresses both lead to 127.0.0.1:`port` (nothing of the real target). */
  at(port: number, canary: string): Promise<RotationContext<S>>;
  /** A credential of a real account whose admin credential has a wrong password (`canary`). */
  wrongAdmin(canary: string): Promise<RotationContext<S>>;
  /** A credential of a real account whose admin logs in but may not change passwords. */
  weakAdmin(): Promise<RotationContext<S>>;
  /** A credential of an account the target does not have, with the real admin. */
  noSuchUser(canary: string): Promise<RotationContext<S>>;
}

/** A context as the core would build it, with `settings` parsed by the rotator's own schema. */
export function rotationContext<S>(
  rotator: Rotator<S>,
  options: {
    credentialType: CredentialType;
    current: unknown;
    settings: unknown;
    related?: Record<string, { type: CredentialType; value: unknown }>;
    signal?: AbortSignal;
  },
): RotationContext<S> {
  return {
    tenantId: randomUUID(),
    credentialId: randomUUID(),
    credentialType: options.credentialType,
    current: options.current,
    settings: rotator.settings.parse(options.settings),
    async related(id) {
      const found = options.related?.[id];
      if (!found) throw new Error(`no credential ${id} in this test`);
      return found;
    },
    signal: options.signal ?? new AbortController().signal,
  };
}

/** Fails if any of `secrets` (or its percent-encoded form) shows anywhere in `err`: message, stack, cause, fields. */
export function expectNoSecret(err: unknown, secrets: readonly string[]): void {
  const seen = [
    String(err),
    err instanceof Error ? `${err.message}\n${err.stack}` : '',
    inspect(err, { depth: 10, showHidden: true }),
    JSON.stringify(err) ?? '',
  ].join('\n');
  for (const secret of secrets.filter((s) => s !== '')) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      expect(seen.includes(form), `a secret (${form.length} characters) shows in the error`).toBe(false);
    }
  }
}

/** The rejection of `p`, which must be a `RotationError`. */
export async function rotationError(p: Promise<unknown>): Promise<RotationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the step should have failed').toBeInstanceOf(RotationError);
  return err as RotationError;
}

/** A TCP server on loopback that accepts and never says a word: a target that hangs. */
async function silentServer(): Promise<{
  port: number;
  open: () => number;
  seen: () => number;
  close(): void;
}> {
  const sockets = new Set<Socket>();
  let seen = 0;
  const server = createServer((s) => {
    seen++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    // Read and drop what the client sends: a paused socket would never see the client hang up.
    s.resume();
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    open: () => sockets.size,
    seen: () => seen,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

const canary = () => `CANARY${randomBytes(6).toString('hex')}`;

/**
 * Registers the contract's tests for one rotator; `setup` runs once, before them. A rotator without
 * a target (`random`) says so with `{ target: false }`; otherwise a missing `target` fails the
 * target's tests rather than skipping them.
 */
export function describeRotator<S>(
  name: string,
  setup: () => Promise<RotatorUnderTest<S>>,
  options: { target: boolean } = { target: true },
): void {
  describe(`${name}: the rotator contract`, () => {
    let h: RotatorUnderTest<S>;
    beforeAll(async () => {
      h = await setup();
    });
    afterAll(async () => {
      await h?.close?.();
    });

    it('declares the credential types it rotates, the one under test among them', async () => {
      const ctx = await h.fresh();
      expect(h.rotator.credentialTypes.length).toBeGreaterThan(0);
      expect(h.rotator.credentialTypes).toContain(ctx.credentialType);
    });

    it('its settings schema takes the documented settings and refuses an unknown field', () => {
      expect(h.rotator.settings.safeParse(h.settings).success).toBe(true);
      expect(h.rotator.settings.safeParse({ ...h.settings, passwrod: 'x' }).success).toBe(false);
    });

    it('create makes a valid value of the same type, a different one each time, from no secret of the current one', async () => {
      const ctx = await h.fresh();
      const a = await h.rotator.create(ctx);
      const b = await h.rotator.create(ctx);
      expect(VALUE_SCHEMAS[ctx.credentialType].safeParse(a).success).toBe(true);
      expect(a).not.toEqual(ctx.current);
      expect(a).not.toEqual(b);
      for (const secret of h.secrets(ctx.current)) {
        expect(JSON.stringify(a)).not.toContain(secret);
      }
    });

    it('every step can run again with the same pending value', async () => {
      const ctx = await h.fresh();
      const pending = await h.rotator.create(ctx);
      await h.rotator.set(ctx, pending);
      await h.rotator.set(ctx, pending);
      await h.rotator.test(ctx, pending);
      await h.rotator.test(ctx, pending);
      await h.rotator.finish(ctx, pending);
      await h.rotator.finish(ctx, pending);
      if (h.target) expect(await h.target.accepts(pending)).toBe(true);
    });

    // Not registered at all without a target: a skipped test would read as something left undone.
    if (!options.target) return;
    describe('at its target', () => {
      const target = () => {
        if (!h.target) throw new Error(`${name} was described with a target but its setup gave none`);
        return h.target;
      };

      it('create changes nothing at the target: the current value still works', async () => {
        const ctx = await h.fresh();
        expect(await target().accepts(ctx.current)).toBe(true);
        const pending = await h.rotator.create(ctx);
        expect(await target().accepts(ctx.current)).toBe(true);
        expect(await target().accepts(pending)).toBe(false);
      });

      it('after set and test the new value works and the old one no longer does', async () => {
        const ctx = await h.fresh();
        const pending = await h.rotator.create(ctx);
        await h.rotator.set(ctx, pending);
        await h.rotator.test(ctx, pending);
        expect(await target().accepts(pending)).toBe(true);
        expect(await target().accepts(ctx.current)).toBe(false);
      });

      it('test before set fails with TEST_FAILED, retryable', async () => {
        const ctx = await h.fresh();
        const pending = await h.rotator.create(ctx);
        const err = await rotationError(h.rotator.test(ctx, pending));
        expect(err.code).toBe('TEST_FAILED');
        expect(err.options.retryable).toBe(true);
      });

      it('an unreachable target gives TARGET_UNREACHABLE, retryable, on set and on test', async () => {
        const ctx = await target().at(await freePort(), canary());
        const pending = await h.rotator.create(ctx);
        for (const step of ['set', 'test'] as const) {
          const err = await rotationError(h.rotator[step](ctx, pending));
          expect(err.code).toBe('TARGET_UNREACHABLE');
          expect(err.options.retryable).toBe(true);
        }
      });

      it('a refused admin login gives TARGET_REFUSED, not retryable, and changes nothing', async () => {
        const ctx = await target().wrongAdmin(canary());
        const pending = await h.rotator.create(ctx);
        const err = await rotationError(h.rotator.set(ctx, pending));
        expect(err.code).toBe('TARGET_REFUSED');
        expect(err.options.retryable).toBe(false);
        expect(await target().accepts(ctx.current)).toBe(true);
      });

      it('an admin without the privilege gives TARGET_REFUSED, not retryable, and changes nothing', async () => {
        const ctx = await target().weakAdmin();
        const err = await rotationError(h.rotator.set(ctx, await h.rotator.create(ctx)));
        expect(err.code).toBe('TARGET_REFUSED');
        expect(err.options.retryable).toBe(false);
        expect(await target().accepts(ctx.current)).toBe(true);
      });

      it('an account the target does not have gives TARGET_REFUSED on set', async () => {
        const ctx = await target().noSuchUser(canary());
        const err = await rotationError(h.rotator.set(ctx, await h.rotator.create(ctx)));
        expect(err.code).toBe('TARGET_REFUSED');
        expect(err.options.retryable).toBe(false);
      });

      it('an aborted signal ends a step on a target that never answers, and closes its connection', async () => {
        const silent = await silentServer();
        try {
          const base = await target().at(silent.port, canary());
          const pending = await h.rotator.create(base);
          for (const step of ['set', 'test'] as const) {
            const before = silent.seen();
            const abort = new AbortController();
            const started = Date.now();
            const running = rotationError(h.rotator[step]({ ...base, signal: abort.signal }, pending));
            await waitUntil(async () => silent.seen() > before, 'the step to connect');
            abort.abort();
            const err = await running;
            expect(err.code).toBe('TARGET_UNREACHABLE');
            // Both bounds sit well under the drivers' 10 s connect timeout, so only the abort meets
            // them, and still leave a busy machine seconds for what takes milliseconds.
            expect(Date.now() - started).toBeLessThan(8_000);
            await waitUntil(async () => silent.open() === 0, 'the step to close its connection', 7_000);
          }
        } finally {
          silent.close();
        }
      });

      it('no secret reaches any error it throws (a canary in every password)', async () => {
        const mark = canary();
        const silent = await silentServer();
        try {
          const failing: { ctx: RotationContext<S>; steps: ('set' | 'test')[]; signal?: AbortController }[] =
            [
              { ctx: await target().at(await freePort(), mark), steps: ['set', 'test'] },
              { ctx: await target().wrongAdmin(mark), steps: ['set'] },
              { ctx: await target().weakAdmin(), steps: ['set'] },
              { ctx: await target().noSuchUser(mark), steps: ['set', 'test'] },
              { ctx: await h.fresh(), steps: ['test'] },
            ];
          const hung = await target().at(silent.port, mark);
          const abort = new AbortController();
          failing.push({ ctx: { ...hung, signal: abort.signal }, steps: ['set'], signal: abort });
          for (const { ctx, steps, signal } of failing) {
            const pending = await h.rotator.create(ctx);
            const secrets = [mark, ...h.secrets(pending), ...h.secrets(ctx.current), ...(h.alsoSecret ?? [])];
            for (const step of steps) {
              const running = rotationError(h.rotator[step](ctx, pending));
              if (signal) {
                await waitUntil(async () => silent.seen() > 0, 'the step to connect');
                signal.abort();
              }
              expectNoSecret(await running, secrets);
            }
          }
        } finally {
          silent.close();
        }
      });
    });
  });
}
