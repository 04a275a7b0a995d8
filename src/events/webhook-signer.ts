/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com), made by the reference
 * `standardwebhooks` library so receivers can verify them with any conforming library.
 *
 * A receiver's secret is `whsec_` + base64 of 32 random bytes. During a secret rotation a
 * subscription has several active secrets; a message is signed with each of them and the
 * signatures are sent space-separated in one `webhook-signature` header, so a receiver that knows
 * either the old or the new secret accepts it.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';

// The specification asks for 24 to 64 bytes of key.
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// It travels in a header and is signed as `id.timestamp.body`: printable ASCII, no spaces.
const MESSAGE_ID = /^[\x21-\x7e]{1,255}$/;

/** The three headers a signed message carries. */
export interface SignatureHeaders {
  /** The message id: the same on every attempt, so receivers can drop duplicates. */
  'webhook-id': string;
  /** When this attempt was signed, in Unix seconds; receivers refuse it 5 minutes later. */
  'webhook-timestamp': string;
  /** `v1,<base64 HMAC-SHA256>`, once per active secret, space-separated. */
  'webhook-signature': string;
}

/** What is signed. */
export interface SignInput {
  id: string;
  /** The signing time (now, at each attempt), not the event's time. */
  timestamp: Date;
  /** The exact body bytes that will be sent. */
  payload: string;
  /** The subscription's active secrets; one signature each, in this order. */
  secrets: readonly string[];
}

/**
 * A new receiver secret, `whsec_` + base64 of 32 random bytes.
 *
 * @example
 * ```ts
 * const secret = generateWebhookSecret(); // 'whsec_k3J…='
 * ```
 */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** Why `secret` is not a usable receiver secret, or `null`. Never quotes the secret. */
export function checkWebhookSecret(secret: string): string | null {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) return `must start with ${WEBHOOK_SECRET_PREFIX}`;
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (!BASE64.test(encoded)) return `must be ${WEBHOOK_SECRET_PREFIX} followed by base64`;
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    return `must encode ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes`;
  }
  return null;
}

/**
 * Signs one attempt of one message with every active secret.
 *
 * @example
 * ```ts
 * const body = JSON.stringify(payload);
 * const headers = signWebhook({ id: 'msg_2x…', timestamp: new Date(), payload: body, secrets });
 * ```
 */
export function signWebhook(input: SignInput): SignatureHeaders {
  /* Precondition: at least one secret is given. */
  if (input.secrets.length === 0) throw new TypeError('signWebhook needs at least one secret');
  /* Precondition: the message id is 1 to 255 printable ASCII characters without spaces. */
  if (!MESSAGE_ID.test(input.id)) {
    throw new TypeError('webhook message id must be 1 to 255 printable ASCII characters without spaces');
  }
  const signatures = input.secrets.map((secret, i) => {
    /* Precondition: every secret is whsec_ + base64 of 24 to 64 bytes. */
    const problem = checkWebhookSecret(secret);
    if (problem !== null) throw new TypeError(`webhook secret #${i + 1} ${problem}`);
    return new Webhook(secret).sign(input.id, input.timestamp, input.payload);
  });
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(Math.floor(input.timestamp.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}
