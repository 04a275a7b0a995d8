import { z } from 'zod';
import type { RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { newId } from './ids.js';
import { decodeNameCursor, encodeNameCursor, type PageOptions, pageOptions, toPage } from './pagination.js';
import type { Page, Tenant } from './types.js';
import { displayName, parse, uuid } from './validation.js';

/** Tenant names are free text for people, but never control characters (they end up in logs and tables). */
const tenantInput = z.object({ name: displayName });

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

  async list(options: PageOptions = {}): Promise<Page<Tenant>> {
    const { limit, cursor } = parse(pageOptions, options);
    const rows = await this.deps.store.withPlatform((tx) =>
      tx.listTenants(limit + 1, decodeNameCursor(cursor)),
    );
    return toPage(rows, limit, encodeNameCursor);
  }
}
