/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802, RFC 7677), computed on
 * our side as psql's `\password` does, so `ALTER ROLE … PASSWORD` carries the verifier and never
 * the password itself: a server that logs statements (`log_statement = 'ddl'`), an extension that
 * records them (`pg_stat_statements`) or a proxy in between sees nothing it could log in with.
 *
 * Format: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** PostgreSQL's own default (`scram_iterations`, fixed before version 16). */
const ITERATIONS = 4096;
const SALT_BYTES = 16;

/**
 * The verifier of `password`. Only printable ASCII is taken: SCRAM normalizes a password with
 * SASLprep first, which changes nothing for these characters and is not implemented here.
 *
 * @example scramSha256Verifier('pencil') // 'SCRAM-SHA-256$4096:…$…:…'
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(SALT_BYTES)): string {
  /* Precondition: the password is non-empty printable ASCII. */
  if (!/^[\x20-\x7e]+$/.test(password)) {
    throw new RangeError('a SCRAM verifier is only computed for printable ASCII passwords');
  }
  const salted = pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  salted.fill(0);
  clientKey.fill(0);
  const b64 = (b: Buffer) => b.toString('base64');
  return `SCRAM-SHA-256$${ITERATIONS}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}
