/**
 * The `webhook` rotator: for a secret only its owner knows how to change (an API key of a SaaS),
 * the four steps are delegated to an HTTPS endpoint the tenant runs, as AWS Secrets Manager
 * delegates them to a Lambda function. Each step is one signed JSON POST; the protocol is in
 * docs/rotation.md, "The webhook rotator protocol".
 *
 * Requests are signed with Standard Webhooks (`webhook-signer.ts`) using a secret the registry
 * holds for the credential, never one in the settings: whoever can sign a `create` gets a new
 * secret back, so the signing secret is worth as much as the credential itself, and settings are
 * shown to every reader. It is reached through `signingSecrets`, so the core decides where it
 * lives: sealed under a key of its own, shown once, as a webhook subscription's is (see
 * `core/rotation-signing-secrets.ts`).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type Clock, systemClock } from '../core/ports.js';
import { type RotationContext, RotationError, type Rotator } from '../core/rotator.js';
import { CREDENTIAL_TYPES, type CredentialType } from '../core/types.js';
import type { SafeResponse } from '../events/safe-http.js';
import { checkUrl, MAX_URL_LENGTH } from '../events/url-policy.js';
import { signWebhook } from '../events/webhook-signer.js';
import { type HttpTarget, isTransientStatus, jsonBody, requestTarget } from './http-target.js';

/** The steps, in the order the core runs them. */
export const WEBHOOK_STEPS = ['create', 'set', 'test', 'finish'] as const;
export type WebhookStep = (typeof WEBHOOK_STEPS)[number];

/**
 * The JSON body of every request. `current` is the value being replaced, `pending` the one
 * `create` returned; a step gets only what it needs (`test` proves `pending` alone).
 */
export interface WebhookRotationRequest {
  step: WebhookStep;
  credentialId: string;
  credentialType: CredentialType;
  /** Sent to `create`, `set` and `finish`. */
  current?: unknown;
  /** Sent to `set`, `test` and `finish`. */
  pending?: unknown;
}

/**
 * Settings of the `webhook` rotator. The URL is shown in metadata, so it must hold no secret (the
 * endpoint knows the registry by its signature). Whether a private or plain-http URL is allowed
 * is the operator's policy, checked when the settings are saved (`checkUrl`) and again at every
 * call by the SSRF-guarded client; the schema refuses only what no policy allows.
 *
 * @example { url: 'https://rotate.example.com/credreg' }
 */
export const webhookSettings = z.strictObject({
  url: z
    .url({ protocol: /^https?$/ })
    .max(MAX_URL_LENGTH)
    .refine((url) => checkUrl(url, { allowPrivate: true }) === null, {
      message: 'must not contain a user name or password, nor name 0.0.0.0 or ::',
    })
    .describe('https URL of the tenant endpoint that performs the steps; no secret in it'),
});

export type WebhookSettings = z.infer<typeof webhookSettings>;

/** What the rotator needs. */
export interface WebhookRotatorOptions {
  /** The SSRF-guarded client. */
  http: HttpTarget;
  /**
   * The active `whsec_…` secrets the requests for this credential are signed with: one, or two
   * while the signing secret itself is being replaced (each request then carries both signatures).
   */
  signingSecrets(credential: { tenantId: string; credentialId: string }): Promise<readonly string[]>;
  /** The signing time. (Default: the system clock) */
  clock?: Clock;
}

const LABEL = 'rotation endpoint';
/** The most of an endpoint's error message kept, in characters. */
export const MAX_ENDPOINT_MESSAGE = 120;
// A code is a word like `quota_exceeded`: lower case, so a key echoed as a code rarely fits.
const ERROR_CODE = /^[a-z][a-z0-9_]{0,47}$/;
// A run this long without a space is a token, a key or a URL far more often than a word.
const TOKEN_LIKE = /\S{16,}/gu;
const UNPRINTABLE = /[\p{C}\s]+/gu;

/** Every string in `value` (a string, or the fields of an object value), for redaction. */
function stringsOf(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value !== null && typeof value === 'object')
    for (const v of Object.values(value)) stringsOf(v, out);
  return out;
}

/**
 * An endpoint's error message cut to something safe to keep: the values under rotation taken out,
 * anything token-like taken out, unprintable characters folded, at most `MAX_ENDPOINT_MESSAGE`
 * characters. It still cannot know every secret of the endpoint's; the protocol asks for none.
 */
