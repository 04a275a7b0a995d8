import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { RegistryError } from '../core/errors.js';
import type { KeyContext, KeyRing, RootKeyProvider, VaultKey, VaultKeyRecord } from '../core/ports.js';

export interface KeyRingOptions {
  provider: RootKeyProvider;
  /** Most unwrapped vault keys held in memory at once. (Default: 10000) */
  maxEntries?: number;
  /** How long an unwrapped vault key stays cached, in milliseconds. (Default: 300000, five minutes) */
  ttlMs?: number;
}

export interface KeyRingStats {
  hits: number;
  misses: number;
  /** Calls to the root key provider (wrap and unwrap); a warm reveal adds none. */
  providerCalls: number;
}

const cacheKey = (c: KeyContext) => `${c.tenantId}/${c.vaultId}/${c.vaultKeyVersion}`;

/**
 * Vault keys cached unwrapped, bounded in size and age so a leaked heap or a revoked root key
 * exposes a limited window. Entries are keyed by tenant first and zeroed when evicted.
 */
export class CachingKeyRing implements KeyRing {
  readonly #provider: RootKeyProvider;
  readonly #cache: LRUCache<string, VaultKey>;
  readonly #stats: KeyRingStats = { hits: 0, misses: 0, providerCalls: 0 };

  constructor(options: KeyRingOptions) {
    this.#provider = options.provider;
    this.#cache = new LRUCache<string, VaultKey>({
      max: options.maxEntries ?? 10_000,
      ttl: options.ttlMs ?? 300_000,
      // Expired keys are dropped (and zeroed) on a timer, not only when something next touches them.
      ttlAutopurge: true,
      dispose: (key) => (key.material as Buffer).fill(0),
    });
  }

  async createVaultKey(context: KeyContext): Promise<{ key: VaultKey; record: VaultKeyRecord }> {
    const material = randomBytes(32);
    this.#stats.providerCalls++;
    const wrapped = await this.#provider.wrapKey(material, context);
    const key = this.#remember(context, material);
    return { key, record: { ...context, wrapped } };
  }

  cached(context: KeyContext): VaultKey | undefined {
    const key = this.#cache.get(cacheKey(context));
    if (key) this.#stats.hits++;
    else this.#stats.misses++;
    return key;
  }

  async unwrap(record: VaultKeyRecord): Promise<VaultKey> {
    /* Precondition: the vault key was wrapped by the configured provider. */
    const canUnwrap =
      this.#provider.canUnwrap?.(record.wrapped) ?? record.wrapped.provider === this.#provider.name;
    if (!canUnwrap) {
      throw new RegistryError(
        'CRYPTO',
        `this vault key was wrapped by the ${record.wrapped.provider} provider, but ${this.#provider.name} is configured; moving a store to another provider takes a root-key rotation`,
      );
    }
    this.#stats.providerCalls++;
    const material = await this.#provider.unwrapKey(record.wrapped, record);
    // A view, not a copy: the one buffer holding the key is the one zeroed on eviction.
    return this.#remember(record, Buffer.from(material.buffer, material.byteOffset, material.byteLength));
  }

  retiredKeyIds(): readonly string[] {
    return this.#provider.retiredKeyIds?.() ?? [];
  }

  async rewrapUnderCurrentRoot(record: VaultKeyRecord): Promise<VaultKeyRecord['wrapped']> {
    this.#stats.providerCalls += 2;
    const material = Buffer.from(await this.#provider.unwrapKey(record.wrapped, record));
    try {
      return await this.#provider.wrapKey(material, record);
    } finally {
      material.fill(0);
    }
  }

  forgetVault(tenantId: string, vaultId: string): void {
    const prefix = `${tenantId}/${vaultId}/`;
    for (const k of [...this.#cache.keys()]) if (k.startsWith(prefix)) this.#cache.delete(k);
  }

  stats(): Readonly<KeyRingStats> {
    return { ...this.#stats };
  }

  /** Zeroes every cached key; for shutdown. */
  clear(): void {
    this.#cache.clear();
  }

  #remember(context: KeyContext, material: Buffer): VaultKey {
    const key: VaultKey = Object.freeze({
      tenantId: context.tenantId,
      vaultId: context.vaultId,
      vaultKeyVersion: context.vaultKeyVersion,
      material,
    });
    this.#cache.set(cacheKey(context), key);
    return key;
  }
}
