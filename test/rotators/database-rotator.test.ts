/**
 * The checks the database rotators' shared wrapper makes before any driver runs. The admin points
 * at a port nothing listens on: a check that let the step through would fail as
 * TARGET_UNREACHABLE, not with the code expected here.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CredentialType } from '../../src/core/types.js';
import { postgresqlRotator } from '../../src/rotators/postgresql.js';
import { freePort } from '../helpers/processes.js';
import { rotationContext, rotationError } from './conformance.js';

async function contextFor(
  options: { admin?: { type: CredentialType; value: unknown }; signal?: AbortSignal } = {},
) {
  const port = await freePort();
  const adminCredential = randomUUID();
  return rotationContext(postgresqlRotator, {
    credentialType: 'connection_string',
    current: `postgres://app:old-password@127.0.0.1:${port}/app`,
    settings: { adminCredential },
    related: {
      [adminCredential]: options.admin ?? {
        type: 'connection_string',
        value: `postgres://admin:admin-password@127.0.0.1:${port}/app`,
      },
    },
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

describe('database rotator preconditions', () => {
  it('Precondition: the pending value names the same user as the current value.', async () => {
    const ctx = await contextFor();
    const other = (ctx.current as string).replace('//app:', '//postgres:');
    for (const step of ['set', 'test'] as const) {
      const err = await rotationError(postgresqlRotator[step](ctx, other));
      expect(err.code).toBe('INVALID_VALUE');
      expect(err.options.retryable).toBe(false);
    }
  });

  it('Precondition: the pending password is one `create` makes (A–Z a–z 0–9 - _, 16–128 characters).', async () => {
    const ctx = await contextFor();
    for (const password of ['short', `quote'${'x'.repeat(20)}`, 'x'.repeat(129)]) {
      const pending = (ctx.current as string).replace('old-password', encodeURIComponent(password));
      const err = await rotationError(postgresqlRotator.set(ctx, pending));
      expect(err.code).toBe('INVALID_VALUE');
    }
  });

  it("Precondition: the admin credential is a connection string of this rotator's scheme.", async () => {
    for (const admin of [
      { type: 'basic_auth' as const, value: { username: 'admin', password: 'x' } },
      { type: 'connection_string' as const, value: 'mysql://admin:x@127.0.0.1:3306/' },
    ]) {
      const ctx = await contextFor({ admin });
      const err = await rotationError(postgresqlRotator.set(ctx, await postgresqlRotator.create(ctx)));
      expect(err.code).toBe('INVALID_VALUE');
      expect(err.options.retryable).toBe(false);
    }
  });

  it('a step whose deadline has passed fails with TARGET_UNREACHABLE, retryable, before connecting', async () => {
    const ctx = await contextFor({ signal: AbortSignal.abort() });
    const err = await rotationError(postgresqlRotator.set(ctx, await postgresqlRotator.create(ctx)));
    expect(err.code).toBe('TARGET_UNREACHABLE');
    expect(err.message).toContain('deadline');
    expect(err.cause).toBeUndefined();
  });

  it('create keeps the password length asked for, in the URL-safe alphabet', async () => {
    const adminCredential = randomUUID();
    const ctx = rotationContext(postgresqlRotator, {
      credentialType: 'basic_auth',
      current: { username: 'app', password: 'old' },
      settings: { adminCredential, passwordLength: 100 },
    });
    const pending = (await postgresqlRotator.create(ctx)) as { username: string; password: string };
    expect(pending.username).toBe('app');
    expect(pending.password).toMatch(/^[A-Za-z0-9_-]{100}$/);
    expect(postgresqlRotator.settings.safeParse({ adminCredential, passwordLength: 15 }).success).toBe(false);
    expect(postgresqlRotator.settings.safeParse({ adminCredential: 'not-a-uuid' }).success).toBe(false);
  });
});
