import { z } from 'zod';
import type { RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { newId } from './ids.js';
import { decodeNameCursor, encodeNameCursor, type PageOptions, pageOptions, toPage } from './pagination.js';
import type { Page, Tenant } from './types.js';
import { displayName, parse, uuid } from './validation.js';

/** Tenant names are free text for people, but never control characters (they end up in logs and tables). */
const tenantInput = z.object({ name: displayName });
/** A listing's exact-name filter: any text (a name no tenant has finds none), but bounded. */
const tenantFilter = z.object({ name: z.string().max(1000).optional() });

/** Platform-level: tenants themselves. Runs as the platform role, which sees no tenant data. */
export class TenantService {
  constructor(private readonly deps: Pick<RegistryDeps, 'store'>) {}

  /**
   * @example const acme = await registry.tenants.create({ name: 'acme' });
   */
  async create(input: { name: string }): Promise<Tenant> {
    const { name } = parse(tenantInput, input);
    return this.deps.store.withPlatform((tx) => tx.insertTenant({ id: newId(), name }));
  }

  async get(id: string): Promise<Tenant> {
    parse(uuid, id, 'id');
    const tenant = await this.deps.store.withPlatform((tx) => tx.findTenant(id));
    if (!tenant) throw new RegistryError('NOT_FOUND', 'tenant not found');
    return tenant;
  }

  /**
   * By name; only the tenant named exactly `name` when it is given (names are unique).
   *
   * @example const [acme] = (await registry.tenants.list({ name: 'acme' })).items;
   */
  async list(options: PageOptions & { name?: string } = {}): Promise<Page<Tenant>> {
    const { limit, cursor } = parse(pageOptions, options);
    const { name } = parse(tenantFilter, { name: options.name });
    const rows = await this.deps.store.withPlatform((tx) =>
      tx.listTenants(limit + 1, decodeNameCursor(cursor), name),
    );
    return toPage(rows, limit, encodeNameCursor);
  }
}
