/**
 * Reveals spread over many tenants: each reveal picks a tenant, then one of its credentials, so
 * two concurrent reveals rarely share a tenant. Whatever the registry batches per tenant (group
 * commit) helps least here; this cell shows what it costs when it cannot help.
 */
import { randomBytes } from 'node:crypto';
import type { RegistryHandle } from '../src/main.js';
import { inParallel } from './scheduler-workload.js';
import { pick } from './workload.js';

export interface MultiTenantWorkload {
  tenants: number;
  credentialsPerTenant: number;
  /** Reveals a random credential of a random tenant, through the library. */
  reveal(): Promise<unknown>;
}

const ctx = { actor: 'bench' };

/**
 * Seeds `tenants` tenants with one vault and `credentialsPerTenant` api_key credentials each,
 * `parallel` tenants at a time: one after another would take minutes on PostgreSQL, and
 * unbounded would queue thousands of transactions behind the pool at once.
 */
export async function seedMultiTenant(
  registry: RegistryHandle,
  options: { tenants: number; credentialsPerTenant: number; parallel: number; name?: string },
  progress: (message: string) => void,
): Promise<MultiTenantWorkload> {
  const { tenants, credentialsPerTenant, parallel } = options;
  const name = options.name ?? 'bench-multi';
  let seeded = 0;
  const step = Math.max(1, Math.ceil(tenants / 10));
  const seeds = await inParallel(tenants, parallel, async (i) => {
    const tenant = await registry.tenants.create({ name: `${name}-${i}` });
    const t = registry.forTenant(tenant.id);
    const vault = await t.vaults.create({ name: 'bench' }, ctx);
    const ids: string[] = [];
    for (let j = 0; j < credentialsPerTenant; j++) {
      const value = `sk_bench_${randomBytes(16).toString('hex')}`;
      ids.push(
        (await t.credentials.store({ vaultId: vault.id, name: `bench-${j}`, type: 'api_key', value }, ctx))
          .id,
      );
    }
    if (++seeded % step === 0 || seeded === tenants) progress(`seeded ${seeded}/${tenants} tenants`);
    return { credentials: t.credentials, ids };
  });
  return {
    tenants,
    credentialsPerTenant,
    reveal: () => {
      const s = pick(seeds);
      return s.credentials.reveal(pick(s.ids), { actor: 'bench', reason: 'bench' });
    },
  };
}
