/**
 * One delivery attempt of one message to one receiver: a signed JSON POST through the
 * SSRF-guarded client. What is due, and what to do after a failure (see `retry-schedule.ts`),
 * is the caller's business; this only reports what happened.
 */
import { type Clock, systemClock } from '../core/ports.js';
import { type SafeHttpClient, SafeHttpError, type SafeHttpErrorCode } from './safe-http.js';
import { signWebhook } from './webhook-signer.js';

/** Where a tenant's messages go. */
export interface WebhookSubscription {
  /** Checked with `checkUrl` when saved, and again at every attempt. */
  readonly url: string;
  /** The active `whsec_…` secrets: one, or two while a rotation is under way. */
  readonly secrets: readonly string[];
}

/** One event, the same on every attempt. */
export interface WebhookMessage {
  /** Sent as `webhook-id`: receivers drop a second attempt of the same message by it. */
  readonly id: string;
  /** Full-stop separated, e.g. `credential.rotated`. */
  readonly type: string;
  /** When the event happened (the payload's `timestamp`; the signature carries the attempt's time). */
  readonly timestamp: Date;
  /** The event's data: ids and metadata, never a secret value. */
  readonly data: unknown;
}

/** `HTTP_STATUS`: the receiver answered, with neither a 2xx nor a 3xx. */
export type DeliveryErrorCode = SafeHttpErrorCode | 'HTTP_STATUS';

/** What one attempt came to. Holds nothing the receiver sent but its status. */
export interface DeliveryResult {
  /** The receiver answered 2xx. */
  ok: boolean;
  /** The receiver's status, when it answered. */
  status?: number;
  /** Why it is not `ok`: a stable code and a short message, safe to store and show. */
  error?: { code: DeliveryErrorCode; message: string };
  /** From sending the request to the end of the answer (or the failure). */
  durationMs: number;
}

/** What the sender needs. */
export interface WebhookSenderOptions {
  /** The slice of `SafeHttpClient` used. */
  http: Pick<SafeHttpClient, 'request'>;
  /** The signing time. (Default: the system clock) */
  clock?: Clock;
}

/**
 * Sends Standard Webhooks messages: body `{"type", "timestamp", "data"}`, headers `webhook-id`,
 * `webhook-timestamp` and `webhook-signature`.
 *
 * @example
 * ```ts
 * const sender = new WebhookSender({ http: new SafeHttpClient({ allowPrivate }) });
 * const result = await sender.deliver(subscription, message, { signal });
 * if (!result.ok) schedule(nextAttemptAt({ attempts, firstAttemptAt, now }));
 * ```
 */
export class WebhookSender {
  private readonly http: Pick<SafeHttpClient, 'request'>;
  private readonly clock: Clock;

  constructor(options: WebhookSenderOptions) {
    this.http = options.http;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Makes one attempt. Whatever the receiver does (refuses, times out, answers 500, disappears)
   * becomes a result, never an exception; it throws only for the caller's own mistakes: no
   * secret, a malformed secret or message id, data that cannot be turned into JSON.
   */
  async deliver(
    subscription: WebhookSubscription,
    message: WebhookMessage,
    options: { signal?: AbortSignal } = {},
  ): Promise<DeliveryResult> {
    const payload = JSON.stringify({
      type: message.type,
      timestamp: message.timestamp.toISOString(),
      data: message.data,
    });
    const signature = signWebhook({
      id: message.id,
      timestamp: this.clock.now(),
      payload,
      secrets: subscription.secrets,
    });
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const res = await this.http.request(subscription.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signature },
        body: payload,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        // Only the status matters here; a chatty receiver should not fail its own delivery.
        truncateBody: true,
      });
      if (res.status >= 200 && res.status < 300)
        return { ok: true, status: res.status, durationMs: elapsed() };
      return {
        ok: false,
        status: res.status,
        error: { code: 'HTTP_STATUS', message: `The receiver answered ${res.status}.` },
        durationMs: elapsed(),
      };
    } catch (err) {
      if (!(err instanceof SafeHttpError)) throw err;
      return {
        ok: false,
        ...(err.status === undefined ? {} : { status: err.status }),
        error: { code: err.code, message: err.message },
        durationMs: elapsed(),
      };
    }
  }
}
