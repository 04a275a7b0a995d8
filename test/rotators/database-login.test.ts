import { describe, expect, it } from 'vitest';
import { RotationError } from '../../src/core/rotator.js';
import { loginOf, parseDatabaseUrl, urlWithLogin, withPassword } from '../../src/rotators/database-login.js';
import { expectNoSecret } from './conformance.js';

const PG = ['postgres:', 'postgresql:'];

function invalidValue(fn: () => unknown): RotationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RotationError);
    expect((err as RotationError).code).toBe('INVALID_VALUE');
    expect((err as RotationError).options.retryable).toBe(false);
    return err as RotationError;
  }
  throw new Error('expected INVALID_VALUE');
}

describe('database logins', () => {
  it('a new password in a connection string changes nothing else in it', () => {
    const current =
      'postgresql://app%2Eteam:old%40pw@db.example:6432/app_db?sslmode=verify-full&application_name=svc#x';
    const next = new URL(withPassword('connection_string', current, 'N3w_pass-word', PG) as string);
    const before = new URL(current);
    expect(next.password).toBe('N3w_pass-word');
    for (const part of ['protocol', 'username', 'host', 'pathname', 'search', 'hash'] as const) {
      expect(next[part]).toBe(before[part]);
    }
  });

  it('a new password in a basic_auth value keeps the username and drops nothing else of use', () => {
    expect(withPassword('basic_auth', { username: 'app', password: 'old' }, 'new', PG)).toEqual({
      username: 'app',
      password: 'new',
    });
  });

  it('a password with URL delimiters in it reads back as it was written', () => {
    const login = { username: 'a@b:c', password: 'p/w:x@y%z?#' };
    const url = urlWithLogin(new URL('postgres://admin:secret@db:5432/app'), login);
    expect(loginOf('connection_string', url, PG, 'it')).toEqual(login);
    expect(new URL(url).host).toBe('db:5432');
  });

  it('refuses a connection string whose user or password is in the query, where the new one would be ignored', () => {
    invalidValue(() => parseDatabaseUrl('postgres://app@db/app?password=x', PG, 'it'));
    invalidValue(() => parseDatabaseUrl('postgres://app:x@db/app?user=other', PG, 'it'));
  });

  it('refuses another scheme, a missing host or a missing user', () => {
    invalidValue(() => parseDatabaseUrl('mysql://app:x@db/app', PG, 'it'));
    invalidValue(() => parseDatabaseUrl('postgres:///app?host=/run/postgresql', PG, 'it'));
    invalidValue(() => parseDatabaseUrl('postgres://db/app', PG, 'it'));
    invalidValue(() => loginOf('basic_auth', { password: 'x' }, PG, 'it'));
    invalidValue(() => loginOf('api_key', 'k', PG, 'it'));
  });

  it("never puts the value, or the URL parser's error (which holds it), into what it throws", () => {
    const canary = 'CANARY_in_a_password';
    for (const bad of [`postgres://u:${canary}@/db`, `postgres://u:${canary}@h:99999/db`, `x${canary}`]) {
      const err = invalidValue(() => parseDatabaseUrl(bad, PG, 'the current value'));
      expect(err.cause).toBeUndefined();
      expectNoSecret(err, [canary]);
    }
  });
});
