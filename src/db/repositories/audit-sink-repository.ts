import type { AuditSinkCursor, AuditSinkRepository, TenantAuditSink } from '../../core/ports.js';
import { bytes } from '../rows.js';
import { ENTRY_COLUMNS, LEAF_ROWS, toEntry } from './audit-log-repository.js';
import { TenantRepository } from './tenant-repository.js';

const toCursor = (r: Record<string, unknown>): AuditSinkCursor => ({
  deliveredBelow: Number(r.delivered_below),
  checkpointSize: r.checkpoint_size == null ? null : Number(r.checkpoint_size),
});

const SINK_COLUMNS = 'tenant_id, id, url, created_by, created_at';

const toSink = (r: Record<string, unknown>): TenantAuditSink => ({
  id: String(r.id),
  tenantId: String(r.tenant_id),
  url: String(r.url),
  createdBy: String(r.created_by),
  createdAt: r.created_at as Date,
});

/** `AuditSinkRepository` in SQL: the `audit_sink_cursors` rows, and leaves joined to their rows. */
export class SqlAuditSinkRepository extends TenantRepository implements AuditSinkRepository {
  async addSink(sink: { id: string; url: string; createdBy: string }) {
    const [r] = await this.c.query(
      `INSERT INTO tenant_audit_sinks (tenant_id, id, url, created_by) VALUES ($1, $2, $3, $4)
       RETURNING ${SINK_COLUMNS}`,
      [this.tenantId, sink.id, sink.url, sink.createdBy],
    );
    return toSink(r!);
  }

  async listSinks() {
    const rows = await this.c.query(
      `SELECT ${SINK_COLUMNS} FROM tenant_audit_sinks WHERE tenant_id = $1 ORDER BY id`,
      [this.tenantId],
    );
    return rows.map(toSink);
  }

  async findSink(id: string) {
    const [r] = await this.c.query(
      `SELECT ${SINK_COLUMNS} FROM tenant_audit_sinks WHERE tenant_id = $1 AND id = $2`,
      [this.tenantId, id],
    );
    return r ? toSink(r) : null;
  }

  async deleteSink(id: string) {
    const rows = await this.c.query(
      'DELETE FROM tenant_audit_sinks WHERE tenant_id = $1 AND id = $2 RETURNING id',
      [this.tenantId, id],
    );
    return rows.length === 1;
  }

  async claim(sink: string, leaseMs: number) {
    await this.c.query(
      'INSERT INTO audit_sink_cursors (tenant_id, sink) VALUES ($1, $2) ON CONFLICT (tenant_id, sink) DO NOTHING',
      [this.tenantId, sink],
    );
    // One statement: a concurrent claim waits on the row lock, re-reads it and finds the lease held.
    const [r] = await this.c.query(
      `UPDATE audit_sink_cursors SET leased_until = now() + $3::integer * interval '1 millisecond'
        WHERE tenant_id = $1 AND sink = $2 AND (leased_until IS NULL OR leased_until <= now())
        RETURNING delivered_below, checkpoint_size`,
      [this.tenantId, sink, leaseMs],
    );
    return r ? toCursor(r) : null;
  }

  async leaves(from: number, limit: number) {
    const rows = await this.c.query(
      `SELECT f.leaf_index, f.leaf_hash, f.log_id, l.id IS NOT NULL AS present, ${ENTRY_COLUMNS('l')}
         FROM (${LEAF_ROWS}) AS f
         LEFT JOIN credential_access_log l ON l.tenant_id = $1 AND l.id = f.log_id
        WHERE f.leaf_index >= $2 AND f.leaf_index < $3
        ORDER BY f.leaf_index`,
      [this.tenantId, from, from + limit],
    );
    return rows.map((r) => ({
      leafIndex: Number(r.leaf_index),
      leafHash: bytes(r.leaf_hash)!,
      logId: String(r.log_id),
      entry: r.present ? toEntry(r) : null,
    }));
  }

  async advance(sink: string, from: AuditSinkCursor, to: AuditSinkCursor) {
    const rows = await this.c.query(
      `UPDATE audit_sink_cursors SET delivered_below = $4, checkpoint_size = $5, leased_until = NULL,
              delivered_at = now()
        WHERE tenant_id = $1 AND sink = $2 AND delivered_below = $3
          AND checkpoint_size IS NOT DISTINCT FROM $6::bigint
        RETURNING 1 AS moved`,
      [this.tenantId, sink, from.deliveredBelow, to.deliveredBelow, to.checkpointSize, from.checkpointSize],
    );
    return rows.length === 1;
  }

  async release(sink: string) {
    await this.c.query(
      'UPDATE audit_sink_cursors SET leased_until = NULL WHERE tenant_id = $1 AND sink = $2',
      [this.tenantId, sink],
    );
  }
}
