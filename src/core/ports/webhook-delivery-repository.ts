/** Where one delivery stands. */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One event's delivery to one subscription, as listed. */
export interface WebhookDelivery {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  /** The receiver's last HTTP status, when it answered. */
  lastStatus: number | null;
  /** Why the last attempt failed: a stable code and a short message, never the receiver's body. */
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/** The outcome of one attempt, to record. */
export type AttemptRecord =
  | { kind: 'delivered'; at: Date; status: number }
  | { kind: 'retry'; nextAttemptAt: Date; status: number | null; error: string }
  | { kind: 'failed'; status: number | null; error: string };

/** The tenant's deliveries (`webhook_deliveries`); they are enqueued by `EventRepository.append`. */
export interface WebhookDeliveryRepository {
  find(id: string): Promise<WebhookDelivery | null>;
  /** A subscription's deliveries, newest first, older than the id given: a keyset page. */
  list(subscriptionId: string, limit: number, beforeId?: string): Promise<WebhookDelivery[]>;
  /**
   * Records attempt number `attempt` if the delivery is still pending with `attempt - 1` attempts
   * made (compare-and-set: a worker whose lease lapsed cannot record over another's). Answers
   * whether it did.
   */
  recordAttempt(id: string, attempt: number, outcome: AttemptRecord): Promise<boolean>;
}
