/**
 * The delivery worker's decisions: which deliveries are due, and what to do with each attempt's
 * outcome. Claiming is one SQL statement as the platform role (due ids across every tenant, by an
 * index, so a tick costs what is due); everything else about a delivery happens in its own tenant,
 * as the runtime role: reading the subscription and the event, recording the outcome.
 *
 * At least once: a claim holds a delivery for `leaseMs`; a worker that dies lets it come due again,
 * and a receiver may then see a message twice (it drops repeats by `webhook-id`, the event's id).
 * Recording is compare-and-set on the attempt count, so a worker whose lease lapsed cannot record
 * over another's.
 */
import { describeError, type RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { newId } from './ids.js';
import type {
  ClaimedDelivery,
  OutboxEvent,
  SealedWebhookSubscription,
  WebhookAttempt,
  WebhookDelivery,
  WebhookGateway,
} from './ports.js';
import { openSecret } from './sealed-secret.js';
import { secretBinding, subscriptionKeyRecord } from './webhook-service.js';

export interface WebhookDeliveryOptions {
  /** Deliveries claimed (and attempted at once) per tick. (Default: 20) */
  batchSize?: number;
  /**
   * How long a claim holds a delivery before another tick may take it again; longer than one
   * attempt can last (the HTTP client's total timeout). (Default: 60000 ms)
   */
  leaseMs?: number;
  /** Deliveries given up in a row after which a subscription is disabled. (Default: 5) */
  disableAfterFailures?: number;
}

/** What one tick did, by outcome. */
export interface WebhookDeliveryReport {
  claimed: number;
  delivered: number;
  /** Failed attempts that will be tried again. */
  retried: number;
  /** Deliveries given up (retries exhausted, or the subscription disabled). */
  failed: number;
  /** Subscriptions disabled by this tick. */
  disabled: number;
}

const OUTCOMES = ['delivered', 'retried', 'failed', 'disabled'] as const;
type Outcome = (typeof OUTCOMES)[number] | 'skipped';

/**
 * One tick: claims what is due and attempts each of it. Never throws for one delivery's trouble
 * (it is logged, and the delivery comes due again when its claim lapses).
 */
export async function deliverDueWebhooks(
  deps: RegistryDeps,
  options: WebhookDeliveryOptions = {},
): Promise<WebhookDeliveryReport> {
  const report: WebhookDeliveryReport = { claimed: 0, delivered: 0, retried: 0, failed: 0, disabled: 0 };
  const gateway = deps.webhooks;
  if (!gateway) return report;
  const now = deps.clock.now();
  const leaseUntil = new Date(now.getTime() + (options.leaseMs ?? 60_000));
  const claimed = await deps.store.withPlatform((tx) =>
    tx.claimDueDeliveries(now, leaseUntil, options.batchSize ?? 20),
  );
  report.claimed = claimed.length;
  const outcomes = await Promise.all(
    claimed.map((c) =>
      attempt(deps, gateway, c, options.disableAfterFailures ?? 5).catch((err: unknown) => {
        deps.logger.warn(
          { tenantId: c.tenantId, deliveryId: c.deliveryId, error: describeError(err) },
          'a webhook delivery attempt could not be made; it comes due again when its claim lapses',
        );
        return 'skipped' as const;
      }),
    ),
  );
  for (const o of outcomes.flat()) if (o !== 'skipped') report[o]++;
  return report;
}

interface Loaded {
  delivery: WebhookDelivery;
  subscription: SealedWebhookSubscription;
  event: OutboxEvent;
}

async function attempt(
  deps: RegistryDeps,
  gateway: WebhookGateway,
  claim: ClaimedDelivery,
  disableAfter: number,
): Promise<Outcome[]> {
  const { tenantId } = claim;
  const loaded = await deps.store.withTenant(tenantId, async (tx): Promise<Loaded | null> => {
    const delivery = await tx.deliveries.find(claim.deliveryId);
    if (delivery?.status !== 'pending') return null;
    const subscription = await tx.webhooks.find(delivery.subscriptionId);
    const event = await tx.events.find(delivery.eventId);
    return subscription && event ? { delivery, subscription, event } : null;
  });
  if (!loaded) return ['skipped']; // unsubscribed meanwhile (the cascade took the delivery)
  const { delivery, subscription, event } = loaded;
  const number = delivery.attempts + 1;
  if (subscription.disabledAt) {
    const error = 'SUBSCRIPTION_DISABLED: the subscription was disabled after repeated failures';
    await deps.store.withTenant(tenantId, (tx) =>
      tx.deliveries.recordAttempt(delivery.id, number, { kind: 'failed', status: null, error }),
    );
    return ['failed'];
  }
  let result: WebhookAttempt;
  try {
    const secret = await openSubscriptionSecret(deps, tenantId, subscription);
    result = await gateway.deliver(
      { url: subscription.url, secrets: [secret] },
      { id: event.id, type: event.type, timestamp: event.createdAt, data: event.data },
    );
  } catch (err) {
    // The key provider away or refusing (a retired root key): an attempt that failed like any
    // other, so the schedule bounds it instead of the claim coming due again forever.
    const code = err instanceof RegistryError ? err.code : 'INTERNAL';
    result = { ok: false, error: { code, message: 'the subscription secret could not be opened' } };
  }
  const now = deps.clock.now();
  if (result.ok) {
    await deps.store.withTenant(tenantId, async (tx) => {
      const at = { kind: 'delivered', at: now, status: result.status ?? 200 } as const;
      if (await tx.deliveries.recordAttempt(delivery.id, number, at))
        await tx.webhooks.resetFailures(subscription.id);
    });
    return ['delivered'];
  }
  const error = `${result.error?.code ?? 'FAILED'}: ${result.error?.message ?? 'the delivery failed'}`;
  const status = result.status ?? null;
  const next = gateway.nextAttemptAt({ attempts: number, firstAttemptAt: delivery.createdAt, now });
  deps.logger.warn(
    {
      tenantId,
      deliveryId: delivery.id,
      attempt: number,
      code: result.error?.code,
      status,
      retry: next !== null,
    },
    'a webhook delivery attempt failed',
  );
  if (next) {
    await deps.store.withTenant(tenantId, (tx) =>
      tx.deliveries.recordAttempt(delivery.id, number, { kind: 'retry', nextAttemptAt: next, status, error }),
    );
    return ['retried'];
  }
  return deps.store.withTenant(tenantId, async (tx): Promise<Outcome[]> => {
    if (!(await tx.deliveries.recordAttempt(delivery.id, number, { kind: 'failed', status, error })))
      return ['skipped'];
    if (!(await tx.webhooks.recordFailure(subscription.id, now, disableAfter))) return ['failed'];
    // Told to the tenant's other subscriptions: this one is disabled already and gets nothing.
    await tx.events.append({
      id: newId(),
      type: 'webhook.disabled',
      data: { tenantId, subscriptionId: subscription.id, consecutiveFailures: disableAfter },
      createdAt: now,
    });
    deps.logger.warn(
      { tenantId, subscriptionId: subscription.id },
      'a webhook subscription was disabled after repeated failed deliveries',
    );
    return ['failed', 'disabled'];
  });
}

/** The subscription's secret: its key unwrapped (a provider call on a cache miss), outside any transaction. */
const openSubscriptionSecret = (
  deps: RegistryDeps,
  tenantId: string,
  subscription: SealedWebhookSubscription,
) =>
  openSecret(
    deps,
    subscriptionKeyRecord(tenantId, subscription),
    subscription.secretCiphertext,
    secretBinding(tenantId, subscription.id),
  );
