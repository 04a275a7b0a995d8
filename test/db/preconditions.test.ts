import { expect, it } from 'vitest';
import { createRegistry } from '../../src/core/registry.js';
import { rolesFromPrefix } from '../../src/db/roles.js';
import type { SqlDatabase } from '../../src/db/sql.js';
import { SqlRegistryStore } from '../../src/db/tenant-store.js';

/** A database that must never be reached: each precondition refuses before any SQL. */
const unreachable: SqlDatabase = {
  backend: 'postgres',
  transaction: () => Promise.reject(new Error('no SQL may run')),
  session: () => Promise.reject(new Error('no SQL may run')),
  close: async () => {},
};

it('Precondition: the prefix is a plain identifier, since role names are written into SQL', () => {
  expect(rolesFromPrefix('tenant_a')).toEqual({ runtime: 'tenant_a_app', platform: 'tenant_a_platform' });
  for (const bad of ['', 'Credreg', 'x"; DROP ROLE postgres; --', '1abc', 'a'.repeat(42)]) {
    expect(() => rolesFromPrefix(bad), bad).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  }
});

it('Precondition: the tenant id is a UUID (it is written into the prelude, so this also guards injection)', async () => {
  const store = new SqlRegistryStore(unreachable, rolesFromPrefix());
  for (const bad of [
    '',
    "00000000-0000-0000-0000-000000000000'; RESET ROLE; --",
    'ABCDEF00-0000-0000-0000-000000000000',
  ]) {
    await expect(
      store.withTenant(bad, async () => 1),
      bad,
    ).rejects.toMatchObject({ code: 'TENANT_REQUIRED' });
  }
});

it('Precondition: a tenant is named, by a well-formed id', () => {
  const registry = createRegistry({} as never);
  for (const bad of ['', 'acme', "' OR true --"]) {
    expect(() => registry.forTenant(bad), bad).toThrow(expect.objectContaining({ code: 'TENANT_REQUIRED' }));
  }
});

it('Precondition: the lease is a whole number of milliseconds, from 1 to a day', async () => {
  const registry = createRegistry({ store: new SqlRegistryStore(unreachable, rolesFromPrefix()) } as never);
  for (const bad of [0, -1, 1.5, Number.NaN, 86_400_001]) {
    await expect(registry.claimScheduledRun('maintenance', 'host:1', bad), String(bad)).rejects.toMatchObject(
      {
        code: 'VALIDATION',
      },
    );
  }
});

it('Precondition: the holder is named, in at most 200 characters', async () => {
  const registry = createRegistry({ store: new SqlRegistryStore(unreachable, rolesFromPrefix()) } as never);
  for (const bad of ['', 'h'.repeat(201)]) {
    await expect(registry.claimScheduledRun('maintenance', bad, 1000)).rejects.toMatchObject({
      code: 'VALIDATION',
    });
  }
});
