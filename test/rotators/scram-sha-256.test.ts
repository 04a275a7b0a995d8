import { describe, expect, it } from 'vitest';
import { scramSha256Verifier } from '../../src/rotators/scram-sha-256.js';

describe('SCRAM-SHA-256 verifier', () => {
  it('is byte for byte what PostgreSQL 15 stores for the same password and salt', () => {
    // Read from pg_authid after CREATE ROLE … PASSWORD 'pencil' on a scram-sha-256 cluster.
    const fromPostgres =
      'SCRAM-SHA-256$4096:qAmHIXTkl1OCJ7BlqlGZ3g==$RfzDZZWvZpMprQG1lHs+jFAk6g3yFGKdGYJS2wEoJW4=:6q9jRuPADO4QxQj417moc9i/8rtfW93EI7ahkypHLVI=';
    expect(scramSha256Verifier('pencil', Buffer.from('qAmHIXTkl1OCJ7BlqlGZ3g==', 'base64'))).toBe(
      fromPostgres,
    );
  });

  it('takes a fresh salt each time, so the same password gives another verifier', () => {
    expect(scramSha256Verifier('pencil')).not.toBe(scramSha256Verifier('pencil'));
  });

  it('Precondition: the password is non-empty printable ASCII.', () => {
    for (const password of ['', 'naïve', 'tab\there']) {
      expect(() => scramSha256Verifier(password)).toThrow(RangeError);
    }
  });
});
