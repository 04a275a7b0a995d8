import { z } from 'zod';
import { auditFailure, outOfScope, type RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { decodeIdCursor, encodeIdCursor, pageOptions, toPage } from './pagination.js';
import type { AccessLogQuery } from './ports.js';
import type { AccessLogEntry, Page, RequestContext } from './types.js';
import { accessAction, accessOutcome, parse, text, timestamp, uuid } from './validation.js';

const auditQuery = pageOptions.extend({
  credentialId: uuid.optional(),
  vaultId: uuid.optional(),
  actor: text(200).pipe(z.string().min(1)).optional(),
  action: accessAction.optional(),
  outcome: accessOutcome.optional(),
  from: timestamp.optional(),
  to: timestamp.optional(),
});

/** The store's query, with an opaque cursor for paging. */
export type AccessLogFilter = Omit<AccessLogQuery, 'limit' | 'beforeId'> & {
  /** (Default: 100), at most 1000. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
};

/** Reading the access log of one tenant, newest first. Nothing here can change it. */
export class AuditService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
  ) {}

  /**
   * @example const { items } = await t.audit.query({ credentialId, outcome: 'denied', limit: 50 });
   */
  async query(filter: AccessLogFilter = {}, ctx?: RequestContext): Promise<Page<AccessLogEntry>> {
    const { cursor, ...q } = parse(auditQuery, filter);
    if (ctx?.vaultScope) {
      // A vault-scoped caller reads its vault's entries only.
      if (q.vaultId && q.vaultId !== ctx.vaultScope) {
        // What a filter on a vault without entries answers: an empty page. Only the log says why.
        const denied = outOfScope(ctx, q.vaultId, () => new RegistryError('NOT_FOUND', 'vault not found'))!;
        await auditFailure(
          this.deps,
          this.tenantId,
          ctx,
          { action: 'audit_read', vaultId: q.vaultId },
          denied,
        );
        return { items: [], nextCursor: null };
      }
      q.vaultId = ctx.vaultScope;
    }
    const rows = await this.deps.store.withTenant(this.tenantId, (tx) =>
      tx.queryAccessLog({ ...q, limit: q.limit + 1, beforeId: decodeIdCursor(cursor) }),
    );
    return toPage(rows, q.limit, (e) => encodeIdCursor(e.id));
  }
}
