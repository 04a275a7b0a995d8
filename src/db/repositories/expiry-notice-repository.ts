import type { ExpiryNotice, ExpiryNoticeRepository } from '../../core/ports.js';
import { TenantRepository } from './tenant-repository.js';

const toNotice = (r: { alert_window: unknown; due_at: unknown }): ExpiryNotice => ({
  window: String(r.alert_window),
  dueAt: r.due_at as Date,
});

export class SqlExpiryNoticeRepository extends TenantRepository implements ExpiryNoticeRepository {
  async replace(plans: ReadonlyArray<{ credentialId: string; notices: readonly ExpiryNotice[] }>) {
    if (plans.length === 0) return;
    await this.c.query(
      'DELETE FROM expiry_notices WHERE tenant_id = $1 AND credential_id = ANY ($2::uuid[])',
      [this.tenantId, plans.map((p) => p.credentialId)],
    );
    const rows = plans.flatMap((p) => p.notices.map((n) => ({ credentialId: p.credentialId, ...n })));
    if (rows.length === 0) return;
    // One statement for every row, however many credentials a vault's new default reschedules.
    await this.c.query(
      `INSERT INTO expiry_notices (tenant_id, credential_id, alert_window, due_at)
       SELECT $1, c, w, d FROM unnest($2::uuid[], $3::text[], $4::timestamptz[]) AS t (c, w, d)`,
      [
        this.tenantId,
        rows.map((r) => r.credentialId),
        rows.map((r) => r.window),
        rows.map((r) => r.dueAt.toISOString()),
      ],
    );
  }

  async takeDue(credentialId: string, now: Date) {
    const rows = await this.c.query<{ alert_window: string; due_at: Date }>(
      `DELETE FROM expiry_notices WHERE tenant_id = $1 AND credential_id = $2 AND due_at <= $3
       RETURNING alert_window, due_at`,
      [this.tenantId, credentialId, now],
    );
    return rows.map(toNotice).sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime());
  }

  async postpone(credentialId: string, now: Date, until: Date) {
    await this.c.query(
      'UPDATE expiry_notices SET due_at = $4 WHERE tenant_id = $1 AND credential_id = $2 AND due_at <= $3',
      [this.tenantId, credentialId, now, until],
    );
  }
}
