import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../src/core/errors.js';
import type { RootKeyProvider } from '../../src/core/ports.js';
import { GuardedProvider } from '../../src/keys/guarded-provider.js';
import { LocalKeyProvider } from '../../src/keys/local-key-provider.js';
import { waitUntil } from '../helpers/wait.js';

const ctx = {
  tenantId: '01890000-0000-7000-8000-000000000001',
  vaultId: '01890000-0000-7000-8000-000000000002',
  vaultKeyVersion: 1,
};

/** A local provider whose calls can be switched to fail as an outage, or as a refusal. */
function switchable() {
  const local = new LocalKeyProvider(randomBytes(32));
  const state = { mode: 'up' as 'up' | 'down' | 'refuse', calls: 0 };
  const provider: RootKeyProvider = {
    name: 'local',
    canUnwrap: (w) => local.canUnwrap(w),
    currentKeyTest: async () => {
      state.calls++;
      if (state.mode === 'down') throw new RegistryError('UNAVAILABLE', 'down');
      return local.currentKeyTest();
    },
    wrapKey: (k, c) => local.wrapKey(k, c),
    unwrapKey: async (w, c) => {
      state.calls++;
      if (state.mode === 'down') throw new RegistryError('UNAVAILABLE', 'down');
      if (state.mode === 'refuse') throw new RegistryError('CRYPTO', 'refused');
      return local.unwrapKey(w, c);
    },
  };
  return { local, state, provider };
}

describe('a root key provider behind a deadline and a circuit breaker', () => {
  it('answers as the provider does while it is up', async () => {
    const { local, provider } = switchable();
    const g = new GuardedProvider(provider);
    const material = randomBytes(32);
    const wrapped = await local.wrapKey(material, ctx);
    expect(Buffer.from(await g.unwrapKey(wrapped, ctx)).equals(material)).toBe(true);
    expect(g.canUnwrap(wrapped)).toBe(true);
    expect(await g.health()).toEqual({ healthy: true, detail: 'root key provider local reachable' });
  });

  it('opens after breakAfter outages in a row, fails at once while open, and closes after a trial call succeeds', async () => {
    const { local, state, provider } = switchable();
    const g = new GuardedProvider(provider, { breakAfter: 3, openMs: 300 });
    const wrapped = await local.wrapKey(randomBytes(32), ctx);
    state.mode = 'down';
    for (let i = 0; i < 3; i++)
      await expect(g.unwrapKey(wrapped, ctx)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(state.calls).toBe(3);
    await expect(g.unwrapKey(wrapped, ctx)).rejects.toThrow(/unreachable/);
    expect(state.calls).toBe(3); // not called while open
    expect((await g.health()).healthy).toBe(false);
    state.mode = 'up';
    // After openMs one trial call goes through; its success closes the circuit.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await g.unwrapKey(wrapped, ctx);
        break;
      } catch (err) {
        expect(err).toMatchObject({ code: 'UNAVAILABLE' });
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await g.unwrapKey(wrapped, ctx);
  });

  it('refusals (CRYPTO) are answers, not outages: they never open the circuit', async () => {
    const { local, state, provider } = switchable();
    const g = new GuardedProvider(provider, { breakAfter: 2, openMs: 600_000 });
    const wrapped = await local.wrapKey(randomBytes(32), ctx);
    state.mode = 'refuse';
    for (let i = 0; i < 5; i++)
      await expect(g.unwrapKey(wrapped, ctx)).rejects.toMatchObject({ code: 'CRYPTO' });
    expect(state.calls).toBe(5);
    state.mode = 'up';
    await g.unwrapKey(wrapped, ctx);
  });

  it('a call that outlives the deadline is answered UNAVAILABLE at the deadline', async () => {
    const never: RootKeyProvider = {
      name: 'vault-transit',
      canUnwrap: () => true,
      currentKeyTest: () => new Promise(() => {}),
      wrapKey: () => new Promise(() => {}),
      unwrapKey: () => new Promise(() => {}),
    };
    const g = new GuardedProvider(never, { timeoutMs: 100 });
    await expect(g.wrapKey(randomBytes(32), ctx)).rejects.toThrow(
      /root key provider vault-transit did not answer within 100 ms/,
    );
  });

  it('health() probes the provider, and reports an outage the probe finds without any traffic', async () => {
    const { state, provider } = switchable();
    state.mode = 'down';
    const g = new GuardedProvider(provider);
    expect(await g.health()).toEqual({ healthy: false, detail: 'down' });
    // Asked again at once: the last probe's answer, no new call.
    const calls = state.calls;
    await g.health();
    expect(state.calls).toBe(calls);
  });

  it('a key the provider returns after the deadline is zeroed, since nobody takes it', async () => {
    const late = new Uint8Array(32).fill(7);
    let answer!: () => void;
    const slow: RootKeyProvider = {
      name: 'vault-transit',
      canUnwrap: () => true,
      currentKeyTest: async () => () => true,
      wrapKey: () => new Promise(() => {}),
      unwrapKey: () => new Promise((resolve) => (answer = () => resolve(late))),
    };
    const g = new GuardedProvider(slow, { timeoutMs: 50 });
    await expect(
      g.unwrapKey({ provider: 'vault-transit', providerKeyId: 'k', ciphertext: new Uint8Array() }, ctx),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    answer();
    await waitUntil(async () => late.every((b) => b === 0), 'the late key to be zeroed');
  });
});
