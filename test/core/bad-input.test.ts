/**
 * Bad input gets a typed error and writes nothing but its own access-log row.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { TENANT_TABLES } from '../../src/db/role-check.js';
import { describeEachBackend, expectCode, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const alice = { actor: 'alice' };
const big = 'x'.repeat(64 * 1024 + 1);

describeEachBackend('bad input', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let vaultId: string;
  let existing: string;

  /** Row counts of every table, from the owner's side. */
  const counts = () =>
    t.db.transaction(async (c) => {
      const out: Record<string, number> = {};
      for (const table of TENANT_TABLES) {
        out[table] = (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;
      }
      return out;
    });

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    vaultId = (await acme.vaults.create({ name: 'v' }, alice)).id;
    existing = (await acme.credentials.store({ vaultId, name: 'taken', type: 'api_key', value: 'x' }, alice))
      .id;
  });
  afterAll(() => t.close());

  /** An object nested `depth` deep: `{ a: { a: … } }`. */
  const nested = (depth: number) => {
    let v: Record<string, unknown> = {};
    for (let i = 0; i < depth; i++) v = { a: v };
    return v;
  };
  const cases: Array<[string, string, () => Promise<unknown>]> = [
    [
      'a reason with U+0000',
      'VALIDATION',
      () => acme.credentials.reveal(existing, { ...alice, reason: 'a\u0000b' }),
    ],
    [
      'a reason with a lone surrogate',
      'VALIDATION',
      () => acme.credentials.reveal(existing, { ...alice, reason: 'a\uD800b' }),
    ],
    [
      'a version past 2^31-1',
      'VALIDATION',
      () => acme.credentials.reveal(existing, { ...alice, reason: 'r', version: 2 ** 31 }),
    ],
    [
      'an expectedVersion of 2^53',
      'VALIDATION',
      () => acme.credentials.rotate(existing, 'y', { ...alice, expectedVersion: 2 ** 53 }),
    ],
    [
      'an actor with U+0000',
      'VALIDATION',
      () => acme.credentials.reveal(existing, { actor: 'al\u0000ice', reason: 'r' }),
    ],
    [
      'metadata nested 10,000 deep',
      'VALIDATION',
      () =>
        acme.credentials.store(
          { vaultId, name: 'deep', type: 'api_key', value: 'x', metadata: nested(10_000) },
          alice,
        ),
    ],
    [
      'a metadata key with U+0000',
      'VALIDATION',
      () =>
        acme.credentials.store(
          { vaultId, name: 'nul', type: 'api_key', value: 'x', metadata: { 'k\u0000': 1 } },
          alice,
        ),
    ],
    [
      'a metadata value with U+0000',
      'VALIDATION',
      () => acme.credentials.update(existing, { metadata: { k: 'v\u0000' } }, alice),
    ],
    [
      'a structured value nested 10,000 deep',
      'VALIDATION',
      () =>
        acme.credentials.store({ vaultId, name: 'deepv', type: 'basic_auth', value: nested(10_000) }, alice),
    ],
    ['an empty reason', 'VALIDATION', () => acme.credentials.reveal(existing, { ...alice, reason: '' })],
    ['a blank reason', 'VALIDATION', () => acme.credentials.reveal(existing, { ...alice, reason: '   ' })],
    ['a missing reason', 'VALIDATION', () => acme.credentials.reveal(existing, { ...alice } as never)],
    [
      'a malformed credential id',
      'VALIDATION',
      () => acme.credentials.reveal("1' OR '1'='1", { ...alice, reason: 'r' }),
    ],
    [
      'a malformed vault id',
      'VALIDATION',
      () => acme.credentials.store({ vaultId: 'v1', name: 'n', type: 'api_key', value: 'x' }, alice),
    ],
    [
      'a value over 64 KiB',
      'VALIDATION',
      () => acme.credentials.store({ vaultId, name: 'big', type: 'api_key', value: big }, alice),
    ],
    ['a rotation over 64 KiB', 'VALIDATION', () => acme.credentials.rotate(existing, big, alice)],
    [
      'a value of the wrong shape',
      'VALIDATION',
      () =>
        acme.credentials.store(
          { vaultId, name: 'shape', type: 'basic_auth', value: { username: 'u' } },
          alice,
        ),
    ],
    [
      'a rotation of the wrong shape',
      'VALIDATION',
      () => acme.credentials.rotate(existing, { key: 'x' }, alice),
    ],
    [
      'a certificate that is not PEM',
      'VALIDATION',
      () =>
        acme.credentials.store(
          { vaultId, name: 'cert', type: 'certificate', value: { cert_pem: 'x', key_pem: 'y' } },
          alice,
        ),
    ],
    [
      'an unknown type',
      'VALIDATION',
      () => acme.credentials.store({ vaultId, name: 't', type: 'password' as never, value: 'x' }, alice),
    ],
    [
      'a bad name',
      'VALIDATION',
      () => acme.credentials.store({ vaultId, name: '../etc', type: 'api_key', value: 'x' }, alice),
    ],
    [
      'a circular value',
      'VALIDATION',
      () => {
        const value: Record<string, unknown> = {};
        value.self = value;
        return acme.credentials.store({ vaultId, name: 'loop', type: 'generic', value }, alice);
      },
    ],
    [
      'oversized metadata',
      'VALIDATION',
      () =>
        acme.credentials.store(
          { vaultId, name: 'm', type: 'api_key', value: 'x', metadata: { a: 'y'.repeat(9000) } },
          alice,
        ),
    ],
    [
      'a past expiry',
      'VALIDATION',
      () =>
        acme.credentials.store(
          { vaultId, name: 'e', type: 'api_key', value: 'x', expiresAt: new Date(0) },
          alice,
        ),
    ],
    [
      'a bad source IP',
      'VALIDATION',
      () => acme.credentials.reveal(existing, { ...alice, reason: 'r', sourceIp: 'localhost' }),
    ],
    [
      'a source IP too long to log',
      'VALIDATION',
      () =>
        acme.credentials.reveal(existing, { ...alice, reason: 'r', sourceIp: `fe80::1%${'x'.repeat(60)}` }),
    ],
    [
      'a version of 0',
      'VALIDATION',
      () => acme.credentials.reveal(existing, { ...alice, reason: 'r', version: 0 }),
    ],
    [
      'a duplicate credential name',
      'CONFLICT',
      () => acme.credentials.store({ vaultId, name: 'taken', type: 'api_key', value: 'x' }, alice),
    ],
    ['a duplicate vault name', 'CONFLICT', () => acme.vaults.create({ name: 'v' }, alice)],
    ['a bad vault name', 'VALIDATION', () => acme.vaults.create({ name: '' }, alice)],
    ['a bad retention', 'VALIDATION', () => acme.vaults.create({ name: 'r', maxVersions: 0 }, alice)],
    [
      'a bad recovery window',
      'VALIDATION',
      () => acme.credentials.delete(existing, { recoveryWindowDays: 31 }, alice),
    ],
  ];

  for (const [name, code, attempt] of cases) {
    it(`${name} gives ${code} and writes only its access-log row`, async () => {
      const before = await counts();
      const err = await expectCode(attempt(), code);
      expect(err.message.length).toBeLessThan(500);
      const after = await counts();
      expect(after).toEqual({ ...before, credential_access_log: before.credential_access_log! + 1 });
      const [row] = (await acme.audit.query({ limit: 1 })).items;
      expect(row).toMatchObject({ errorCode: code, outcome: code === 'CONFLICT' ? 'conflict' : 'invalid' });
    });
  }

  it('text PostgreSQL cannot store never reaches SQL: a vault description, an audit filter, a cursor (no 5xx, no row lost)', async () => {
    await expectCode(acme.vaults.create({ name: 'nul', description: 'd\u0000' }, alice), 'VALIDATION');
    await expectCode(acme.audit.query({ actor: 'a\u0000' }), 'VALIDATION');
    const cursor = Buffer.from(JSON.stringify(['n\u0000', existing])).toString('base64url');
    await expectCode(acme.credentials.list(vaultId, { cursor }), 'VALIDATION');
    // A user agent is recorded, not refused: what cannot be stored is replaced.
    await acme.credentials.reveal(existing, { ...alice, reason: 'ua', userAgent: 'curl\u0000/8' });
    const [row] = (await acme.audit.query({ credentialId: existing, action: 'reveal', limit: 1 })).items;
    expect(row).toMatchObject({ outcome: 'granted', userAgent: 'curl\uFFFD/8' });
  });

  it('when even the refusal row cannot be written from the input, a row with the caller text masked is', async () => {
    // Stands for any input a column refuses that validation did not foresee.
    await t.db.transaction(async (c) => {
      await c.query(`CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.reason LIKE 'boom%' THEN RAISE EXCEPTION 'refused' USING ERRCODE = '22P02'; END IF;
        RETURN NEW; END $$`);
      await c.query(
        'CREATE TRIGGER refuse_boom BEFORE INSERT ON credential_access_log FOR EACH ROW EXECUTE FUNCTION refuse_boom()',
      );
    });
    try {
      await expectCode(
        acme.credentials.reveal(existing, { ...alice, reason: 'boom', version: 99 }),
        'AUDIT_UNAVAILABLE',
      );
      const [row] = (await acme.audit.query({ credentialId: existing, action: 'reveal', limit: 1 })).items;
      expect(row).toMatchObject({ outcome: 'error', reason: '[unrepresentable input]', actor: 'alice' });
    } finally {
      await t.db.transaction(async (c) => {
        await c.query('DROP TRIGGER refuse_boom ON credential_access_log');
        await c.query('DROP FUNCTION refuse_boom()');
      });
    }
  });

  it('an error names the fields at fault', async () => {
    const err = await expectCode(
      acme.credentials.store(
        { vaultId, name: 'shape', type: 'oauth2_client', value: { client_id: 'c' } },
        alice,
      ),
      'VALIDATION',
    );
    expect((err as unknown as { issues: Array<{ path: string }> }).issues.map((i) => i.path)).toEqual([
      'value.client_secret',
    ]);
  });

  it('a missing or malformed tenant id gives TENANT_REQUIRED', () => {
    expect(() => t.registry.forTenant('')).toThrow(expect.objectContaining({ code: 'TENANT_REQUIRED' }));
    expect(() => t.registry.forTenant("x' OR true --")).toThrow(
      expect.objectContaining({ code: 'TENANT_REQUIRED' }),
    );
  });

  it('tenant names: empty, too long or with control characters give VALIDATION', async () => {
    for (const name of ['', '  ', 'x'.repeat(101), 'evil\nname', 'bell\u0007']) {
      await expectCode(t.registry.tenants.create({ name }), 'VALIDATION');
    }
    expect((await t.registry.tenants.create({ name: 'Acme GmbH & Co. KG' })).name).toBe('Acme GmbH & Co. KG');
  });

  it('tenant and principal names that render misleadingly give VALIDATION: bidi controls, format characters, lone surrogates, separators', async () => {
    const misleading = [
      'acme\u202Egpj.exe', // right-to-left override
      'ac\u2066me\u2069', // isolates
      'a\u200Bcme', // zero-width space
      'ac\uFEFFme', // byte order mark inside (at either end it is trimmed)
      'acme\uD800', // lone surrogate
      'ac\u2028me', // line separator
    ];
    const tenant = t.registry.forTenant((await t.registry.tenants.create({ name: 'names' })).id);
    for (const name of misleading) {
      await expectCode(t.registry.tenants.create({ name }), 'VALIDATION');
      await expectCode(tenant.principals.create({ name, kind: 'user' }, alice), 'VALIDATION');
    }
    // Letters of any script stay welcome.
    expect((await t.registry.tenants.create({ name: 'שלום Ünïcödé 株式会社' })).name).toBe(
      'שלום Ünïcödé 株式会社',
    );
  });

  it('an unknown tenant id gives NOT_FOUND for a new vault', async () => {
    const ghost = t.registry.forTenant('01890000-0000-7000-8000-00000000abcd');
    await expectCode(ghost.vaults.create({ name: 'x' }, alice), 'NOT_FOUND');
  });
});
