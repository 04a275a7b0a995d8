import { newId } from '../../core/ids.js';
import type { EventRepository, OutboxEvent } from '../../core/ports.js';
import { TenantRepository } from './tenant-repository.js';

export class SqlEventRepository extends TenantRepository implements EventRepository {
  async append(e: OutboxEvent, options: { subscriptionId?: string } = {}) {
    await this.c.query(
      'INSERT INTO events (tenant_id, id, type, data, created_at) VALUES ($1, $2, $3, $4, $5)',
      [this.tenantId, e.id, e.type, JSON.stringify(e.data), e.createdAt],
    );
    // One delivery per matching enabled subscription, in this same transaction. The ids are made
    // here (UUIDv7, like every other) and handed over as an array, one per subscription matched.
    const targets = await this.c.query<{ id: string }>(
      `SELECT id FROM webhook_subscriptions
        WHERE tenant_id = $1 AND disabled_at IS NULL
          AND ($2::uuid IS NULL AND (events IS NULL OR $3 = ANY (events)) OR id = $2::uuid)
        ORDER BY id`,
      [this.tenantId, options.subscriptionId ?? null, e.type],
    );
    if (targets.length === 0) return 0;
    await this.c.query(
      `INSERT INTO webhook_deliveries (tenant_id, id, subscription_id, event_id, next_attempt_at, created_at)
       SELECT $1, d, s, $2, $3, $3 FROM unnest($4::uuid[], $5::uuid[]) AS t (d, s)`,
      [this.tenantId, e.id, e.createdAt, targets.map(() => newId()), targets.map((t) => String(t.id))],
    );
    return targets.length;
  }

  async find(id: string) {
    const [r] = await this.c.query(
      'SELECT id, type, data, created_at FROM events WHERE tenant_id = $1 AND id = $2',
      [this.tenantId, id],
    );
    if (!r) return null;
    return {
      id: String(r.id),
      type: r.type as OutboxEvent['type'],
      data: r.data as Record<string, unknown>,
      createdAt: r.created_at as Date,
    };
  }
}
