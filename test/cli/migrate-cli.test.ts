/** `credreg migrate` on PostgreSQL: it migrates with no root key configured, since it touches no secret. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, credreg, exited } from '../helpers/processes.js';

const DATABASE_URL = process.env.DATABASE_URL;

(DATABASE_URL ? describe : describe.skip)('credreg migrate on PostgreSQL', () => {
  const suffix = randomBytes(5).toString('hex');
  const dbName = `credreg_migrate_${suffix}`;
  const prefix = `credreg_m${suffix}`;
  const url = new URL(DATABASE_URL ?? 'postgres://x@127.0.0.1/x');
  url.pathname = `/${dbName}`;
  const admin = () => new pg.Client({ connectionString: DATABASE_URL });

  afterAll(async () => {
    const a = admin();
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await a.query(`DROP ROLE IF EXISTS "${prefix}_app", "${prefix}_platform"`);
    await a.end();
  });

  it('serve refuses an unmigrated schema; migrate needs no root key; serve then refuses without one, clearly', async () => {
    const a = admin();
    await a.connect();
    await a.query(`CREATE DATABASE ${dbName}`);
    await a.end();
    const env = { DATABASE_URL: url.toString(), CREDREG_DB_ROLE_PREFIX: prefix };
    // Before: a shared schema is never migrated behind the operator's back.
    const early = credreg(['serve'], { ...env, CREDREG_ROOT_KEY: randomBytes(32).toString('base64') });
    const earlyOut = collect(early);
    expect(await exited(early)).toBe(2); // a configuration error: see exit-codes.ts
    expect(earlyOut.out()).toMatch(/schema is at version 0, \d+ is needed: run `credreg migrate`/);
    const migrate = credreg(['migrate'], env);
    const out = collect(migrate);
    expect(await exited(migrate), out.out()).toBe(0);
    expect(out.out()).toMatch(/migrations applied/);
    const serve = credreg(['serve'], env);
    const serveOut = collect(serve);
    expect(await exited(serve)).toBe(2);
    expect(serveOut.out()).toMatch(/DATABASE_URL is set but no root key is/);
  });
});
