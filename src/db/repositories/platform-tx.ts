import type { PlatformTx, ScheduledJob } from '../../core/ports.js';
import { bytes, toTenant } from '../rows.js';
import type { SqlClient } from '../sql.js';

const TENANT_COLUMNS = 'tenant_id, name, created_at';

/** `PlatformTx` in SQL: tenants, platform tokens and job leases, as the platform role. */
export class SqlPlatformTx implements PlatformTx {
  constructor(private readonly c: SqlClient) {}

  async insertPlatformToken(t: { id: string; name: string; secretHash: Uint8Array }) {
    await this.c.query('INSERT INTO platform_tokens (id, name, secret_hash) VALUES ($1, $2, $3)', [
      t.id,
      t.name,
      Buffer.from(t.secretHash),
    ]);
  }

  async findPlatformToken(id: string) {
    const [r] = await this.c.query(
      'SELECT id, name, secret_hash, expires_at, revoked_at FROM platform_tokens WHERE id = $1',
      [id],
    );
    if (!r) return null;
    return {
      id: String(r.id),
      name: String(r.name),
      secretHash: bytes(r.secret_hash)!,
      expiresAt: (r.expires_at as Date | null) ?? null,
      revokedAt: (r.revoked_at as Date | null) ?? null,
    };
  }

  async lockPlatformTokens() {
    await this.c.query('LOCK TABLE platform_tokens IN SHARE ROW EXCLUSIVE MODE');
  }

  async countPlatformTokens() {
    const [r] = await this.c.query<{ n: number }>('SELECT count(*)::int AS n FROM platform_tokens');
    return r?.n ?? 0;
  }

  async insertTenant(t: { id: string; name: string }) {
    const [row] = await this.c.query(
      `INSERT INTO tenants (tenant_id, name) VALUES ($1, $2) RETURNING ${TENANT_COLUMNS}`,
      [t.id, t.name],
    );
    return toTenant(row!);
  }

  async findTenant(id: string) {
    const [row] = await this.c.query(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE tenant_id = $1`, [id]);
    return row ? toTenant(row) : null;
  }

  async listTenants(limit: number, after?: { name: string; id: string }, name?: string) {
    const rows = await this.c.query(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE ($1::text IS NULL OR (name, tenant_id) > ($1, $2::uuid))
          AND ($4::text IS NULL OR name = $4)
        ORDER BY name, tenant_id LIMIT $3`,
      [after?.name ?? null, after?.id ?? null, limit, name ?? null],
    );
    return rows.map(toTenant);
  }

  async claimJobRun(job: ScheduledJob, holder: string, leaseMs: number) {
    // The whole claim is this one statement in a short transaction: a concurrent claim waits on the
    // row lock, re-reads the row once it is free and finds it no longer due. now() is the database's
    // clock, one for every instance, so theirs may disagree without two of them winning one lease.
    const [row] = await this.c.query<{ next_run_at: Date }>(
      `UPDATE job_leases SET next_run_at = now() + $3::integer * interval '1 millisecond', holder = $2
        WHERE name = $1 AND next_run_at <= now() RETURNING next_run_at`,
      [job, holder, leaseMs],
    );
    return row?.next_run_at ?? null;
  }

  async claimDueRotations(limit: number, leaseMs: number) {
    // The CTE keeps each row's due time from before the claim; RETURNING sees only the new one.
    const rows = await this.c.query<{
      tenant_id: string;
      credential_id: string;
      was_due_at: Date;
      claimed_at: Date;
    }>(
      `WITH due AS (
          SELECT tenant_id, credential_id, due_at FROM due_rotations WHERE due_at <= now()
           ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        UPDATE due_rotations d SET due_at = now() + $2::integer * interval '1 millisecond'
          FROM due WHERE d.tenant_id = due.tenant_id AND d.credential_id = due.credential_id
        RETURNING d.tenant_id, d.credential_id, due.due_at AS was_due_at, now() AS claimed_at`,
      [limit, leaseMs],
    );
    return rows.map((r) => ({
      tenantId: String(r.tenant_id),
      credentialId: String(r.credential_id),
      dueAt: r.was_due_at,
      claimedAt: r.claimed_at,
    }));
  }

