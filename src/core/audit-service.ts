import { z } from 'zod';
import { outOfScope, type RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { isUuid } from './ids.js';
import { decodeIdCursor, encodeIdCursor, pageOptions, toPage } from './pagination.js';
import type { AccessLogQuery } from './ports.js';
import type { AccessLogEntry, Page, RequestContext } from './types.js';
import { defineUseCase, IN_PROCESS, runUseCase } from './use-case.js';
import { accessAction, accessOutcome, text, timestamp, uuid } from './validation.js';

const auditQuery = pageOptions
  .extend({
    credentialId: uuid.optional(),
    vaultId: uuid.optional(),
    actor: text(200).pipe(z.string().min(1)).optional(),
    action: accessAction.optional(),
    outcome: accessOutcome.optional(),
    from: timestamp.optional(),
    to: timestamp.optional(),
  })
  .strict();

/** The store's query, with an opaque cursor for paging. */
export type AccessLogFilter = Omit<AccessLogQuery, 'limit' | 'beforeId'> & {
  /** (Default: 100), at most 1000. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
};

/** The access log of one tenant, newest first. A vault-scoped caller reads its vault's entries only. */
export const queryAccessLog = defineUseCase({
  action: 'audit_read',
  capability: 'audit:read',
  input: auditQuery,
  logs: 'refusals',
  names: (raw) => ({
    ...(isUuid(raw.vaultId) ? { vaultId: raw.vaultId } : {}),
    ...(isUuid(raw.credentialId) ? { credentialId: raw.credentialId } : {}),
  }),
  async body(op, { cursor, ...q }, { ctx }): Promise<Page<AccessLogEntry>> {
    if (ctx.vaultScope) {
      if (q.vaultId && q.vaultId !== ctx.vaultScope) {
        // What a filter on a vault without entries answers: an empty page. Only the log says why.
        await op.refuse(outOfScope(ctx, q.vaultId, () => new RegistryError('NOT_FOUND', 'vault not found'))!);
        return { items: [], nextCursor: null };
      }
      q.vaultId = ctx.vaultScope;
    }
    const rows = await op.tx.accessLog.query({ ...q, limit: q.limit + 1, beforeId: decodeIdCursor(cursor) });
    return toPage(rows, q.limit, (e) => encodeIdCursor(e.id));
  },
});

/** Reading the access log of one tenant, as library calls. Nothing here can change it. */
export class AuditService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
  ) {}

  /**
   * @example const { items } = await t.audit.query({ credentialId, outcome: 'denied', limit: 50 });
   */
  query(filter: AccessLogFilter = {}, ctx: RequestContext = IN_PROCESS): Promise<Page<AccessLogEntry>> {
    return runUseCase(this.deps, this.tenantId, queryAccessLog, filter, ctx);
  }
}
