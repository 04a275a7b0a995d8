import { LRUCache } from 'lru-cache';
import type { KeyContext, VaultKey } from '../core/ports.js';

export interface TenantKeyCacheOptions {
  /** Most unwrapped vault keys held at once, over all tenants. */
  maxEntries: number;
  /** Most unwrapped vault keys one tenant may hold; a value above `maxEntries` counts as `maxEntries`. */
  maxEntriesPerTenant: number;
  /** How long a vault key stays cached after it is set, in milliseconds; reads do not extend it. */
  ttlMs: number;
  /**
   * Monotonic milliseconds that ages are measured with; it must never return 0, which lru-cache
   * takes for "no age". (Default: `performance.now`)
   */
  now?: () => number;
}

// JSON rather than `/`-joined ids, so that ids containing `/` cannot collide.
const cacheKey = (c: KeyContext) => JSON.stringify([c.tenantId, c.vaultId, c.vaultKeyVersion]);
const tenantOf = (k: string) => (JSON.parse(k) as [string])[0];

/**
 * Unwrapped vault keys, bounded in number and age, with a quota per tenant so that one busy tenant
 * evicts its own keys rather than everyone's. Every key that leaves the cache — evicted, expired,
 * replaced, forgotten or cleared — has its material zeroed.
 *
 * @example
 * ```ts
 * const cache = new TenantKeyCache({ maxEntries: 10_000, maxEntriesPerTenant: 1_000, ttlMs: 300_000 });
 * cache.set(vaultKey);
 * cache.get({ tenantId, vaultId, vaultKeyVersion: 1 }); // the same VaultKey, until it expires
 * cache.forgetVault(tenantId, vaultId); // after a rotation: every version dropped and zeroed
 * ```
 */
export class TenantKeyCache {
  readonly #quota: number;
  readonly #cache: LRUCache<string, VaultKey>;
  // Per tenant, its cache keys (to their vault ids) from least to most recently used: a Map keeps
  // insertion order, so delete-then-set moves a key to the most recent end. Updated in `dispose`
  // for every removal, so it cannot drift from the cache whatever removed the entry.
  readonly #tenants = new Map<string, Map<string, string>>();

  constructor(options: TenantKeyCacheOptions) {
    this.#quota = Math.min(options.maxEntriesPerTenant, options.maxEntries);
    const now = options.now;
    this.#cache = new LRUCache<string, VaultKey>({
      max: options.maxEntries,
      ttl: options.ttlMs,
      // Expired keys are zeroed on a timer, not only when next touched; lru-cache unrefs these
      // timers, so they never keep the process alive.
      ttlAutopurge: true,
      ...(now ? { perf: { now } } : {}),
      dispose: (key, k, reason) => {
        (key.material as Buffer).fill(0);
        // On 'set' the cache key stays, now holding the new value.
        if (reason !== 'set') this.#unindex(k);
      },
    });
  }

  /** The cached key for this context, unless absent or expired; counts as a use of it. */
  get(context: KeyContext): VaultKey | undefined {
    const k = cacheKey(context);
    const key = this.#cache.get(k);
    if (key) this.#index(context.tenantId, k, context.vaultId);
    return key;
  }

  /** Caches a key under its own context, evicting the tenant's, then anyone's, least recently used. */
  set(key: VaultKey): void {
    const k = cacheKey(key);
    const order = this.#tenants.get(key.tenantId);
    if (order && !order.has(k) && order.size >= this.#quota) {
      // Room is made within the tenant first, so the global eviction below only runs once the
      // cache as a whole is full.
      this.#cache.delete(order.keys().next().value!);
    }
    const old = this.#cache.peek(k, { allowStale: true });
    // A different object around the same buffer is an update, not a departure: zeroing the old one
    // would zero the new one too.
    this.#cache.set(k, key, { noDisposeOnSet: old !== undefined && old.material === key.material });
    this.#index(key.tenantId, k, key.vaultId);
  }

  /** Drops and zeroes every cached version of a vault's key (after its deletion or rotation). */
  forgetVault(tenantId: string, vaultId: string): void {
    for (const [k, v] of [...(this.#tenants.get(tenantId) ?? [])]) if (v === vaultId) this.#cache.delete(k);
  }

  /** Drops and zeroes every cached key; for shutdown. */
  clear(): void {
    this.#cache.clear();
  }

  /** Keys held, expired ones not yet purged included. */
  get size(): number {
    return this.#cache.size;
  }

  /** Keys held for one tenant, counted as `size` counts them. */
  sizeOf(tenantId: string): number {
    return this.#tenants.get(tenantId)?.size ?? 0;
  }

  #index(tenantId: string, k: string, vaultId: string): void {
    const order = this.#tenants.get(tenantId) ?? new Map<string, string>();
    this.#tenants.set(tenantId, order);
    order.delete(k);
    order.set(k, vaultId);
  }

  #unindex(k: string): void {
    const tenantId = tenantOf(k);
    const order = this.#tenants.get(tenantId);
    order?.delete(k);
    // An emptied tenant goes, so the index does not grow with every tenant ever seen.
    if (order?.size === 0) this.#tenants.delete(tenantId);
  }
}
