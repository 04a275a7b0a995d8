/**
 * Webhook subscriptions of one tenant: subscribe, list, unsubscribe, its deliveries, a test message.
 * Tenant admins only, and never a vault-scoped token: a subscription receives every vault's events.
 *
 * A subscription's `whsec_…` secret is shown once, when it is made, and stored only sealed: it has a
 * key of its own, made and wrapped by the root key provider as a vault key is (its key context
 * names the subscription's id in the vault's place; ids are UUIDv7s and never collide), and the
 * secret is sealed under that key with the envelope, bound to the tenant and the subscription.
 */
import { z } from 'zod';
import type { AuditSubject, Operation, Refusal, RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { EVENT_TYPES } from './events.js';
import { isUuid, newId } from './ids.js';
import { decodeIdCursor, encodeIdCursor, type PageOptions, pageOptions, toPage } from './pagination.js';
import type { ValueBinding, WebhookDelivery, WebhookGateway, WebhookSubscription } from './ports.js';
import { ownKeyContext, ownKeyRecord, sealSecret } from './sealed-secret.js';
import type { Page, RequestContext } from './types.js';
import { defineUseCase, IN_PROCESS, runUseCase, type UseCase } from './use-case.js';
import { uuid } from './validation.js';

/** The event types a subscription may ask for (a test message goes to its subscription whatever it asked). */
export const SUBSCRIBABLE_EVENTS = EVENT_TYPES.filter((t) => t !== 'webhook.test');

const createInput = z.strictObject({
  url: z.string().min(1).max(2048),
  events: z
    .array(z.enum(SUBSCRIBABLE_EVENTS as [string, ...string[]]))
    .min(1)
    .max(50)
    .optional(),
});
const byId = z.strictObject({ id: uuid });
const listInput = pageOptions.strict();
const deliveriesInput = z.strictObject({ id: uuid, ...pageOptions.shape });

const notFound = () => new RegistryError('NOT_FOUND', 'webhook subscription not found');
const named = (raw: Readonly<Record<string, unknown>>): Partial<AuditSubject> =>
  isUuid(raw.id) ? { reason: `webhook ${raw.id}` } : {};

/** The key context of a subscription's own key: its id where a vault key's names the vault. */
export const subscriptionKeyContext = ownKeyContext;

/** What a subscription's sealed secret is bound to. */
export const secretBinding = (tenantId: string, subscriptionId: string): ValueBinding => ({
  tenantId,
  vaultId: subscriptionId,
  credentialId: subscriptionId,
  version: 1,
});

function gatewayOf(deps: RegistryDeps): WebhookGateway {
  /* Precondition: the registry was given a webhook gateway. */
  if (!deps.webhooks) throw new RegistryError('UNAVAILABLE', 'webhooks are not configured on this server');
  return deps.webhooks;
}

/** A subscription made, with its secret: shown this once. */
export interface CreatedWebhook {
  subscription: WebhookSubscription;
  /** `whsec_…`: verify each message's `webhook-signature` with it (Standard Webhooks). */
  secret: string;
}

/** Subscribes a receiver URL (checked against the URL policy) to the tenant's events (Default: all). */
export const createWebhook = defineUseCase({
  action: 'webhook_create',
  capability: 'webhooks:manage',
  input: createInput,
  logs: 'every attempt',
  prepare: async (w, { deps, tenantId }) => {
    const gateway = gatewayOf(deps);
    const refused = gateway.checkUrl(w.url);
    if (refused) throw new RegistryError('VALIDATION', `url ${refused}`);
    const id = newId();
    // The provider call, outside any transaction.
    const { record } = await deps.keyRing.createVaultKey(subscriptionKeyContext(tenantId, id));
    return { id, record, gateway };
  },
  abandon: ({ id }, { deps, tenantId }) => deps.keyRing.forgetVault(tenantId, id),
  async body(op, w, { deps, tenantId, ctx, prepared: { id, record, gateway } }): Promise<CreatedWebhook> {
    op.note({ reason: `webhook ${id}` });
    const secret = gateway.generateSecret();
    const sealed = sealSecret(deps, op, record, secret, secretBinding(tenantId, id));
    const subscription = await op.tx.webhooks.insert({
      id,
      url: w.url,
      events: w.events ? [...new Set(w.events)] : null,
      wrappedKey: record.wrapped,
      secretCiphertext: sealed,
      createdBy: ctx.actor,
    });
    await op.granted();
    return { subscription, secret };
  },
});

export const listWebhooks = defineUseCase({
  action: 'read',
  capability: 'webhooks:manage',
  input: listInput,
  logs: 'refusals',
  async body(op, { limit, cursor }): Promise<Page<WebhookSubscription>> {
    return toPage(await op.tx.webhooks.list(limit + 1, decodeIdCursor(cursor)), limit, (s) =>
      encodeIdCursor(s.id),
    );
  },
});

/** One subscription, never its secret or key. */
export const getWebhook = defineUseCase({
  action: 'read',
  capability: 'webhooks:manage',
  input: byId,
  logs: 'refusals',
  names: named,
  async body(op, { id }): Promise<WebhookSubscription | Refusal> {
    const found = await op.tx.webhooks.find(id);
    if (!found) return op.refuse(notFound());
    const { wrappedKey: _key, secretCiphertext: _secret, ...subscription } = found;
    return subscription;
  },
});

/** Unsubscribes: the subscription, its pending deliveries, its key and its secret are deleted. */
export const deleteWebhook = defineUseCase({
  action: 'webhook_delete',
  capability: 'webhooks:manage',
  input: byId,
  logs: 'every attempt',
  names: named,
  async body(op, { id }): Promise<undefined | Refusal> {
    if (!(await op.tx.webhooks.delete(id))) return op.refuse(notFound());
    await op.granted();
    return undefined;
  },
  after: (_, { id }, { deps, tenantId }) => deps.keyRing.forgetVault(tenantId, id),
});

/** A subscription's deliveries, newest first. */
export const listWebhookDeliveries = defineUseCase({
  action: 'read',
  capability: 'webhooks:manage',
  input: deliveriesInput,
  logs: 'refusals',
  names: named,
  async body(op, { id, limit, cursor }): Promise<Page<WebhookDelivery> | Refusal> {
    if (!(await op.tx.webhooks.find(id))) return op.refuse(notFound());
    return toPage(await op.tx.deliveries.list(id, limit + 1, decodeIdCursor(cursor)), limit, (d) =>
      encodeIdCursor(d.id),
    );
  },
});

/** Sends a `webhook.test` event to this subscription only (whatever types it asked for). */
export const testWebhook = defineUseCase({
  action: 'webhook_test',
  capability: 'webhooks:manage',
  input: byId,
  logs: 'every attempt',
  names: named,
  async body(op: Operation, { id }): Promise<{ eventId: string } | Refusal> {
    const subscription = await op.tx.webhooks.find(id);
    if (!subscription) return op.refuse(notFound());
    if (subscription.disabledAt) {
      return op.refuse(
        new RegistryError(
          'CONFLICT',
          'the subscription is disabled; enable it again once its receiver is back',
        ),
      );
    }
    const eventId = await op.emit('webhook.test', { subscriptionId: id }, { subscriptionId: id });
    await op.granted();
    return { eventId };
  },
});

/**
 * Enables a subscription again after it was disabled (too many failed deliveries in a row), its run
 * of failures reset: it receives events from now on, not those made while it was disabled (none was
 * queued for it) nor the deliveries given up. Its URL is checked against the URL policy again, which
 * may have changed since it subscribed. Enabling an enabled subscription changes nothing.
 */
export const enableWebhook = defineUseCase({
  action: 'webhook_enable',
  capability: 'webhooks:manage',
  input: byId,
  logs: 'every attempt',
  names: named,
  async body(op, { id }, { deps }): Promise<WebhookSubscription | Refusal> {
    const subscription = await op.tx.webhooks.find(id);
    if (!subscription) return op.refuse(notFound());
    /* Precondition: the subscription's URL is one the server still allows. */
    const refused = gatewayOf(deps).checkUrl(subscription.url);
    if (refused) {
      return op.refuse(
        new RegistryError(
          'CONFLICT',
          `the subscription's url ${refused} now; delete it and subscribe a URL the server allows`,
        ),
      );
    }
    const enabled = await op.tx.webhooks.enable(id);
    if (!enabled) return op.refuse(notFound());
    await op.granted();
    return enabled;
  },
});

/** A wrapped subscription key, as the key ring unwraps it. */
export const subscriptionKeyRecord = ownKeyRecord;

/** Webhook subscriptions of one tenant, as library calls; each runs one use-case above. */
export class WebhookService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
  ) {}

  #run<S extends z.ZodType, P, O>(useCase: UseCase<S, P, O>, input: unknown, ctx: unknown): Promise<O> {
    return runUseCase(this.deps, this.tenantId, useCase, input, ctx);
  }

  /** @example const { subscription, secret } = await t.webhooks.create({ url }, { actor: 'alice' }); */
  create(input: z.input<typeof createInput>, ctx: RequestContext): Promise<CreatedWebhook> {
    return this.#run(createWebhook, input, ctx);
  }

  list(options: PageOptions = {}, ctx: RequestContext = IN_PROCESS): Promise<Page<WebhookSubscription>> {
    return this.#run(listWebhooks, options, ctx);
  }

  get(id: string, ctx: RequestContext = IN_PROCESS): Promise<WebhookSubscription> {
    return this.#run(getWebhook, { id }, ctx);
  }

  async delete(id: string, ctx: RequestContext): Promise<void> {
    await this.#run(deleteWebhook, { id }, ctx);
  }

  deliveries(
    id: string,
    options: PageOptions = {},
    ctx: RequestContext = IN_PROCESS,
  ): Promise<Page<WebhookDelivery>> {
    return this.#run(listWebhookDeliveries, { ...options, id }, ctx);
  }

  test(id: string, ctx: RequestContext): Promise<{ eventId: string }> {
    return this.#run(testWebhook, { id }, ctx);
  }

  /** @example const subscription = await t.webhooks.enable(id, { actor: 'alice' }); // after a webhook.disabled */
  enable(id: string, ctx: RequestContext): Promise<WebhookSubscription> {
    return this.#run(enableWebhook, { id }, ctx);
  }
}
