/**
 * The use-case runner: permission, scope and input are checked in core, in that order, and every
 * refusal, whatever step refused it, leaves exactly one access-log row.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { RegistryError } from '../../src/core/errors.js';
import type { TenantRegistry } from '../../src/core/registry.js';
import type { RequestContext } from '../../src/core/types.js';
import { defineUseCase } from '../../src/core/use-case.js';
import { createVault } from '../../src/core/vault-service.js';
import { describeEachBackend, expectCode, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const alice: RequestContext = { actor: 'alice' };

describeEachBackend('the use-case runner', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let vaultId: string;
  let otherVaultId: string;
  let credentialId: string;

  /** The newest access-log rows, newest first. */
  const rows = async (limit = 1) => (await acme.audit.query({ limit })).items;
  /** Runs `fn` and returns the rows it added (by id), oldest first. */
  const added = async (fn: () => Promise<unknown>) => {
    const before = (await rows())[0]?.id;
    await fn().catch(() => undefined);
    const after = await rows(20);
    const i = after.findIndex((r) => r.id === before);
    return (i < 0 ? after : after.slice(0, i)).reverse();
  };

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    vaultId = (await acme.vaults.create({ name: 'v' }, alice)).id;
    otherVaultId = (await acme.vaults.create({ name: 'w' }, alice)).id;
    credentialId = (
      await acme.credentials.store({ vaultId, name: 'c', type: 'api_key', value: 'secret' }, alice)
    ).id;
  });
  afterAll(() => t.close());

  it('a role that lacks the capability is refused in core, with one denied row', async () => {
    const reader = { ...alice, role: 'reader' as const };
    const writer = { ...alice, role: 'writer' as const };
    const auditor = { ...alice, role: 'auditor' as const };
    const store = () =>
      acme.credentials.store({ vaultId, name: 'nope', type: 'api_key', value: 'x' }, reader);
    await expectCode(store(), 'FORBIDDEN');
    const [row, ...more] = await added(store);
    expect(more).toEqual([]);
    expect(row).toMatchObject({ action: 'store', outcome: 'denied', errorCode: 'FORBIDDEN', vaultId });
    await expectCode(acme.credentials.reveal(credentialId, { ...writer, reason: 'r' }), 'FORBIDDEN');
    await expectCode(acme.credentials.reveal(credentialId, { ...auditor, reason: 'r' }), 'FORBIDDEN');
    await expectCode(acme.audit.query({}, reader), 'FORBIDDEN');
    expect((await acme.credentials.reveal(credentialId, { ...reader, reason: 'r' })).value).toBe('secret');
  });

  it('permission is checked before the input: a reader sending a bad body is told FORBIDDEN', async () => {
    const reader = { ...alice, role: 'reader' as const };
    const bad = () => acme.credentials.store({ vaultId, name: '', type: 'nope' } as never, reader);
    await expectCode(bad(), 'FORBIDDEN');
    const [row] = await added(bad);
    expect(row).toMatchObject({ outcome: 'denied', errorCode: 'FORBIDDEN' });
  });

  it('a vault-scoped caller cannot create vaults, tokens or principals, whatever its role', async () => {
    const scoped = { ...alice, role: 'admin' as const, vaultScope: vaultId };
    await expectCode(acme.vaults.create({ name: 'x' }, scoped), 'FORBIDDEN');
    await expectCode(acme.principals.create({ name: 'p', kind: 'user' }, scoped), 'FORBIDDEN');
    const [row] = await added(() => acme.vaults.create({ name: 'x' }, scoped));
    expect(row).toMatchObject({ action: 'vault_create', outcome: 'denied' });
  });

  it('outside its vault scope a caller is answered as for a missing id, and the row says denied', async () => {
    const scoped = { ...alice, role: 'admin' as const, vaultScope: otherVaultId };
    const missing = await acme.credentials
      .get('00000000-0000-7000-8000-000000000000', scoped)
      .catch((e) => e);
    const outside = await acme.credentials.get(credentialId, scoped).catch((e) => e);
    expect(outside).toBeInstanceOf(RegistryError);
    expect([outside.code, outside.message]).toEqual([missing.code, missing.message]);
    const [row] = await added(() => acme.credentials.get(credentialId, scoped));
    expect(row).toMatchObject({ action: 'read', outcome: 'denied', errorCode: 'FORBIDDEN', credentialId });
  });

  it('unknown fields are refused and named, in the library as over HTTP', async () => {
    const err = await acme.vaults
      .create({ name: 'typo', maxVersion: 3 } as never, alice)
      .catch((e: RegistryError) => e);
    expect(err).toMatchObject({ code: 'VALIDATION' });
    expect((err as RegistryError).issues.map((i) => i.path)).toContain('maxVersion');
    const [row] = await added(() => acme.vaults.create({ name: 'typo', maxVersion: 3 } as never, alice));
    expect(row).toMatchObject({ action: 'vault_create', outcome: 'invalid' });
  });

  it('a reads refusal (a missing id, a bad cursor) is logged; its success is not', async () => {
    expect(await added(() => acme.credentials.get(credentialId, alice))).toEqual([]);
    const [missing] = await added(() => acme.vaults.get('00000000-0000-7000-8000-000000000000', alice));
    expect(missing).toMatchObject({ action: 'read', outcome: 'not_found' });
    const [cursor] = await added(() => acme.vaults.list({ cursor: 'garbage' }, alice));
    expect(cursor).toMatchObject({ action: 'read', outcome: 'invalid' });
  });

  it('Precondition: a use-case that logs every attempt has written its success row', async () => {
    const forgetful = defineUseCase({
      action: 'update',
      capability: 'credentials:write',
      input: z.strictObject({}),
      logs: 'every attempt',
      body: async () => 'done',
    });
    const run = () => acme.run(forgetful, {}, alice);
    await expectCode(run(), 'INTERNAL');
    const [row] = await added(run);
    expect(row).toMatchObject({ action: 'update', outcome: 'error', errorCode: 'INTERNAL' });
  });

  it('a names() that throws on hostile input still leaves the row', async () => {
    const hostile = defineUseCase({
      action: 'update',
      capability: 'credentials:write',
      input: z.strictObject({ id: z.string() }),
      logs: 'refusals',
      names: () => {
        throw new Error('boom');
      },
      body: async () => 'unused',
    });
    const [row] = await added(() => acme.run(hostile, { id: 5 }, alice));
    expect(row).toMatchObject({ action: 'update', outcome: 'invalid', credentialId: null });
  });

  it('refuseUseCase logs the refusal it is given, or FORBIDDEN when the caller may not use it at all', async () => {
    const given = new RegistryError('VALIDATION', 'the request does not match the API schema');
    const admin = { ...alice, role: 'admin' as const };
    expect(await acme.refuse(createVault, {}, admin, given)).toBe(given);
    const reader = { ...alice, role: 'reader' as const };
    const answer = await acme.refuse(createVault, {}, reader, given);
    expect(answer.code).toBe('FORBIDDEN');
    const [row] = await rows();
    expect(row).toMatchObject({ action: 'vault_create', outcome: 'denied', actor: 'alice' });
  });
});
