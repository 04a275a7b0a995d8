import { z } from 'zod';
import type { RegistryDeps } from './audited-operation.js';
import { newId } from './ids.js';
import { decodeNameCursor, encodeNameCursor, type PageOptions, pageOptions, toPage } from './pagination.js';
import type { Page, Principal, RequestContext } from './types.js';
import { defineUseCase, IN_PROCESS, runUseCase } from './use-case.js';
import { displayName } from './validation.js';

export const principalInput = z.strictObject({
  name: displayName,
  kind: z.enum(['user', 'service']),
});

/** A user or service of the tenant, to attach tokens to. Logged as `principal_create`. */
export const createPrincipal = defineUseCase({
  action: 'principal_create',
  capability: 'principals:manage',
  input: principalInput,
  logs: 'every attempt',
  async body(op, p): Promise<Principal> {
    const principal = await op.tx.principals.insert({ id: newId(), ...p });
    await op.granted();
    return principal;
  },
});

export const listPrincipals = defineUseCase({
  action: 'principal_list',
  capability: 'principals:manage',
  input: pageOptions.strict(),
  logs: 'refusals',
  async body(op, { limit, cursor }): Promise<Page<Principal>> {
    const after = decodeNameCursor(cursor);
    return toPage(await op.tx.principals.list(limit + 1, after?.name), limit, encodeNameCursor);
  },
});

/** The users and services of one tenant, as library calls; API tokens attach to them. */
export class PrincipalService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
  ) {}

  create(input: { name: string; kind: 'user' | 'service' }, ctx: RequestContext): Promise<Principal> {
    return runUseCase(this.deps, this.tenantId, createPrincipal, input, ctx);
  }

  list(options: PageOptions = {}, ctx: RequestContext = IN_PROCESS): Promise<Page<Principal>> {
    return runUseCase(this.deps, this.tenantId, listPrincipals, options, ctx);
  }
}
