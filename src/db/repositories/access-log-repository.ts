import { newId } from '../../core/ids.js';
import type { AccessLogInsert, AccessLogQuery, AccessLogRepository } from '../../core/ports.js';
import { translate } from '../error-translation.js';
import { toAccessLogEntry } from '../rows.js';
import { TenantRepository } from './tenant-repository.js';

const ACCESS_LOG_COLUMNS = `tenant_id, id, occurred_at, credential_id, vault_id, action, outcome, actor, reason, source_ip,
  user_agent, request_id, client_request_id, version, error_code`;

export class SqlAccessLogRepository extends TenantRepository implements AccessLogRepository {
  async append(e: AccessLogInsert) {
    await this.appendMany([e]);
  }

  /**
   * Rows in one statement (one text whatever their number, so it is prepared once): one for
   * `append`, a group-committed batch's for group-commit.ts. Not on the port.
   */
  async appendMany(rows: readonly AccessLogInsert[]) {
    const column = <K extends keyof AccessLogInsert>(k: K) => rows.map((r) => r[k]);
    // Translated here, not after the transaction: the core tells a row the database refused
    // (INTERNAL) from a database that is away (UNAVAILABLE), and acts on the difference.
    try {
      await this.c.query(
        `INSERT INTO credential_access_log (tenant_id, id, credential_id, vault_id, action, outcome, actor, reason,
                                            source_ip, user_agent, request_id, client_request_id, version, error_code)
         SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[],
                                  $9::text[], $10::text[], $11::text[], $12::text[], $13::int[], $14::text[])`,
        [
          this.tenantId,
          rows.map(() => newId()),
          column('credentialId'),
          column('vaultId'),
          column('action'),
          column('outcome'),
          column('actor'),
          column('reason'),
          column('sourceIp'),
          column('userAgent'),
          column('requestId'),
          column('clientRequestId'),
          column('version'),
          column('errorCode'),
        ],
      );
    } catch (err) {
      throw translate(err);
    }
  }

  async query(q: AccessLogQuery) {
    const where = ['tenant_id = $1'];
    const params: unknown[] = [this.tenantId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (q.credentialId) add('credential_id = ?', q.credentialId);
    if (q.vaultId) add('vault_id = ?', q.vaultId);
    if (q.actor) add('actor = ?', q.actor);
    if (q.action) add('action = ?', q.action);
    if (q.outcome) add('outcome = ?', q.outcome);
    if (q.from) add('occurred_at >= ?', q.from);
    if (q.to) add('occurred_at < ?', q.to);
    if (q.beforeId) add('id < ?', q.beforeId);
    params.push(q.limit);
    // The page first, then its actors' names: only the rows returned are joined. A principal's id
    // is a UUID and `actor` text, so other actors (`platform:…`, `(anonymous)`) match no one.
    const rows = await this.c.query(
      `SELECT l.*, p.name AS actor_name
         FROM (SELECT ${ACCESS_LOG_COLUMNS} FROM credential_access_log
                WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}) l
         LEFT JOIN principals p ON p.tenant_id = l.tenant_id AND p.id::text = l.actor
        ORDER BY l.id DESC`,
      params,
    );
    return rows.map(toAccessLogEntry);
  }
}
