import type { WrappedKey } from '../ports.js';

/** A subscription as listed: never its secret, which is shown once, at creation. */
export interface WebhookSubscription {
  id: string;
  tenantId: string;
  url: string;
  /** The event types it receives; null for every type. */
  events: string[] | null;
  /** Deliveries given up in a row since the last one that arrived. */
  consecutiveFailures: number;
  /** Set once it was disabled (after too many failed deliveries in a row); nothing is sent to it then. */
  disabledAt: Date | null;
  createdBy: string;
  createdAt: Date;
}

/**
 * A subscription with what signing needs: its own key, wrapped by the root key as a vault key is
 * (the key context names the subscription's id where a vault key's names the vault), and the
 * secret sealed under that key.
 */
export interface SealedWebhookSubscription extends WebhookSubscription {
  wrappedKey: WrappedKey;
  secretCiphertext: Uint8Array;
}

export interface WebhookSubscriptionInsert {
  id: string;
  url: string;
  events: string[] | null;
  wrappedKey: WrappedKey;
  secretCiphertext: Uint8Array;
  createdBy: string;
}

/** The tenant's webhook subscriptions (`webhook_subscriptions`). */
export interface WebhookSubscriptionRepository {
  insert(s: WebhookSubscriptionInsert): Promise<WebhookSubscription>;
  find(id: string): Promise<SealedWebhookSubscription | null>;
  /** By id (creation order), after the one given: a keyset page. */
  list(limit: number, afterId?: string): Promise<WebhookSubscription[]>;
  /** Deletes it with its deliveries, its key and its secret. */
  delete(id: string): Promise<boolean>;
  /** Every subscription's id and wrapped key, by id after the one given: for a root rotation. */
  listKeys(limit: number, afterId?: string): Promise<Array<{ id: string; wrappedKey: WrappedKey }>>;
  /** Replaces a subscription key's wrapping if it is still the one read (compare-and-set). */
  replaceWrapping(id: string, from: WrappedKey, to: WrappedKey): Promise<boolean>;
  /** A delivery arrived: the run of failures ends. */
  resetFailures(id: string): Promise<void>;
  /**
   * A delivery was given up: counts it, and disables the subscription (at `now`) once `disableAfter`
   * were given up in a row. Answers whether this call disabled it.
   */
  recordFailure(id: string, now: Date, disableAfter: number): Promise<boolean>;
  /** Enabled again, its run of failures reset; null when there is no such subscription. */
  enable(id: string): Promise<WebhookSubscription | null>;
}
