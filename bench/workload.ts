/**
 * What the registry is measured on: one tenant, one vault, a set of api_key credentials, and the
 * two operations under test through the public API.
 */
import { randomBytes } from 'node:crypto';
import type { RegistryHandle } from '../src/main.js';

export interface Workload {
  tenantId: string;
  vaultId: string;
  credentialIds: readonly string[];
  /** Reveals a credential picked at random, so no single row is hot. */
  reveal(): Promise<unknown>;
  /** Stores a new credential under a fresh name. */
  store(): Promise<unknown>;
}

const ctx = { actor: 'bench' };

/** A value the size of a typical API key; the baseline's rows are sized after its ciphertext. */
const apiKey = () => `sk_bench_${randomBytes(16).toString('hex')}`;

export async function seedWorkload(
  registry: RegistryHandle,
  credentials: number,
  name = 'bench',
): Promise<Workload> {
  const tenant = await registry.tenants.create({ name });
  const t = registry.forTenant(tenant.id);
  const vault = await t.vaults.create({ name: 'bench' }, ctx);
  let stored = 0;
  const store = () =>
    t.credentials.store(
      { vaultId: vault.id, name: `bench-${++stored}`, type: 'api_key', value: apiKey() },
      ctx,
    );
  const ids: string[] = [];
  for (let i = 0; i < credentials; i++) ids.push((await store()).id);
  return {
    tenantId: tenant.id,
    vaultId: vault.id,
    credentialIds: ids,
    reveal: () => t.credentials.reveal(pick(ids), { actor: 'bench', reason: 'bench' }),
    store,
  };
}

export function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}
