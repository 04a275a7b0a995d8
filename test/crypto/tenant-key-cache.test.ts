import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KeyContext, VaultKey } from '../../src/core/ports.js';
import { TenantKeyCache } from '../../src/crypto/tenant-key-cache.js';

const key = (tenantId: string, vaultId: string, vaultKeyVersion = 1): VaultKey => ({
  tenantId,
  vaultId,
  vaultKeyVersion,
  material: Buffer.alloc(32, 0xab),
});
const ctx = ({ tenantId, vaultId, vaultKeyVersion }: KeyContext): KeyContext => ({
  tenantId,
  vaultId,
  vaultKeyVersion,
});
const zeroed = (k: VaultKey) => k.material.every((b) => b === 0);
const intact = (k: VaultKey) => k.material.every((b) => b === 0xab);

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('TenantKeyCache', () => {
  it('a tenant at its quota evicts only its own least recently used key', () => {
    const cache = new TenantKeyCache({ maxEntries: 10, maxEntriesPerTenant: 3, ttlMs: 60_000 });
    const b = [key('b', 'v1'), key('b', 'v2')];
    const a = [1, 2, 3, 4, 5].map((n) => key('a', 'v', n));
    for (const k of b) cache.set(k);
    for (const k of a) cache.set(k);

    expect(cache.sizeOf('a')).toBe(3);
    expect(cache.sizeOf('b')).toBe(2);
    expect(cache.size).toBe(5);
    for (const k of a.slice(0, 2)) {
      expect(cache.get(ctx(k))).toBeUndefined();
      expect(zeroed(k)).toBe(true);
    }
    for (const k of [...a.slice(2), ...b]) {
      expect(cache.get(ctx(k))).toBe(k);
      expect(intact(k)).toBe(true);
    }
  });

  it('the whole cache stays within maxEntries, evicting the least recently used key of any tenant', () => {
    const cache = new TenantKeyCache({ maxEntries: 4, maxEntriesPerTenant: 3, ttlMs: 60_000 });
    const [a1, a2, b1, b2, c1, c2] = [
      key('a', 'v1'),
      key('a', 'v2'),
      key('b', 'v1'),
      key('b', 'v2'),
      key('c', 'v1'),
      key('c', 'v2'),
    ] as const;
    for (const k of [a1, a2, b1, b2]) cache.set(k);
    cache.get(ctx(a1));
    cache.set(c1); // a2 is now the least recently used
    cache.set(c2); // then b1

    expect(cache.size).toBe(4);
    expect([cache.sizeOf('a'), cache.sizeOf('b'), cache.sizeOf('c')]).toEqual([1, 1, 2]);
    expect(zeroed(a2) && zeroed(b1)).toBe(true);
    for (const k of [a1, b2, c1, c2]) expect(cache.get(ctx(k))).toBe(k);
  });

  it('get() refreshes recency within a tenant', () => {
    const cache = new TenantKeyCache({ maxEntries: 10, maxEntriesPerTenant: 2, ttlMs: 60_000 });
    const [v1, v2, v3] = [key('a', 'v', 1), key('a', 'v', 2), key('a', 'v', 3)] as const;
    cache.set(v1);
    cache.set(v2);
    expect(cache.get(ctx(v1))).toBe(v1);
    cache.set(v3);

    expect(cache.get(ctx(v2))).toBeUndefined();
    expect(zeroed(v2)).toBe(true);
    expect(cache.get(ctx(v1))).toBe(v1);
    expect(cache.get(ctx(v3))).toBe(v3);
  });

  it('a per-tenant quota above maxEntries counts as maxEntries', () => {
    const cache = new TenantKeyCache({ maxEntries: 2, maxEntriesPerTenant: 50, ttlMs: 60_000 });
    const keys = [1, 2, 3].map((n) => key('a', 'v', n));
    for (const k of keys) cache.set(k);
    expect([cache.size, cache.sizeOf('a')]).toEqual([2, 2]);
    expect(zeroed(keys[0]!)).toBe(true);
  });

  it('ids containing "/" do not collide', () => {
    const cache = new TenantKeyCache({ maxEntries: 10, maxEntriesPerTenant: 10, ttlMs: 60_000 });
    const x = key('t/a', 'b');
    const y = key('t', 'a/b');
    cache.set(x);
    cache.set(y);
    cache.forgetVault('t', 'a');
    expect(cache.get(ctx(x))).toBe(x);
    expect(cache.get(ctx(y))).toBe(y);
    expect(intact(x) && intact(y)).toBe(true);
  });

  describe('expiry', () => {
    // lru-cache keeps the `performance` it found at import, which fake timers do not replace, so the
    // cache is handed the faked Date.now (never 0, unlike a faked performance.now at start).
    const fakeClock = () => {
      vi.useFakeTimers();
      return () => Date.now();
    };

    it('does not return a key older than ttlMs, and zeroes it', () => {
      const cache = new TenantKeyCache({
        maxEntries: 10,
        maxEntriesPerTenant: 5,
        ttlMs: 1_000,
        now: fakeClock(),
      });
      const k = key('a', 'v');
      cache.set(k);
      vi.advanceTimersByTime(600);
      expect(cache.get(ctx(k))).toBe(k); // a read does not extend the age
      vi.advanceTimersByTime(401);
      expect(cache.get(ctx(k))).toBeUndefined();
      expect(zeroed(k)).toBe(true);
      expect([cache.size, cache.sizeOf('a')]).toEqual([0, 0]);
    });

    it('purges and zeroes expired keys on a timer, without their being touched', () => {
      const cache = new TenantKeyCache({
        maxEntries: 10,
        maxEntriesPerTenant: 5,
        ttlMs: 1_000,
        now: fakeClock(),
      });
      const old = [key('a', 'v1'), key('b', 'v1')];
      for (const k of old) cache.set(k);
      vi.advanceTimersByTime(500);
      const young = key('a', 'v2');
      cache.set(young);
      vi.advanceTimersByTime(501);

      expect(old.every(zeroed)).toBe(true);
      expect(intact(young)).toBe(true);
      expect([cache.size, cache.sizeOf('a'), cache.sizeOf('b')]).toEqual([1, 1, 0]);
      vi.advanceTimersByTime(500);
      expect(zeroed(young)).toBe(true);
      expect([cache.size, cache.sizeOf('a')]).toEqual([0, 0]);
    });

    it('purge timers do not keep the process alive', () => {
      const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
      const cache = new TenantKeyCache({ maxEntries: 10, maxEntriesPerTenant: 5, ttlMs: 60_000 });
      cache.set(key('a', 'v1'));
      cache.set(key('a', 'v2'));
      const timers = setTimeoutSpy.mock.results.map((r) => r.value as NodeJS.Timeout);
      expect(timers.length).toBeGreaterThan(0);
      expect(timers.map((t) => t.hasRef())).toEqual(timers.map(() => false));
      cache.clear();
    });
  });

  describe('forgetting', () => {
    const filled = () => {
      const cache = new TenantKeyCache({ maxEntries: 10, maxEntriesPerTenant: 5, ttlMs: 60_000 });
      const keys = {
        a1: [key('a', 'v1', 1), key('a', 'v1', 2)],
        a2: [key('a', 'v2', 1)],
        b1: [key('b', 'v1', 1), key('b', 'v1', 2)],
      };
      for (const k of Object.values(keys).flat()) cache.set(k);
      return { cache, keys };
    };

    it('forgetVault drops and zeroes every version of that vault only', () => {
      const { cache, keys } = filled();
      cache.forgetVault('a', 'v1');
      expect(keys.a1.every(zeroed)).toBe(true);
      expect(keys.a1.map((k) => cache.get(ctx(k)))).toEqual([undefined, undefined]);
      expect([...keys.a2, ...keys.b1].every(intact)).toBe(true);
      expect([cache.size, cache.sizeOf('a'), cache.sizeOf('b')]).toEqual([3, 1, 2]);
      cache.forgetVault('a', 'v2');
      expect([cache.size, cache.sizeOf('a')]).toEqual([2, 0]);
    });

    it('clear drops and zeroes everything', () => {
      const { cache, keys } = filled();
      cache.clear();
      expect(Object.values(keys).flat().every(zeroed)).toBe(true);
      expect([cache.size, cache.sizeOf('a'), cache.sizeOf('b')]).toEqual([0, 0, 0]);
    });
  });

  describe('replacement', () => {
    it('zeroes the replaced key', () => {
      const cache = new TenantKeyCache({ maxEntries: 10, maxEntriesPerTenant: 5, ttlMs: 60_000 });
      const before = key('a', 'v');
      const after = key('a', 'v');
      cache.set(before);
      cache.set(after);
      expect(zeroed(before)).toBe(true);
      expect(intact(after)).toBe(true);
      expect(cache.get(ctx(after))).toBe(after);
      expect([cache.size, cache.sizeOf('a')]).toEqual([1, 1]);
    });

    it('does not zero the very same key set again', () => {
      const cache = new TenantKeyCache({ maxEntries: 10, maxEntriesPerTenant: 1, ttlMs: 60_000 });
      const k = key('a', 'v');
      cache.set(k);
      cache.set(k);
      expect(intact(k)).toBe(true);
      expect(cache.get(ctx(k))).toBe(k);
      expect([cache.size, cache.sizeOf('a')]).toEqual([1, 1]);
    });

    it('does not zero a buffer that the new key still holds', () => {
      const cache = new TenantKeyCache({ maxEntries: 10, maxEntriesPerTenant: 5, ttlMs: 60_000 });
      const k = key('a', 'v');
      const copy = Object.freeze({ ...k });
      cache.set(k);
      cache.set(copy);
      expect(intact(copy)).toBe(true);
      expect(cache.get(ctx(k))).toBe(copy);
    });
  });

  it('keeps its bookkeeping consistent under any sequence of operations', () => {
    const tenants = ['a', 'b', 'c'];
    const maxEntries = 4;
    const quota = 2;
    const ttlMs = 100;
    const context = fc.record({
      tenantId: fc.constantFrom(...tenants),
      vaultId: fc.constantFrom('v1', 'v2'),
      vaultKeyVersion: fc.integer({ min: 1, max: 3 }),
    });
    const op = fc.oneof(
      { arbitrary: fc.record({ op: fc.constant('set' as const), context }), weight: 5 },
      { arbitrary: fc.record({ op: fc.constant('setAgain' as const), pick: fc.nat() }), weight: 1 },
      { arbitrary: fc.record({ op: fc.constant('get' as const), context }), weight: 4 },
      { arbitrary: fc.record({ op: fc.constant('forgetVault' as const), context }), weight: 1 },
      { arbitrary: fc.record({ op: fc.constant('clear' as const) }), weight: 1 },
      {
        arbitrary: fc.record({
          op: fc.constant('wait' as const),
          ms: fc.integer({ min: 0, max: ttlMs / 2 }),
        }),
        weight: 2,
      },
    );

    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        vi.useFakeTimers();
        try {
          const cache = new TenantKeyCache({
            maxEntries,
            maxEntriesPerTenant: quota,
            ttlMs,
            now: () => Date.now(),
          });
          // The reference: entries from least to most recently used; a tenant's own order is this
          // order restricted to it, since every use moves an entry in both.
          let model: { key: VaultKey; setAt: number }[] = [];
          const same = (a: KeyContext, b: KeyContext) =>
            a.tenantId === b.tenantId && a.vaultId === b.vaultId && a.vaultKeyVersion === b.vaultKeyVersion;
          const all: VaultKey[] = [];

          const modelSet = (k: VaultKey) => {
            const present = model.some((e) => same(e.key, k));
            model = model.filter((e) => !same(e.key, k));
            if (!present) {
              const own = model.filter((e) => e.key.tenantId === k.tenantId);
              if (own.length >= quota) model = model.filter((e) => e !== own[0]);
              if (model.length >= maxEntries) model = model.slice(1);
            }
            model.push({ key: k, setAt: Date.now() });
          };

          for (const o of ops) {
            switch (o.op) {
              case 'set': {
                const k = { ...o.context, material: Buffer.alloc(32, 0xab) };
                all.push(k);
                cache.set(k);
                modelSet(k);
                break;
              }
              case 'setAgain': {
                const e = model[o.pick % Math.max(model.length, 1)];
                if (!e) break;
                cache.set(e.key);
                modelSet(e.key);
                break;
              }
              case 'get': {
                const e = model.find((x) => same(x.key, o.context));
                expect(cache.get(o.context)).toBe(e?.key);
                if (e) model = [...model.filter((x) => x !== e), e];
                break;
              }
              case 'forgetVault':
                cache.forgetVault(o.context.tenantId, o.context.vaultId);
                model = model.filter(
                  (e) => e.key.tenantId !== o.context.tenantId || e.key.vaultId !== o.context.vaultId,
                );
                break;
              case 'clear':
                cache.clear();
                model = [];
                break;
              case 'wait':
                vi.advanceTimersByTime(o.ms);
                model = model.filter((e) => Date.now() - e.setAt <= ttlMs);
                break;
            }

            expect(cache.size).toBe(model.length);
            expect(cache.size).toBeLessThanOrEqual(maxEntries);
            const sizes = tenants.map((t) => cache.sizeOf(t));
            for (const s of sizes) expect(s).toBeLessThanOrEqual(quota);
            expect(sizes.reduce((x, y) => x + y, 0)).toBe(cache.size);
            expect(sizes).toEqual(tenants.map((t) => model.filter((e) => e.key.tenantId === t).length));
            const present = new Set(model.map((e) => e.key));
            for (const k of all) expect(present.has(k) ? intact(k) : zeroed(k)).toBe(true);
          }
        } finally {
          vi.useRealTimers();
        }
      }),
      { seed: 20_240_601, numRuns: 300 },
    );
  });
});
