import { randomBytes } from 'node:crypto';
import { RegistryError } from '../core/errors.js';
import {
  type KeyContext,
  type KeyRing,
  keyContextName,
  type RootKeyProvider,
  type VaultKey,
  type VaultKeyRecord,
} from '../core/ports.js';
import { TenantKeyCache } from './tenant-key-cache.js';

export interface KeyRingOptions {
  provider: RootKeyProvider;
  /** Most unwrapped vault keys held in memory at once. (Default: 10000) */
  maxEntries?: number;
  /** Most unwrapped vault keys of one tenant held at once. (Default: 1000) */
  maxEntriesPerTenant?: number;
  /** How long an unwrapped vault key stays cached, in milliseconds. (Default: 300000, five minutes) */
  ttlMs?: number;
}

export interface KeyRingStats {
  hits: number;
  misses: number;
  /** Calls to the root key provider (wrap and unwrap); a warm reveal adds none. */
  providerCalls: number;
}

/** An unwrap in progress, shared by every caller asking for the same vault key meanwhile. */
interface Flight {
  /** A copy of the key owned by the flight, zeroed once its last waiter has taken its own copy. */
  master: Promise<Buffer>;
  waiters: number;
}

/** A view, not a copy: the one buffer holding the key is the one zeroed on eviction. */
const view = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * Vault keys cached unwrapped, bounded in size and age so a leaked heap or a revoked root key
 * exposes a limited window; partitioned by tenant (see `TenantKeyCache`) and zeroed when evicted.
 */
export class CachingKeyRing implements KeyRing {
  readonly #provider: RootKeyProvider;
  readonly #cache: TenantKeyCache;
  readonly #stats: KeyRingStats = { hits: 0, misses: 0, providerCalls: 0 };
  readonly #flights = new Map<string, Flight>();

  constructor(options: KeyRingOptions) {
    this.#provider = options.provider;
    this.#cache = new TenantKeyCache({
      maxEntries: options.maxEntries ?? 10_000,
      maxEntriesPerTenant: options.maxEntriesPerTenant ?? 1000,
      ttlMs: options.ttlMs ?? 300_000,
    });
  }

  async createVaultKey(context: KeyContext): Promise<{ record: VaultKeyRecord }> {
    this.#stats.providerCalls++;
    // Not cached here: the new key is saved only if the caller's transaction commits, and a cached
    // key that lost a race (two rotations making version n+1 at once) would seal values under a key
    // that was never stored. Its first use unwraps the stored record instead.
    if (this.#provider.generateKey) {
      const { plaintext, wrapped } = await this.#provider.generateKey(context);
      plaintext.fill(0);
      return { record: { ...context, wrapped } };
    }
    const material = randomBytes(32);
    try {
      return { record: { ...context, wrapped: await this.#provider.wrapKey(material, context) } };
    } finally {
      material.fill(0);
    }
  }

  cached(context: KeyContext): VaultKey | undefined {
    const key = this.#cache.get(context);
    if (key) this.#stats.hits++;
    else this.#stats.misses++;
    return key;
  }

  /**
   * The vault key, unwrapped through the root key provider unless another caller has cached it
   * meanwhile. Concurrent calls for one vault key share one provider call (a burst of cold reveals
   * of one vault is one unwrap, and one deadline if the provider hangs); each caller gets its own copy.
   */
  async unwrap(record: VaultKeyRecord): Promise<VaultKey> {
    /* Precondition: a configured root key can unwrap it. */
    if (!this.#provider.canUnwrap(record.wrapped)) {
      throw new RegistryError(
        'CRYPTO',
        `this vault key was wrapped by ${record.wrapped.provider} key ${record.wrapped.providerKeyId}, which no configured root key can unwrap; moving a store to another root key takes a root rotation with the old one configured as previous`,
      );
    }
    // Another caller may have unwrapped it since this one missed the cache.
    const cached = this.#cache.get(record);
    if (cached) return { ...this.#context(record), material: Buffer.from(cached.material) };
    const name = keyContextName(record);
    let flight = this.#flights.get(name);
    if (!flight) {
      const started: Flight = { waiters: 0, master: this.#unwrapAndRemember(record) };
      // Settled flights leave the map before any waiter runs (this callback was registered first),
      // so nobody joins a flight whose master copy a finished waiter may already have zeroed.
      started.master.then(
        () => this.#flights.delete(name),
        () => this.#flights.delete(name),
      );
      this.#flights.set(name, started);
      flight = started;
    }
    flight.waiters++;
    let master: Buffer | undefined;
    try {
      master = await flight.master;
      return { ...this.#context(record), material: Buffer.from(master) };
    } finally {
      if (--flight.waiters === 0) master?.fill(0);
    }
  }

  /** One provider call; the cache keeps the provider's buffer, the flight a copy of its own. */
  async #unwrapAndRemember(record: VaultKeyRecord): Promise<Buffer> {
    this.#stats.providerCalls++;
    const material = view(await this.#provider.unwrapKey(record.wrapped, record));
    // The copy is made first: caching may replace (and zero) an entry a concurrent unwrap made.
    const copy = Buffer.from(material);
    this.#remember(record, material);
    return copy;
  }

  async currentRootKeyTest(): Promise<(record: VaultKeyRecord) => boolean> {
    const test = await this.#provider.currentKeyTest();
    return (record) => test(record.wrapped, record);
  }

  async rewrapUnderCurrentRoot(record: VaultKeyRecord): Promise<VaultKeyRecord['wrapped']> {
    const moved = await this.#provider.rewrapKey?.(record.wrapped, record);
    if (moved) {
      this.#stats.providerCalls++;
      return moved;
    }
    // Not inside the provider: unwrap with whichever key wrapped it, wrap with the current one,
    // and zero the provider's own plaintext buffer.
    this.#stats.providerCalls += 2;
    const material = view(await this.#provider.unwrapKey(record.wrapped, record));
    try {
      return await this.#provider.wrapKey(material, record);
    } finally {
      material.fill(0);
    }
  }

  forgetVault(tenantId: string, vaultId: string): void {
    this.#cache.forgetVault(tenantId, vaultId);
  }

  stats(): Readonly<KeyRingStats> {
    return { ...this.#stats };
  }

  /** Zeroes every cached key; for shutdown. */
  clear(): void {
    this.#cache.clear();
  }

  #context(c: KeyContext): KeyContext {
    return { tenantId: c.tenantId, vaultId: c.vaultId, vaultKeyVersion: c.vaultKeyVersion };
  }

  #remember(context: KeyContext, material: Buffer): VaultKey {
    const key: VaultKey = Object.freeze({ ...this.#context(context), material });
    this.#cache.set(key);
    return key;
  }
}
