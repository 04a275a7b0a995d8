/**
 * Audit before reveal, fail closed; failed attempts are logged; the log can be queried.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { describeEachBackend, expectCode, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const alice = { actor: 'alice' };

describeEachBackend('access log', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let vaultId: string;
  const owner = (sql: string) => t.db.session((s) => s.exec(sql));

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    vaultId = (await acme.vaults.create({ name: 'v' }, alice)).id;
  });
  afterAll(() => t.close());

  it('fail closed: when the access-log insert fails, reveal throws and returns no value', async () => {
    const c = await acme.credentials.store(
      { vaultId, name: 'guarded', type: 'api_key', value: 'never-shown' },
      alice,
    );
    await acme.credentials.reveal(c.id, { ...alice, reason: 'warm the vault key cache' });
    await owner(`CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$
                   BEGIN RAISE EXCEPTION 'audit storage is full'; END $$;
                 CREATE TRIGGER fail_audit BEFORE INSERT ON credential_access_log
                   FOR EACH ROW EXECUTE FUNCTION fail_audit();`);
    try {
      let revealed: unknown;
      const err = await expectCode(
        (async () => {
          revealed = await acme.credentials.reveal(c.id, { ...alice, reason: 'should fail' });
        })(),
        'AUDIT_UNAVAILABLE',
      );
      expect(revealed).toBeUndefined();
      expect(err.message).toMatch(/access log could not be written/);
      expect(String(err.message)).not.toContain('never-shown');
      // Nothing else happens without its row either: a rotation is rolled back.
      await expectCode(acme.credentials.rotate(c.id, 'replaced', alice), 'AUDIT_UNAVAILABLE');
      await expectCode(
        acme.credentials.store({ vaultId, name: 'unlogged', type: 'api_key', value: 'x' }, alice),
        'AUDIT_UNAVAILABLE',
      );
    } finally {
      await owner('DROP TRIGGER fail_audit ON credential_access_log; DROP FUNCTION fail_audit();');
    }
    expect((await acme.credentials.get(c.id)).currentVersion).toBe(1);
    expect((await acme.credentials.list(vaultId)).items.map((x) => x.name)).not.toContain('unlogged');
    const reasons = (await acme.audit.query({ credentialId: c.id })).items.map((e) => e.reason);
    expect(reasons).not.toContain('should fail');
  });

  it('records failed attempts on ids that do not exist, and malformed ids', async () => {
    const ghost = '01890000-0000-7000-8000-000000000000';
    await expectCode(acme.credentials.reveal(ghost, { ...alice, reason: 'probe' }), 'NOT_FOUND');
    await expectCode(acme.credentials.reveal('not-a-uuid', { ...alice, reason: 'probe' }), 'VALIDATION');
    const [missing] = (await acme.audit.query({ credentialId: ghost })).items;
    expect(missing).toMatchObject({
      action: 'reveal',
      outcome: 'not_found',
      reason: 'probe',
      errorCode: 'NOT_FOUND',
    });
    const [malformed] = (await acme.audit.query({ outcome: 'invalid', action: 'reveal', limit: 1 })).items;
    expect(malformed).toMatchObject({ credentialId: null, errorCode: 'VALIDATION', actor: 'alice' });
  });

  it('records an attempt with no actor as unidentified', async () => {
    await expectCode(acme.credentials.reveal('x', { actor: '', reason: 'r' }), 'VALIDATION');
    const [row] = (await acme.audit.query({ actor: '(unidentified)', limit: 1 })).items;
    expect(row).toMatchObject({ action: 'reveal', outcome: 'invalid' });
  });

  it('filters by actor, action, outcome and time, newest first, with keyset pagination', async () => {
    const c = await acme.credentials.store(
      { vaultId, name: 'queried', type: 'api_key', value: 'x' },
      { actor: 'bob' },
    );
    for (let i = 0; i < 5; i++) await acme.credentials.reveal(c.id, { actor: 'bob', reason: `r${i}` });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await acme.audit.query({
        credentialId: c.id,
        actor: 'bob',
        action: 'reveal',
        limit: 2,
        cursor,
      });
      seen.push(...page.items.map((e) => e.reason!));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['r4', 'r3', 'r2', 'r1', 'r0']);
    const future = new Date(Date.now() + 60_000);
    expect((await acme.audit.query({ credentialId: c.id, from: future })).items).toEqual([]);
    expect((await acme.audit.query({ credentialId: c.id, to: future })).items).toHaveLength(6);
    expect((await acme.audit.query({ credentialId: c.id, outcome: 'denied' })).items).toEqual([]);
    await expectCode(acme.audit.query({ action: 'steal' as never }), 'VALIDATION');
    await expectCode(acme.audit.query({ cursor: 'nope' }), 'VALIDATION');
  });
});
