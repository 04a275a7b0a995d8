/** The embedded store's snapshot (`POST /v1/backup`) is taken between transactions, never inside one. */
import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/pglite-adapter.js';

describe('a snapshot of the embedded store', () => {
  it('taken while transactions write, holds each of them whole or not at all', async () => {
    const db = await openPglite();
    await db.session((s) => s.exec('CREATE TABLE pairs (txn int, half int)'));
    // Each transaction writes two rows, yielding between them: a snapshot inside one would hold one row.
    const write = (txn: number) =>
      db.transaction(async (c) => {
        await c.query('INSERT INTO pairs VALUES ($1, 1)', [txn]);
        await new Promise((r) => setImmediate(r));
        await c.query('INSERT INTO pairs VALUES ($1, 2)', [txn]);
      });
    const before = Array.from({ length: 10 }, (_, i) => write(i));
    const taking = db.snapshot!();
    const after = Array.from({ length: 10 }, (_, i) => write(10 + i));
    const snapshot = await taking;
    await Promise.all([...before, ...after]);
    await db.close();

    const copy = new PGlite({ loadDataDir: new Blob([snapshot]) });
    const { rows } = await copy.query<{ txn: number; n: number }>(
      'SELECT txn, count(*)::int AS n FROM pairs GROUP BY txn',
    );
    await copy.close();
    for (const row of rows) expect(row.n).toBe(2);
    // Transactions run one at a time, in order: those asked for first, and none of the others.
    expect(rows.map((r) => r.txn).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }, 120_000);
});
