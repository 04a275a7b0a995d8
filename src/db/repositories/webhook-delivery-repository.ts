import type { AttemptRecord, WebhookDelivery, WebhookDeliveryRepository } from '../../core/ports.js';
import { TenantRepository } from './tenant-repository.js';

const COLUMNS = `d.id, d.subscription_id, d.event_id, e.type AS event_type, d.status, d.attempts, d.next_attempt_at,
  d.last_status, d.last_error, d.delivered_at, d.created_at`;
const FROM = 'webhook_deliveries d JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id';

type Row = Record<string, unknown>;

const toDelivery = (r: Row): WebhookDelivery => ({
  id: String(r.id),
  subscriptionId: String(r.subscription_id),
  eventId: String(r.event_id),
  eventType: String(r.event_type),
  status: r.status as WebhookDelivery['status'],
  attempts: Number(r.attempts),
  nextAttemptAt: r.next_attempt_at as Date,
  lastStatus: r.last_status == null ? null : Number(r.last_status),
  lastError: r.last_error == null ? null : String(r.last_error),
  deliveredAt: (r.delivered_at as Date | null) ?? null,
  createdAt: r.created_at as Date,
});

export class SqlWebhookDeliveryRepository extends TenantRepository implements WebhookDeliveryRepository {
  async find(id: string) {
    const [r] = await this.c.query(`SELECT ${COLUMNS} FROM ${FROM} WHERE d.tenant_id = $1 AND d.id = $2`, [
      this.tenantId,
      id,
    ]);
    return r ? toDelivery(r) : null;
  }

  async list(subscriptionId: string, limit: number, beforeId?: string) {
    const rows = await this.c.query(
      `SELECT ${COLUMNS} FROM ${FROM}
        WHERE d.tenant_id = $1 AND d.subscription_id = $2 AND ($3::uuid IS NULL OR d.id < $3::uuid)
        ORDER BY d.id DESC LIMIT $4`,
      [this.tenantId, subscriptionId, beforeId ?? null, limit],
    );
    return rows.map(toDelivery);
  }

  async recordAttempt(id: string, attempt: number, o: AttemptRecord) {
    const status = o.kind === 'delivered' ? 'delivered' : o.kind === 'retry' ? 'pending' : 'failed';
    const rows = await this.c.query(
      `UPDATE webhook_deliveries
          SET attempts = $3, status = $4, last_status = $5, last_error = $6,
              next_attempt_at = COALESCE($7, next_attempt_at), delivered_at = $8
        WHERE tenant_id = $1 AND id = $2 AND status = 'pending' AND attempts = $3 - 1
        RETURNING id`,
      [
        this.tenantId,
        id,
        attempt,
        status,
        o.status,
        o.kind === 'delivered' ? null : o.error.slice(0, 500),
        o.kind === 'retry' ? o.nextAttemptAt : null,
        o.kind === 'delivered' ? o.at : null,
      ],
    );
    return rows.length > 0;
  }
}