  async countDueRotations() {
    // By the due_rotations_by_time index; a claimed row is a lease ahead, so it is not counted.
    const [r] = await this.c.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM due_rotations WHERE due_at <= now()',
    );
    return r?.n ?? 0;
  }

  async tenantsWithUnsealedRows(limit: number, afterId?: string) {
    // As the platform role: it may read three columns of the access log and each tree's position:
    // enough to tell whether a tenant has a committed row to seal. With a key this cluster made
    // (migration 0013): a row past it, or one of a transaction that was running when the sealer
    // read past its id; two probes of the seal index. A tree with no key, or with a key or rows
    // this cluster cannot have made (a restore), is read by the sealer from its mark (or 0) and
    // checked against every leaf, which this role may not read: it has work until it has a key.
    // A tenant with no tree has work once it has a row.
    const rows = await this.c.query<{ id: string }>(
      `SELECT t.tenant_id AS id FROM tenants t
         LEFT JOIN audit_log_state s ON s.tenant_id = t.tenant_id
        CROSS JOIN LATERAL (
          SELECT coalesce(max(l.seal_xid) >= pg_snapshot_xmax(pg_current_snapshot()), false) AS foreign
            FROM credential_access_log l WHERE l.tenant_id = t.tenant_id) AS x
        WHERE ($2::uuid IS NULL OR t.tenant_id > $2::uuid)
          AND CASE WHEN s.sealed_xid < pg_snapshot_xmax(pg_current_snapshot()) AND NOT x.foreign THEN
            EXISTS (SELECT 1 FROM credential_access_log l
                     WHERE l.tenant_id = t.tenant_id AND (l.seal_xid, l.id) > (s.sealed_xid, s.sealed_id))
            OR EXISTS (SELECT 1 FROM credential_access_log l
                        WHERE l.tenant_id = t.tenant_id AND l.seal_xid = ANY (s.pending))
          ELSE s.tenant_id IS NOT NULL
            OR EXISTS (SELECT 1 FROM credential_access_log l WHERE l.tenant_id = t.tenant_id)
          END
        ORDER BY t.tenant_id LIMIT $1`,
      [limit, afterId ?? null],
    );
    return rows.map((r) => String(r.id));
  }

  async tenantsBehindSink(sink: string, options: { tenantId?: string; limit: number; afterId?: string }) {
    // As the platform role: it may read each tree's size, each checkpoint's size and the cursors,
    // nothing of the rows. A tenant is behind on its leaves, or on a checkpoint it has not had.
    const rows = await this.c.query<{ id: string }>(
      `SELECT s.tenant_id AS id FROM audit_log_state s
         LEFT JOIN audit_sink_cursors c ON c.tenant_id = s.tenant_id AND c.sink = $1
        WHERE ($2::uuid IS NULL OR s.tenant_id = $2::uuid) AND ($4::uuid IS NULL OR s.tenant_id > $4::uuid)
          AND (s.tree_size > coalesce(c.delivered_below, 0)
               OR EXISTS (SELECT 1 FROM audit_checkpoints k WHERE k.tenant_id = s.tenant_id
                             AND k.tree_size > coalesce(c.checkpoint_size, -1)))
        ORDER BY s.tenant_id LIMIT $3`,
      [sink, options.tenantId ?? null, options.limit, options.afterId ?? null],
    );
    return rows.map((r) => String(r.id));
  }

  async auditSinkLag(sink: string, tenantId?: string) {
    const [r] = await this.c.query<{ n: string }>(
      `SELECT coalesce(sum(greatest(s.tree_size - coalesce(c.delivered_below, 0), 0)), 0)::text AS n
         FROM audit_log_state s LEFT JOIN audit_sink_cursors c ON c.tenant_id = s.tenant_id AND c.sink = $1
        WHERE $2::uuid IS NULL OR s.tenant_id = $2::uuid`,
      [sink, tenantId ?? null],
    );
    return Number(r?.n ?? 0);
  }

  async tenantAuditSinks(limit: number) {
    const rows = await this.c.query<{ tenant_id: string; id: string }>(
      'SELECT tenant_id, id FROM tenant_audit_sinks ORDER BY tenant_id, id LIMIT $1',
      [limit],
    );
    return rows.map((r) => ({ tenantId: String(r.tenant_id), id: String(r.id) }));
  }

  async claimDueDeliveries(now: Date, leaseUntil: Date, limit: number) {
    // As the platform role: its policy shows pending rows only, and its grants four columns.
    const rows = await this.c.query<{ tenant_id: string; id: string }>(
      `UPDATE webhook_deliveries d SET next_attempt_at = $2
        WHERE (d.tenant_id, d.id) IN (
          SELECT tenant_id, id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
           ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING d.tenant_id, d.id`,
      [now, leaseUntil, limit],
    );
    return rows.map((r) => ({ tenantId: String(r.tenant_id), deliveryId: String(r.id) }));
  }

  async countPendingDeliveries() {
    const [r] = await this.c.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'",
    );
    return r?.n ?? 0;
  }

  async findDueExpiryNotices(now: Date, limit: number) {
    // By the expiry_notices_by_time index; the platform role may read these four columns only.
    const rows = await this.c.query<{
      tenant_id: string;
      credential_id: string;
      alert_window: string;
      due_at: Date;
    }>(
      `SELECT tenant_id, credential_id, alert_window, due_at FROM expiry_notices
        WHERE due_at <= $1 ORDER BY due_at LIMIT $2`,
      [now, limit],
    );
    return rows.map((r) => ({
      tenantId: String(r.tenant_id),
      credentialId: String(r.credential_id),
      window: String(r.alert_window),
      dueAt: r.due_at,
    }));
  }
}
