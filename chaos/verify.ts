/**
 * The ledger against the database, read as its owner once the load has stopped: every granted
 * reveal must have its `granted` access-log row, every acknowledged write its version row. On
 * PostgreSQL this is SQL on the private cluster; on the embedded store, the store opened after the
 * service stopped (the same adapter, so its lock is honoured).
 */
import { openPglite } from '../src/db/pglite-adapter.js';
import type { PgCluster } from '../test/helpers/private-postgres.js';
import type { Ledger } from './ledger.js';

/** The one thing verification needs of a connection: statements with parameters, in one session. */
export interface OwnerSession {
  query<T>(text: string, params?: unknown[]): Promise<T[]>;
}

export interface Verification {
  /** Reveals answered 200 whose request id has no `granted` reveal row. */
  withoutRow: number;
  /** Acknowledged stores and rotations whose version row is missing. */
  lost: number;
  /** A few of each, as evidence. */
  samples: string[];
}

const CHUNK = 20_000;

/** Compares in temporary tables (anti-joins), so a soak's million reveals cost two scans, not a million lookups. */
export async function verify(session: OwnerSession, ledger: Ledger): Promise<Verification> {
  await session.query('CREATE TEMP TABLE chaos_reveals (request_id text NOT NULL)');
  await session.query(
    'CREATE TEMP TABLE chaos_writes (credential_id uuid NOT NULL, version integer NOT NULL)',
  );
  try {
    for (let i = 0; i < ledger.revealIds.length; i += CHUNK) {
      await session.query('INSERT INTO chaos_reveals SELECT unnest($1::text[])', [
        ledger.revealIds.slice(i, i + CHUNK),
      ]);
    }
    for (let i = 0; i < ledger.acked.length; i += CHUNK) {
      const part = ledger.acked.slice(i, i + CHUNK);
      await session.query('INSERT INTO chaos_writes SELECT unnest($1::uuid[]), unnest($2::int[])', [
        part.map((w) => w.credentialId),
        part.map((w) => w.version),
      ]);
    }
    const withoutRow = await session.query<{ request_id: string }>(
      `SELECT r.request_id FROM chaos_reveals r
        WHERE NOT EXISTS (SELECT 1 FROM credential_access_log l
                           WHERE l.request_id = r.request_id AND l.action = 'reveal' AND l.outcome = 'granted')`,
    );
    const lost = await session.query<{ credential_id: string; version: number }>(
      `SELECT w.credential_id, w.version FROM chaos_writes w
        WHERE NOT EXISTS (SELECT 1 FROM credential_versions v
                           WHERE v.credential_id = w.credential_id AND v.version = w.version)`,
    );
    return {
      withoutRow: withoutRow.length,
      lost: lost.length,
      samples: [
        ...withoutRow
          .slice(0, 3)
          .map((r) => `200 reveal without a granted row: X-Request-Id ${r.request_id}`),
        ...lost
          .slice(0, 3)
          .map((w) => `acknowledged write lost: credential ${w.credential_id} version ${w.version}`),
      ],
    };
  } finally {
    await session.query('DROP TABLE IF EXISTS chaos_reveals, chaos_writes');
  }
}

/** Verification on a scenario's database of the private cluster, as the superuser. */
export function verifyOnCluster(cluster: PgCluster, database: string, ledger: Ledger): Promise<Verification> {
  return cluster.withClient(database, (c) =>
    verify(
      { query: async <T>(text: string, params?: unknown[]) => (await c.query(text, params)).rows as T[] },
      ledger,
    ),
  );
}

/**
 * Verification on an embedded store whose service has stopped. A store that a dead process still
 * locks is retried for a while (that is a finding of its own, reported by the scenario).
 */
export async function verifyEmbedded(dataDir: string, ledger: Ledger): Promise<Verification> {
  const until = Date.now() + 20_000;
  for (;;) {
    try {
      const db = await openPglite({ dataDir });
      try {
        // PGlite's own user is a superuser: it reads past row-level security, as an owner does.
        return await db.session((s) => verify(s, ledger));
      } finally {
        await db.close();
      }
    } catch (err) {
      if (Date.now() > until || !/in use by another/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
