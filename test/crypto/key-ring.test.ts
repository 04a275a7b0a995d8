import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KeyContext, VaultKey } from '../../src/core/ports.js';
import { CachingKeyRing } from '../../src/crypto/key-ring.js';
import { decodeRootKey, LocalKeyProvider, loadRootKeyFile } from '../../src/keys/local-key-provider.js';

const ctx = (vault: number, version = 1) => ({
  tenantId: '01890000-0000-7000-8000-000000000001',
  vaultId: `01890000-0000-7000-8000-00000000000${vault}`,
  vaultKeyVersion: version,
});

function recordingLogger() {
  const lines: string[] = [];
  return {
    lines,
    logger: { info: () => {}, error: () => {}, warn: (_o: object, m?: string) => void lines.push(m ?? '') },
  };
}

describe('local root key provider', () => {
  it('wraps and unwraps under the same context only', async () => {
    const p = new LocalKeyProvider(randomBytes(32));
    const material = randomBytes(32);
    const wrapped = await p.wrapKey(material, ctx(1));
    expect(wrapped.provider).toBe('local');
    expect(wrapped.providerKeyId).toMatch(/^local:[0-9a-f]{16}$/);
    expect(Buffer.from(await p.unwrapKey(wrapped, ctx(1))).equals(material)).toBe(true);
    await expect(p.unwrapKey(wrapped, ctx(2))).rejects.toMatchObject({ code: 'CRYPTO' });
    await expect(p.unwrapKey(wrapped, ctx(1, 2))).rejects.toMatchObject({ code: 'CRYPTO' });
    const tampered = { ...wrapped, ciphertext: Buffer.from(wrapped.ciphertext).fill(1, 20, 21) };
    await expect(p.unwrapKey(tampered, ctx(1))).rejects.toMatchObject({ code: 'CRYPTO' });
  });

  it('Precondition: the key was wrapped by this root key', async () => {
    const wrapped = await new LocalKeyProvider(randomBytes(32)).wrapKey(randomBytes(32), ctx(1));
    const other = new LocalKeyProvider(randomBytes(32));
    await expect(other.unwrapKey(wrapped, ctx(1))).rejects.toThrow(
      /configure the root key the store was created with/,
    );
  });

  it('Precondition: the root key is exactly 256 bits', () => {
    expect(() => new LocalKeyProvider(randomBytes(16))).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => decodeRootKey(randomBytes(31).toString('base64'))).toThrow(/32 random bytes/);
    expect(decodeRootKey(` ${randomBytes(32).toString('base64')}\n`)).toHaveLength(32);
  });

  it('creates a missing key file with mode 0600 and a warning, then reads the same key back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'credreg-key-'));
    const path = join(dir, 'root.key');
    const { lines, logger } = recordingLogger();
    const created = Buffer.from(loadRootKeyFile(path, { create: true, logger }));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(lines.join()).toMatch(/development only/);
    expect(Buffer.from(loadRootKeyFile(path, { create: false, logger })).equals(created)).toBe(true);
    expect(readFileSync(path, 'utf8').trim()).toBe(created.toString('base64'));
  });

  it('refuses a missing key file unless asked to create it, and warns about loose permissions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'credreg-key-'));
    const { lines, logger } = recordingLogger();
    expect(() => loadRootKeyFile(join(dir, 'absent.key'), { create: false, logger })).toThrow(
      /does not exist/,
    );
    const loose = join(dir, 'loose.key');
    writeFileSync(loose, randomBytes(32).toString('base64'), { mode: 0o644 });
    loadRootKeyFile(loose, { create: false, logger });
    expect(lines.join()).toMatch(/readable by other users/);
  });
});

/** A new vault key, unwrapped once so the ring caches it; returns the cache's own entry. */
async function cachedKey(ring: CachingKeyRing, c: KeyContext): Promise<VaultKey> {
  await ring.unwrap((await ring.createVaultKey(c)).record);
  return ring.cached(c)!;
}

