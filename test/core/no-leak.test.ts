/**
 * A canary secret goes through every path, good and bad; it must never appear in captured logs or
 * in any form of a thrown error (message, stack, JSON, inspected with its cause chain).
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { describeEachBackend, openTestRegistry, type TestRegistry } from '../helpers/backends.js';
import { captureLogs } from '../helpers/logs.js';

const CANARY = 'CANARY-7f3a9c1e-do-not-leak';
const alice = { actor: 'alice' };

describeEachBackend('secrets never leak', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let vaultId: string;
  let logs: () => string;
  const errors: unknown[] = [];

  const attempt = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  };

  beforeAll(async () => {
    const captured = captureLogs('trace');
    logs = captured.text;
    t = await openTestRegistry(backend, { logger: captured.logger });
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    vaultId = (await acme.vaults.create({ name: 'v' }, alice)).id;
  });
  afterAll(() => t.close());

  it('through store, reveal, rotate and every refusal, the canary stays out of logs and errors', async () => {
    const c = await acme.credentials.store(
      { vaultId, name: 'canary', type: 'basic_auth', value: { username: 'u', password: CANARY } },
      alice,
    );
    expect(JSON.stringify((await acme.credentials.reveal(c.id, { ...alice, reason: 'r' })).value)).toContain(
      CANARY,
    );

    await attempt(() =>
      acme.credentials.store({ vaultId, name: 'dup', type: 'api_key', value: CANARY.repeat(3000) }, alice),
    );
    await attempt(() =>
      acme.credentials.store(
        { vaultId, name: 'shape', type: 'basic_auth', value: { password: CANARY, [CANARY]: CANARY } },
        alice,
      ),
    );
    await attempt(() =>
      acme.credentials.store({ vaultId, name: 'enum', type: CANARY as never, value: CANARY }, alice),
    );
    await attempt(() =>
      acme.credentials.store(
        { vaultId, name: 'gen', type: 'oauth2_token', value: { access_token: 1, [CANARY]: 2 } },
        alice,
      ),
    );
    await attempt(() =>
      acme.credentials.store(
        {
          vaultId,
          name: 'url',
          type: 'oauth2_client',
          value: { client_id: 'a', client_secret: 'b', token_url: CANARY },
        },
        alice,
      ),
    );
    await attempt(() =>
      acme.credentials.store({ vaultId, name: 'canary', type: 'api_key', value: CANARY }, alice),
    );
    await attempt(() => acme.credentials.rotate(c.id, CANARY, alice));
    await attempt(() =>
      acme.credentials.rotate(c.id, { username: 'u', password: CANARY }, { ...alice, expectedVersion: 9 }),
    );
    await attempt(() =>
      acme.credentials.rotate(c.id, { username: 'u', password: CANARY, extra: CANARY }, alice),
    );
    // A tampered ciphertext and an unwritable access log, the two internal failures.
    await t.db.transaction((q) =>
      q.query(
        'UPDATE credential_versions SET ciphertext = set_byte(ciphertext, 80, 0) WHERE credential_id = $1',
        [c.id],
      ),
    );
    await attempt(() => acme.credentials.reveal(c.id, { ...alice, reason: 'r' }));
    await t.db.session((s) =>
      s.exec(`CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no audit'; END $$;
              CREATE TRIGGER fail_audit BEFORE INSERT ON credential_access_log FOR EACH ROW EXECUTE FUNCTION fail_audit();`),
    );
    await attempt(() => acme.credentials.rotate(c.id, { username: 'u', password: CANARY }, alice));
    await attempt(() =>
      acme.credentials.store({ vaultId, name: 'x', type: 'api_key', value: CANARY }, alice),
    );
    await t.db.session((s) =>
      s.exec('DROP TRIGGER fail_audit ON credential_access_log; DROP FUNCTION fail_audit();'),
    );

    expect(errors.length).toBe(12);
    for (const err of errors) {
      const e = err as Error;
      for (const form of [
        e.message,
        e.stack ?? '',
        JSON.stringify(e),
        inspect(e, { depth: 10 }),
        String(e),
      ]) {
        expect(form).not.toContain(CANARY);
      }
    }
    expect(logs()).toContain('could not record a failed attempt'); // the audit failure was logged…
    expect(logs()).not.toContain(CANARY); // …without the secret
    const log = await acme.audit.query({ limit: 100 });
    expect(JSON.stringify(log)).not.toContain(CANARY);
  });
});
