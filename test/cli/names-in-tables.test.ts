/**
 * Names where people read tables (a real `credreg serve`, the CLI over HTTP): `audit list` and
 * `cred versions` show the principal's name instead of its id (the id when there is no principal),
 * `--json` carries both; and tenants are found by name (`tenant list --name`, `tenant get`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCli, type ServeHandle, startServe } from '../helpers/cli-server.js';

describe('principal and tenant names in the CLI (a real `credreg serve`)', () => {
  let server: ServeHandle;
  let platform: NodeJS.ProcessEnv;
  let admin: NodeJS.ProcessEnv;
  let tenantId: string;
  let principalId: string;

  /** The rows of a table, as arrays of cells (split on runs of two or more spaces). */
  const rowsOf = (table: string) =>
    table
      .trimEnd()
      .split('\n')
      .map((line) => line.trim().split(/\s{2,}/));
  const column = (table: string, header: string) => {
    const [head, ...rows] = rowsOf(table);
    const at = head!.indexOf(header);
    expect(at, `${header} in ${head!.join('|')}`).toBeGreaterThanOrEqual(0);
    return rows.map((r) => r[at]);
  };

  beforeAll(async () => {
    server = await startServe();
    platform = { ...cleanEnv(), CREDREG_ADDR: server.addr, CREDREG_TOKEN: server.platformToken };
    for (const name of ['acme', 'acme-two']) {
      const r = await runCli(['tenant', 'create', name, '--json'], platform);
      expect(r.code, r.stderr).toBe(0);
      if (name === 'acme') tenantId = (JSON.parse(r.stdout) as { id: string }).id;
    }
    const token = await runCli(['token', 'create-admin', '--tenant', tenantId, '--name', 'alice'], platform);
    expect(token.code, token.stderr).toBe(0);
    admin = { ...cleanEnv(), CREDREG_ADDR: server.addr, CREDREG_TOKEN: token.stdout.trim() };
    expect((await runCli(['vault', 'create', 'payments'], admin)).code).toBe(0);
    const put = await runCli(['cred', 'put', 'payments', 'stripe', '--type', 'api_key'], admin, 'sk_1\n');
    expect(put.code, put.stderr).toBe(0);
    const rotate = await runCli(['cred', 'rotate', 'payments/stripe'], admin, 'sk_2\n');
    expect(rotate.code, rotate.stderr).toBe(0);
  }, 60_000);
  afterAll(() => server?.stop());

  it('`cred versions` shows who made each version by name; --json carries the id and the name', async () => {
    const table = await runCli(['cred', 'versions', 'payments/stripe'], admin);
    expect(table.code, table.stderr).toBe(0);
    expect(column(table.stdout, 'CREATED BY')).toEqual(['alice', 'alice']);
    const json = await runCli(['cred', 'versions', 'payments/stripe', '--json'], admin);
    const items = (JSON.parse(json.stdout) as { items: { createdBy: string; createdByName: string }[] })
      .items;
    principalId = items[0]!.createdBy;
    expect(principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(items.map((v) => [v.createdBy, v.createdByName])).toEqual([
      [principalId, 'alice'],
      [principalId, 'alice'],
    ]);
  });

  it('`audit list` shows principal actors by name and others as recorded; --json carries both', async () => {
    const table = await runCli(['audit', 'list', '--limit', '100'], admin);
    expect(table.code, table.stderr).toBe(0);
    const actors = new Set(column(table.stdout, 'ACTOR'));
    expect(actors).toEqual(new Set(['alice', 'platform:bootstrap']));
    expect(table.stdout).not.toContain(principalId);

    const json = await runCli(['audit', 'list', '--limit', '100', '--json'], admin);
    const items = (JSON.parse(json.stdout) as { items: { actor: string; actorName: string | null }[] }).items;
    expect(new Set(items.map((e) => `${e.actor}=${e.actorName}`))).toEqual(
      new Set([`${principalId}=alice`, 'platform:bootstrap=null']),
    );
  });

  it('`tenant list --name` lists only the tenant of that exact name', async () => {
    const table = await runCli(['tenant', 'list', '--name', 'acme'], platform);
    expect(table.code, table.stderr).toBe(0);
    expect(column(table.stdout, 'NAME')).toEqual(['acme']);
    const none = await runCli(['tenant', 'list', '--name', 'acm', '--json'], platform);
    expect(JSON.parse(none.stdout)).toEqual({ items: [], nextCursor: null });
  });

  it('`tenant get` takes a name or an id', async () => {
    const byName = await runCli(['tenant', 'get', 'acme', '--json'], platform);
    expect(byName.code, byName.stderr).toBe(0);
    const tenant = JSON.parse(byName.stdout) as { id: string; name: string };
    expect(tenant).toMatchObject({ id: tenantId, name: 'acme' });
    const byId = await runCli(['tenant', 'get', tenantId.toUpperCase(), '--json'], platform);
    expect(byId.code, byId.stderr).toBe(0);
    expect(JSON.parse(byId.stdout)).toEqual(tenant);
    const text = await runCli(['tenant', 'get', 'acme'], platform);
    expect(text.stdout).toMatch(new RegExp(`ID\\s+${tenantId}`));
  });

  it('`tenant get` of a missing name or id exits 4 (not found)', async () => {
    const name = await runCli(['tenant', 'get', 'nobody'], platform);
    expect(name.code).toBe(4);
    expect(name.stderr).toMatch(/no tenant is named "nobody"/);
    const id = await runCli(['tenant', 'get', '00000000-0000-4000-8000-000000000000'], platform);
    expect(id.code).toBe(4);
  });

  it('`token create-admin --tenant` takes the tenant by name; a missing name exits 4, creating nothing', async () => {
    const made = await runCli(['token', 'create-admin', '--tenant', 'acme', '--name', 'bob'], platform);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toMatch(/role admin/);
    const bob = { ...cleanEnv(), CREDREG_ADDR: server.addr, CREDREG_TOKEN: made.stdout.trim() };
    const vaults = await runCli(['vault', 'list', '--json'], bob);
    expect((JSON.parse(vaults.stdout) as { items: { name: string }[] }).items.map((v) => v.name)).toEqual([
      'payments',
    ]);
    const missing = await runCli(
      ['token', 'create-admin', '--tenant', 'nobody', '--name', 'carol'],
      platform,
    );
    expect(missing.code).toBe(4);
    expect(missing.stdout).toBe('');
    const principals = await runCli(['principal', 'list', '--json'], admin);
    const names = (JSON.parse(principals.stdout) as { items: { name: string }[] }).items.map((p) => p.name);
    expect(names.sort()).toEqual(['alice', 'bob']);
  });

  it('`tenant get` and `tenant list --name` with a tenant token exit 3 (forbidden)', async () => {
    expect((await runCli(['tenant', 'get', 'acme'], admin)).code).toBe(3);
    expect((await runCli(['tenant', 'get', tenantId], admin)).code).toBe(3);
    expect((await runCli(['tenant', 'list', '--name', 'acme'], admin)).code).toBe(3);
  });
});
