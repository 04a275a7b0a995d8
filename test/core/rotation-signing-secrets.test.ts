/**
 * The signing secrets of the `webhook` rotator, through the library: a root key rotation moves
 * their keys as it moves vault keys, the maintenance pass drops those past their overlap, and the
 * preconditions of `rotation-signing-secrets.ts`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Operation, RegistryDeps } from '../../src/core/audited-operation.js';
import { newId } from '../../src/core/ids.js';
import {
  issueSigningSecret,
  prepareSigningKey,
  SIGNING_SECRET_OVERLAP_MS,
} from '../../src/core/rotation-signing-secrets.js';
import { assemble } from '../../src/main.js';
import { closeAfterEach } from '../events/receiver.js';
import {
  describeEachBackend,
  expectCode,
  localKey,
  openTestRegistry,
  silentLogger,
  testConfig,
} from '../helpers/backends.js';
import { rotationEndpoint } from '../helpers/rotation-endpoint.js';

closeAfterEach();

const alice = { actor: 'alice' };
const webhooks = { intervalMs: 0, allowPrivateUrls: true };

describeEachBackend('signing secrets of the webhook rotator', (backend) => {
  it('a root rotation re-wraps their keys, and the rotator signs once the old root key is gone', async () => {
    const oldRoot = randomBytes(32).toString('base64');
    const newRoot = randomBytes(32).toString('base64');
    const t = await openTestRegistry(backend, { rootKey: oldRoot, config: { webhooks } });
    const open = (root: string, previous: string[]) =>
      assemble(t.db, {
        config: { ...testConfig(t.prefix, root), previousKeyProviders: previous.map(localKey), webhooks },
        logger: silentLogger,
      });
    try {
      const tenantId = (await t.registry.tenants.create({ name: 'acme' })).id;
      const acme = t.registry.forTenant(tenantId);
      const vault = await acme.vaults.create({ name: 'v' }, alice);
      const endpoint = await rotationEndpoint('sk_old');
      const stored = await acme.credentials.store(
        {
          vaultId: vault.id,
          name: 'k',
          type: 'api_key',
          value: 'sk_old',
          rotation: { rotator: { type: 'webhook', url: endpoint.url } },
        },
        alice,
      );
      endpoint.secrets.push(stored.rotation!.signingSecret!);
      const rotating = await open(newRoot, [oldRoot]);
      expect((await rotating.rootKeyStatus()).remaining).toBe(2); // the vault key and the secret's key
      expect(await rotating.rotateRoot(alice)).toEqual({ rewrapped: 2, failed: 0 });
      expect((await rotating.rootKeyStatus()).remaining).toBe(0);
      const rows = await acme.audit.query({ action: 'key_rotate' });
      expect(rows.items.map((r) => r.reason).join('\n')).toMatch(
        /root key rotation \(signing secret [0-9a-f-]{36}\)/,
      );
      const after = await open(newRoot, []);
      const rotated = await after.forTenant(tenantId).credentials.rotate(stored.id, undefined, alice);
      expect(rotated.version).toBe(2);
      expect(endpoint.calls.map((c) => [c.step, c.verifiedWith])).toEqual([
        ['create', 0],
        ['set', 0],
        ['test', 0],
        ['finish', 0],
      ]);
    } finally {
      await t.close();
    }
  });

  it('the maintenance pass drops a replaced secret once its overlap has ended', async () => {
    const t = await openTestRegistry(backend, { config: { webhooks } });
    try {
      const acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
      const vault = await acme.vaults.create({ name: 'v' }, alice);
      const rotation = { rotator: { type: 'webhook', url: 'https://rotate.example.com/credreg' } };
      const c = await acme.credentials.store(
        { vaultId: vault.id, name: 'k', type: 'api_key', value: 'sk', rotation },
        alice,
      );
      const count = async () =>
        (
          await t.db.transaction((q) =>
            q.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM rotation_endpoint_secrets WHERE credential_id = $1',
              [c.id],
            ),
          )
        )[0]!.n;
      const replaced = await acme.credentials.replaceSigningSecret(c.id, alice);
      expect(replaced.signingSecret).not.toBe(c.rotation!.signingSecret);
      expect(await count()).toBe(2);
      await t.registry.runMaintenance({ rotateAfterDays: 0 });
      expect(await count()).toBe(2);
      t.clock.advance(SIGNING_SECRET_OVERLAP_MS);
      await t.registry.runMaintenance({ rotateAfterDays: 0 });
      expect(await count()).toBe(1);
    } finally {
      await t.close();
    }
  });
});

describe('rotation-signing-secrets preconditions', () => {
  const env = (deps: Partial<RegistryDeps>) => ({
    deps: deps as RegistryDeps,
    tenantId: newId(),
    ctx: alice,
  });

  it('Precondition: the registry was given a webhook gateway, which makes secrets.', async () => {
    await expectCode(prepareSigningKey(env({})), 'UNAVAILABLE');
    expect(await prepareSigningKey(env({}), false)).toBeUndefined();
  });

  it('Precondition: prepare made a key for the new signing secret.', async () => {
    await expectCode(issueSigningSecret({} as Operation, env({}), newId(), undefined), 'INTERNAL');
  });
});

describe('docs/rotation.md', () => {
  it('shows the sample endpoint word for word as examples/webhook-rotator-endpoint.mjs, which the tests run', () => {
    const doc = readFileSync(new URL('../../docs/rotation.md', import.meta.url), 'utf8');
    const sample = readFileSync(
      new URL('../../examples/webhook-rotator-endpoint.mjs', import.meta.url),
      'utf8',
    );
    const shown = /### A sample endpoint[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(shown).toBe(sample);
    expect(doc).toContain(`A complete endpoint in ${sample.split('\n').length - 1} lines`);
  });
});
