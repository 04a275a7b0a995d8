import { z } from 'zod';
import { audited, type RegistryDeps, validated } from './audited-operation.js';
import { newId } from './ids.js';
import { decodeNameCursor, encodeNameCursor, type PageOptions, pageOptions, toPage } from './pagination.js';
import type { Page, Principal, RequestContext } from './types.js';
import { displayName, parse } from './validation.js';

export const principalInput = z.object({
  name: displayName,
  kind: z.enum(['user', 'service']),
});

/** The users and services of one tenant; API tokens attach to them. */
export class PrincipalService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
  ) {}

  /** Logged as `principal_create`. */
  async create(input: { name: string; kind: 'user' | 'service' }, ctx: RequestContext): Promise<Principal> {
    const subject = { action: 'principal_create' as const };
    const { ctx: c, input: p } = await validated(this.deps, this.tenantId, subject, ctx, () =>
      parse(principalInput, input),
    );
    return audited(this.deps, this.tenantId, c, subject, async (op) => {
      const principal = await op.tx.insertPrincipal({ id: newId(), ...p });
      await op.granted();
      return principal;
    });
  }

  async list(options: PageOptions = {}): Promise<Page<Principal>> {
    const { limit, cursor } = parse(pageOptions, options);
    const after = decodeNameCursor(cursor);
    const rows = await this.deps.store.withTenant(this.tenantId, (tx) =>
      tx.listPrincipals(limit + 1, after?.name),
    );
    return toPage(rows, limit, encodeNameCursor);
  }
}
