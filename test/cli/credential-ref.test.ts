import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseCredentialRef, parseVaultRef, wholeCredential } from '../../src/cli/credential-ref.js';

const ID = '01a234ca-5744-764a-8f6d-63b5ebf12526';

describe('parseCredentialRef', () => {
  it('reads a path, with or without a #field', () => {
    expect(parseCredentialRef('payments/stripe')).toEqual({ vault: 'payments', name: 'stripe' });
    expect(parseCredentialRef('payments/stripe#password')).toEqual({
      vault: 'payments',
      name: 'stripe',
      field: 'password',
    });
    expect(parseCredentialRef('team_a.prod-1/db-main_v2.key#access_token')).toEqual({
      vault: 'team_a.prod-1',
      name: 'db-main_v2.key',
      field: 'access_token',
    });
  });

  it('reads a UUID as an id (lower-cased), with or without a #field', () => {
    expect(parseCredentialRef(ID)).toEqual({ id: ID });
    expect(parseCredentialRef(ID.toUpperCase())).toEqual({ id: ID });
    expect(parseCredentialRef(`${ID}#password`)).toEqual({ id: ID, field: 'password' });
  });

  it('refuses what names no credential as a usage error', () => {
    for (const bad of ['stripe', 'a/b/c', '/stripe', 'payments/', '-x/y', 'a b/c', 'p/s#', 'p/s#a b', '']) {
      expect(() => parseCredentialRef(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(() => parseCredentialRef('stripe')).toThrow(/vault\/name \(e\.g\. payments\/stripe\)/);
  });

  it('wholeCredential refuses a #field where a command takes the whole credential', () => {
    expect(() => wholeCredential(parseCredentialRef('p/s#f'), 'p/s#f')).toThrow(/takes no #field/);
    expect(wholeCredential(parseCredentialRef('p/s'), 'p/s')).toEqual({ vault: 'p', name: 's' });
  });
});

describe('parseVaultRef', () => {
  it('reads a UUID as an id and anything else as a name; a path is no vault', () => {
    expect(parseVaultRef(ID)).toEqual({ id: ID });
    expect(parseVaultRef('payments')).toEqual({ name: 'payments' });
    expect(() => parseVaultRef('payments/stripe')).toThrow(InvalidArgumentError);
    expect(() => parseVaultRef('.hidden')).toThrow(InvalidArgumentError);
  });
});