describe('caching key ring', () => {
  it('a warm key makes no provider call; a cold one makes exactly one', async () => {
    const ring = new CachingKeyRing({ provider: new LocalKeyProvider(randomBytes(32)) });
    const { record } = await ring.createVaultKey(ctx(1));
    expect(ring.stats().providerCalls).toBe(1);
    await ring.unwrap(record);
    expect(ring.stats().providerCalls).toBe(2);
    for (let i = 0; i < 100; i++) expect(ring.cached(ctx(1))).toBeDefined();
    expect(ring.stats()).toMatchObject({ hits: 100, providerCalls: 2 });
    ring.forgetVault(ctx(1).tenantId, ctx(1).vaultId);
    expect(ring.cached(ctx(1))).toBeUndefined();
    await ring.unwrap(record);
    expect(ring.cached(ctx(1))).toBeDefined();
    expect(ring.stats()).toMatchObject({ misses: 1, providerCalls: 3 });
  });

  it('a new vault key is not cached until it is unwrapped from its stored record', async () => {
    // Its transaction may yet fail (a concurrent rotation made the same version): a cached key that
    // was never stored would seal values no one can open.
    const ring = new CachingKeyRing({ provider: new LocalKeyProvider(randomBytes(32)) });
    await ring.createVaultKey(ctx(1));
    expect(ring.cached(ctx(1))).toBeUndefined();
  });

  it('holds at most maxEntries keys and zeroes the ones it evicts', async () => {
    const ring = new CachingKeyRing({ provider: new LocalKeyProvider(randomBytes(32)), maxEntries: 2 });
    const first = await cachedKey(ring, ctx(1));
    await cachedKey(ring, ctx(2));
    await cachedKey(ring, ctx(3));
    expect(ring.cached(ctx(1))).toBeUndefined();
    expect(Buffer.from(first.material).every((b) => b === 0)).toBe(true);
    expect(ring.cached(ctx(3))).toBeDefined();
  });

  it('forgets keys after their time to live', async () => {
    const ring = new CachingKeyRing({ provider: new LocalKeyProvider(randomBytes(32)), ttlMs: 20 });
    await cachedKey(ring, ctx(1));
    expect(ring.cached(ctx(1))).toBeDefined();
    await new Promise((r) => setTimeout(r, 60));
    expect(ring.cached(ctx(1))).toBeUndefined();
  });

  it('Precondition: a configured root key can unwrap it', async () => {
    const { record } = await new CachingKeyRing({
      provider: new LocalKeyProvider(randomBytes(32)),
    }).createVaultKey(ctx(1));
    const other = new CachingKeyRing({
      provider: {
        name: 'aws-kms',
        canUnwrap: (w) => w.provider === 'aws-kms',
        currentKeyTest: async () => () => true,
        wrapKey: async () => record.wrapped,
        unwrapKey: async () => randomBytes(32),
      },
    });
    await expect(other.unwrap(record)).rejects.toThrow(
      /wrapped by local key local:[0-9a-f]{16}, which no configured root key can unwrap/,
    );
    expect(other.stats().providerCalls).toBe(0);
  });

  it('holds at most maxEntriesPerTenant keys of one tenant: a busy tenant evicts its own, not others', async () => {
    const ring = new CachingKeyRing({
      provider: new LocalKeyProvider(randomBytes(32)),
      maxEntries: 10,
      maxEntriesPerTenant: 2,
    });
    const other = { ...ctx(9), tenantId: '01890000-0000-7000-8000-0000000000ff' };
    const theirs = await cachedKey(ring, other);
    const mine = [];
    for (const vault of [1, 2, 3]) mine.push(await cachedKey(ring, ctx(vault)));
    expect(ring.cached(ctx(1))).toBeUndefined();
    expect(Buffer.from(mine[0]!.material).every((b) => b === 0)).toBe(true);
    expect(ring.cached(ctx(2))).toBe(mine[1]);
    expect(ring.cached(ctx(3))).toBe(mine[2]);
    expect(ring.cached(other)).toBe(theirs);
  });

  it('makes vault keys with the provider’s generateKey when it has one (KMS GenerateDataKey)', async () => {
    const made = randomBytes(32);
    const calls: string[] = [];
    const local = new LocalKeyProvider(randomBytes(32));
    const ring = new CachingKeyRing({
      provider: {
        name: 'local',
        canUnwrap: (w) => local.canUnwrap(w),
        currentKeyTest: () => local.currentKeyTest(),
        generateKey: async (c) => {
          calls.push('generate');
          return { plaintext: Buffer.from(made), wrapped: await local.wrapKey(made, c) };
        },
        wrapKey: async () => {
          throw new Error('not expected: generateKey makes and wraps the key');
        },
        unwrapKey: (w, c) => local.unwrapKey(w, c),
      },
    });
    const { record } = await ring.createVaultKey(ctx(1));
    expect(calls).toEqual(['generate']);
    expect(Buffer.from(await local.unwrapKey(record.wrapped, ctx(1))).equals(made)).toBe(true);
    expect(ring.stats().providerCalls).toBe(1);
  });

  it('concurrent cold unwraps of one key each get a private copy that outlives the cache entry', async () => {
    const provider = new LocalKeyProvider(randomBytes(32));
    const { record } = await new CachingKeyRing({ provider }).createVaultKey(ctx(1));
    const expected = Buffer.from(await provider.unwrapKey(record.wrapped, ctx(1)));
    const ring = new CachingKeyRing({ provider });
    const [a, b] = await Promise.all([ring.unwrap(record), ring.unwrap(record)]);
    ring.clear();
    expect(Buffer.from(a.material).equals(expected)).toBe(true);
    expect(Buffer.from(b.material).equals(expected)).toBe(true);
  });

  it('clear() zeroes every cached key', async () => {
    const ring = new CachingKeyRing({ provider: new LocalKeyProvider(randomBytes(32)) });
    const key = await cachedKey(ring, ctx(1));
    ring.clear();
    expect(Buffer.from(key.material).every((b) => b === 0)).toBe(true);
  });
});
