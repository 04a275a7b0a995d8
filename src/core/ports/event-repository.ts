import type { EventType } from '../events.js';

/** An event as the outbox holds it: what happened, when, to what (ids and metadata only). */
export interface OutboxEvent {
  id: string;
  type: EventType;
  data: Record<string, unknown>;
  createdAt: Date;
}

/** The tenant's outbox (`events`): appended to in the transaction of the change it records. */
export interface EventRepository {
  /**
   * Appends one event and, in the same statement's transaction, one pending delivery (due at
   * `event.createdAt`) per enabled subscription whose filter takes its type, or to `subscriptionId`
   * alone when given (a test message). Returns how many deliveries were enqueued.
   */
  append(event: OutboxEvent, options?: { subscriptionId?: string }): Promise<number>;
  find(id: string): Promise<OutboxEvent | null>;
}
