import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ACCESS_ACTIONS } from '../../src/core/types.js';
import { appliedVersion, latestVersion, migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite-adapter.js';
import { describeEachBackend, type TestDatabase } from '../helpers/backends.js';

describeEachBackend('migrations', (backend) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await backend.open();
  });
  afterAll(() => t.close());

  it('are idempotent: a second run applies nothing', async () => {
    expect(await appliedVersion(t.db)).toBe(latestVersion());
    expect(await migrate(t.db, t.roles)).toEqual({ applied: [], current: latestVersion() });
  });

  it('allow exactly the access-log actions the code logs', async () => {
    const [row] = await t.db.transaction((c) =>
      c.query<{ def: string }>(
        `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
          WHERE conrelid = 'credential_access_log'::regclass AND conname = 'credential_access_log_action_check'`,
      ),
    );
    const allowed = [...row!.def.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]);
    expect(new Set(allowed)).toEqual(new Set(ACCESS_ACTIONS));
  });

  it('refuse to go on when an applied migration was edited afterwards', async () => {
    await t.db.session((s) => s.exec(`UPDATE credreg_migrations SET checksum = 'edited' WHERE version = 1`));
    await expect(migrate(t.db, t.roles)).rejects.toThrow(/changed after it was applied/);
  });
});

it('appliedVersion is 0 on an empty database', async () => {
  const db = await openPglite();
  expect(await appliedVersion(db)).toBe(0);
  await db.close();
});

it('a second open of one embedded data directory fails fast with a clear message', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'credreg-data-')), 'data');
  const first = await openPglite({ dataDir: dir });
  await expect(openPglite({ dataDir: dir })).rejects.toThrow(/in use by another credreg process/);
  await first.close();
  const again = await openPglite({ dataDir: dir });
  await again.close();
});