export function sanitizedMessage(text: string, secrets: readonly string[]): string {
  const known = [...new Set(secrets.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  let out = known.reduce((t, s) => t.split(s).join(' [redacted] '), text);
  out = out.replace(UNPRINTABLE, ' ').replace(TOKEN_LIKE, '[redacted]').trim();
  const chars = Array.from(out);
  return chars.length > MAX_ENDPOINT_MESSAGE ? `${chars.slice(0, MAX_ENDPOINT_MESSAGE - 1).join('')}…` : out;
}

/** `, code: message` from an error body `{ error: { code, message } }`, or nothing. */
function endpointDetail(res: SafeResponse, secrets: readonly string[]): string {
  const error = (jsonBody(res) as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (error === null || typeof error !== 'object') return '';
  const code =
    typeof error.code === 'string' &&
    ERROR_CODE.test(error.code) &&
    !secrets.some((s) => s.length >= 4 && (error.code as string).includes(s))
      ? error.code
      : undefined;
  const message = typeof error.message === 'string' ? sanitizedMessage(error.message, secrets) : '';
  if (code && message) return `, ${code}: ${message}`;
  return code ? `, ${code}` : message ? `, ${message}` : '';
}

function failure(step: WebhookStep, res: SafeResponse, secrets: readonly string[]): RotationError {
  const shown = `HTTP ${res.status}${endpointDetail(res, secrets)}`;
  if (isTransientStatus(res.status)) {
    return new RotationError('TARGET_UNREACHABLE', `${LABEL}: ${step} failed (${shown}); try again later`, {
      retryable: true,
    });
  }
  if (step === 'test' && res.status === 422) {
    return new RotationError('TEST_FAILED', `${LABEL}: the pending value does not work (${shown})`, {
      retryable: true,
    });
  }
  return new RotationError('TARGET_REFUSED', `${LABEL}: ${step} was refused (${shown})`, {
    retryable: false,
  });
}

/**
 * Rotates any credential type through the tenant's endpoint: `create` answers `{ "value": … }`
 * with the new value (which the core validates against the credential type before storing it),
 * `set` puts it into effect, `test` proves it works, `finish` retires the old one.
 *
 * Each request is a new Standard Webhooks message (a fresh `webhook-id`), since the core runs a
 * step again as a new call; an endpoint recognises a repeat by its body, and must treat one as
 * success. Errors: 5xx, 408, 429 and network failures are `TARGET_UNREACHABLE`, retryable; a 422
 * to `test` is `TEST_FAILED`, retryable; any other status is `TARGET_REFUSED`, not retryable; a
 * URL the SSRF policy refuses is `URL_REFUSED`. The endpoint's error code is kept and its message
 * only after `sanitizedMessage`.
 *
 * @example
 * const rotator = webhookRotator({ http, signingSecrets: ({ tenantId, credentialId }) => store.secretsOf(tenantId, credentialId) });
 * const pending = await rotator.create(ctx); // POST { step: 'create', … } → { value: 'sk_live_…' }
 */
export function webhookRotator(options: WebhookRotatorOptions): Rotator<WebhookSettings> {
  const clock = options.clock ?? systemClock;

  const call = async (
    ctx: RotationContext<WebhookSettings>,
    step: WebhookStep,
    values: Pick<WebhookRotationRequest, 'current' | 'pending'>,
  ): Promise<SafeResponse> => {
    const request: WebhookRotationRequest = {
      step,
      credentialId: ctx.credentialId,
      credentialType: ctx.credentialType,
      ...values,
    };
    const payload = JSON.stringify(request);
    const secrets = await options.signingSecrets({ tenantId: ctx.tenantId, credentialId: ctx.credentialId });
    /* Precondition: the credential has a signing secret. */
    if (secrets.length === 0) {
      throw new RotationError(
        'INVALID_VALUE',
        'the webhook rotator of this credential has no signing secret',
        {
          retryable: false,
        },
      );
    }
    let signature: ReturnType<typeof signWebhook>;
    try {
      signature = signWebhook({ id: `rot_${randomUUID()}`, timestamp: clock.now(), payload, secrets });
    } catch (err) {
      // signWebhook names which secret is malformed and how, never the secret.
      throw new RotationError(
        'INVALID_VALUE',
        `the signing secret is not usable: ${(err as Error).message}`,
        {
          retryable: false,
        },
      );
    }
    const res = await requestTarget(
      options.http,
      ctx.settings.url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...signature },
        body: payload,
        signal: ctx.signal,
        // Past `create`, a 2xx answer's body is not read; a chatty endpoint should not fail for it.
        truncateBody: step !== 'create',
      },
      LABEL,
    );
    if (res.status >= 200 && res.status <= 299) return res;
    throw failure(step, res, [...stringsOf(ctx.current), ...stringsOf(values.pending)]);
  };

  const withPending = (pending: unknown): unknown => {
    /* Precondition: set, test and finish are given the pending value. */
    if (pending === undefined || pending === null) {
      throw new RotationError('INVALID_VALUE', 'there is no pending value to send', { retryable: false });
    }
    return pending;
  };

  return {
    type: 'webhook',
    // The endpoint makes the value, so any type can be rotated; the core checks the value's shape.
    credentialTypes: CREDENTIAL_TYPES,
    settings: webhookSettings,
    // The registry makes, keeps and shows once the secret `signingSecrets` answers.
    signsRequests: true,
    sendsValues: true,
    async create(ctx) {
      const res = await call(ctx, 'create', { current: ctx.current });
      const value = (jsonBody(res) as { value?: unknown } | undefined)?.value;
      /* Precondition: the endpoint answers create with a value. */
      if (value === undefined || value === null) {
        throw new RotationError(
          'INVALID_RESPONSE',
          `${LABEL}: create answered ${res.status} without a "value"`,
          { retryable: false },
        );
      }
      return value;
    },
    async set(ctx, pending) {
      await call(ctx, 'set', { current: ctx.current, pending: withPending(pending) });
    },
    async test(ctx, pending) {
      await call(ctx, 'test', { pending: withPending(pending) });
    },
    async finish(ctx, pending) {
      await call(ctx, 'finish', { current: ctx.current, pending: withPending(pending) });
    },
  };
}
