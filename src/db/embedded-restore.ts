import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { RegistryError } from '../core/errors.js';
import { lockDataDir } from './data-dir-lock.js';

/** What a restore found in the archive: the schema version it holds. */
export interface RestoreResult {
  dataDir: string;
  schemaVersion: number;
}

/**
 * Unpacks a backup of the embedded store (`POST /v1/backup`, `credreg backup`) into `dataDir`, which
 * must be empty or absent, and opens it once to check it is a credreg store. Offline: nothing else may
 * use the directory meanwhile (it is locked throughout). The root key is not in a backup; the caller
 * places it (see docs/operations.md, "Backup and restore").
 *
 * @example
 * await restoreEmbeddedBackup(readFileSync('credreg.backup'), '/var/lib/credreg-restored');
 */
export async function restoreEmbeddedBackup(archive: Uint8Array, dataDir: string): Promise<RestoreResult> {
  /* Precondition: the target directory is empty or absent, so a restore never overwrites a store. */
  const existing = listDir(dataDir);
  if (existing.length > 0) {
    throw new RegistryError(
      'CONFLICT',
      `${dataDir} is not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', …' : ''}); restore into a new, empty directory`,
    );
  }
  /* Precondition: the archive is gzip, as every backup is, so a wrong file is named as such. */
  if (archive[0] !== 0x1f || archive[1] !== 0x8b) {
    throw new RegistryError('VALIDATION', 'this file is not a credreg backup (not a gzipped tarball)');
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = lockDataDir(dataDir);
  let opened = false;
  try {
    const db = new PGlite(join(dataDir, 'pgdata'), { loadDataDir: new Blob([archive]) });
    try {
      const schemaVersion = await storedSchemaVersion(db);
      opened = true;
      return { dataDir, schemaVersion };
    } finally {
      await db.close();
    }
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw new RegistryError('VALIDATION', 'this file is not a credreg backup (it does not open as a store)', {
      cause: err,
    });
  } finally {
    lock.release();
    // The directory was empty: what a failed restore left in it is its own, and would make the
    // next attempt refuse it as not empty.
    if (!opened)
      for (const entry of listDir(dataDir)) rmSync(join(dataDir, entry), { recursive: true, force: true });
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function storedSchemaVersion(db: PGlite): Promise<number> {
  const { rows } = await db.query<{ table: string | null }>(
    "SELECT to_regclass('credreg_migrations')::text AS table",
  );
  if (!rows[0]?.table) {
    throw new RegistryError(
      'VALIDATION',
      'this file is a PostgreSQL data directory, but not a credreg store',
    );
  }
  const { rows: versions } = await db.query<{ version: number | null }>(
    'SELECT coalesce(max(version), 0)::int AS version FROM credreg_migrations',
  );
  return versions[0]?.version ?? 0;
}
