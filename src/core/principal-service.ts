import { z } from 'zod';
import type { RegistryDeps } from './audited-operation.js';
import { newId } from './ids.js';
import { type PageOptions, pageOptions, toPage } from './pagination.js';
import type { Page, Principal } from './types.js';
import { parse } from './validation.js';

const principalInput = z.object({
  name: z.string().trim().min(1).max(100),
  kind: z.enum(['user', 'service']),
});

/** The users and services of one tenant; API tokens and roles attach to them. */
export class PrincipalService {
  constructor(
    private readonly deps: Pick<RegistryDeps, 'store'>,
    private readonly tenantId: string,
  ) {}

  async create(input: { name: string; kind: 'user' | 'service' }): Promise<Principal> {
    const p = parse(principalInput, input);
    return this.deps.store.withTenant(this.tenantId, (tx) => tx.insertPrincipal({ id: newId(), ...p }));
  }

  async list(options: PageOptions = {}): Promise<Page<Principal>> {
    const { limit, cursor } = parse(pageOptions, options);
    const after = cursor === undefined ? undefined : Buffer.from(cursor, 'base64url').toString('utf8');
    const rows = await this.deps.store.withTenant(this.tenantId, (tx) => tx.listPrincipals(limit + 1, after));
    return toPage(rows, limit, (p) => Buffer.from(p.name).toString('base64url'));
  }
}
