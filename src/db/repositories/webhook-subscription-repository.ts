import type {
  SealedWebhookSubscription,
  WebhookSubscription,
  WebhookSubscriptionInsert,
  WebhookSubscriptionRepository,
  WrappedKey,
} from '../../core/ports.js';
import { bytes } from '../rows.js';
import {
  listOwnKeys,
  OWN_KEY_COLUMNS,
  ownKeyParams,
  replaceOwnKeyWrapping,
  wrappedKeyOf,
} from './own-key-columns.js';
import { TenantRepository } from './tenant-repository.js';

const COLUMNS = 'tenant_id, id, url, events, consecutive_failures, disabled_at, created_by, created_at';

type Row = Record<string, unknown>;

const toSubscription = (r: Row): WebhookSubscription => ({
  id: String(r.id),
  tenantId: String(r.tenant_id),
  url: String(r.url),
  events: r.events == null ? null : (r.events as string[]).map(String),
  consecutiveFailures: Number(r.consecutive_failures),
  disabledAt: (r.disabled_at as Date | null) ?? null,
  createdBy: String(r.created_by),
  createdAt: r.created_at as Date,
});

export class SqlWebhookSubscriptionRepository
  extends TenantRepository
  implements WebhookSubscriptionRepository
{
  async insert(s: WebhookSubscriptionInsert) {
    const [row] = await this.c.query(
      `INSERT INTO webhook_subscriptions (tenant_id, id, url, events, wrapped_key, provider, provider_key_id,
                                          secret_ciphertext, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
      [
        this.tenantId,
        s.id,
        s.url,
        s.events,
        ...ownKeyParams(s.wrappedKey),
        Buffer.from(s.secretCiphertext),
        s.createdBy,
      ],
    );
    return toSubscription(row!);
  }

  async find(id: string): Promise<SealedWebhookSubscription | null> {
    const [r] = await this.c.query(
      `SELECT ${COLUMNS}, ${OWN_KEY_COLUMNS}, secret_ciphertext
         FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2`,
      [this.tenantId, id],
    );
    if (!r) return null;
    return {
      ...toSubscription(r),
      wrappedKey: wrappedKeyOf(r),
      secretCiphertext: bytes(r.secret_ciphertext)!,
    };
  }

  async list(limit: number, afterId?: string) {
    const rows = await this.c.query(
      `SELECT ${COLUMNS} FROM webhook_subscriptions WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid)
        ORDER BY id LIMIT $3`,
      [this.tenantId, afterId ?? null, limit],
    );
    return rows.map(toSubscription);
  }

  async delete(id: string) {
    const rows = await this.c.query(
      'DELETE FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2 RETURNING id',
      [this.tenantId, id],
    );
    return rows.length > 0;
  }

  listKeys(limit: number, afterId?: string) {
    return listOwnKeys(this.c, 'webhook_subscriptions', this.tenantId, limit, afterId);
  }

  replaceWrapping(id: string, from: WrappedKey, to: WrappedKey) {
    return replaceOwnKeyWrapping(this.c, 'webhook_subscriptions', this.tenantId, id, from, to);
  }

  async enable(id: string) {
    const [row] = await this.c.query(
      `UPDATE webhook_subscriptions SET disabled_at = NULL, consecutive_failures = 0
        WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [this.tenantId, id],
    );
    return row ? toSubscription(row) : null;
  }

  async resetFailures(id: string) {
    await this.c.query(
      `UPDATE webhook_subscriptions SET consecutive_failures = 0
        WHERE tenant_id = $1 AND id = $2 AND consecutive_failures <> 0`,
      [this.tenantId, id],
    );
  }

  async recordFailure(id: string, now: Date, disableAfter: number) {
    const [r] = await this.c.query<{ disabled_now: boolean }>(
      `UPDATE webhook_subscriptions SET consecutive_failures = consecutive_failures + 1,
              disabled_at = CASE WHEN disabled_at IS NULL AND consecutive_failures + 1 >= $4 THEN $3 ELSE disabled_at END
        WHERE tenant_id = $1 AND id = $2
        RETURNING disabled_at IS NOT DISTINCT FROM $3::timestamptz AS disabled_now`,
      [this.tenantId, id, now, disableAfter],
    );
    return r?.disabled_now === true;
  }
}
