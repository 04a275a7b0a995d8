/**
 * The `oauth2_refresh` rotator: a new access token for an `oauth2_token` credential from its OAuth
 * 2.0 token endpoint, by the refresh_token grant (RFC 6749 §6), authenticated as the client whose
 * `oauth2_client` credential the settings name.
 *
 * Unlike the other rotators, `create` is where the target changes. A server that rotates refresh
 * tokens (OAuth 2.0 Security BCP, RFC 9700 §4.14) spends the old one the moment it answers, and a
 * second use of it is taken as theft: the server refuses it and, as most do, revokes the whole
 * grant, new tokens included. So the value `create` returns is the only copy of a working refresh
 * token, and `set`, `test` and `finish` have nothing left to do at the target.
 */
import { z } from 'zod';
import { type Clock, systemClock } from '../core/ports.js';
import { type RotationContext, RotationError, type Rotator } from '../core/rotator.js';
import type { SafeResponse } from '../events/safe-http.js';
import { type HttpTarget, isTransientStatus, jsonBody, requestTarget } from './http-target.js';

/** The value of an `oauth2_token` credential. */
export interface OAuth2Token {
  access_token: string;
  refresh_token?: string;
  /** ISO 8601, when the access token stops working. */
  expires_at?: string;
}

/** How long before `expires_at` a token is due when nothing else is known. (5 minutes) */
export const DEFAULT_LEAD_SECONDS = 300;
/** The largest share of a token's lifetime the default lead takes, when its issue time is known. */
export const DEFAULT_LEAD_SHARE = 0.2;

/**
 * Settings of the `oauth2_refresh` rotator.
 *
 * @example { clientCredential: '6f1c…', leadSeconds: 600 }
 */
export const oauth2RefreshSettings = z.strictObject({
  clientCredential: z
    .uuid()
    .describe('id of an oauth2_client credential (same tenant) with client_id, client_secret and token_url'),
  leadSeconds: z
    .number()
    .int()
    .min(0)
    .max(86_400)
    .optional()
    .describe(
      'refresh this many seconds before expires_at (Default: 5 minutes, or 20% of the lifetime if shorter)',
    ),
});

export type OAuth2RefreshSettings = z.infer<typeof oauth2RefreshSettings>;

/**
 * When a token should be refreshed: `expires_at` minus a lead, or `null` when it has no
 * `expires_at` (nothing says it will stop working; its rotation schedule alone decides).
 *
 * The default lead is 5 minutes, or 20% of the token's lifetime when that is shorter, so a token
 * that lives 60 s is refreshed 12 s before it expires rather than at once, over and over. The
 * lifetime needs the time the token was issued, which the value does not hold: pass `issuedAt`
 * (the creation time of the credential version that holds it, which the registry has anyway).
 * Without it the lead is 5 minutes. An explicit `leadSeconds` is used as it is.
 *
 * @example
 * refreshDueAt({ access_token, expires_at: '2030-01-01T01:00:00Z' }); // 2030-01-01T00:55:00Z
 * refreshDueAt(value, { issuedAt: new Date('2030-01-01T00:59:00Z') }); // 2030-01-01T00:59:48Z
 */
export function refreshDueAt(
  value: Pick<OAuth2Token, 'expires_at'>,
  options: { leadSeconds?: number; issuedAt?: Date } = {},
): Date | null {
  if (value.expires_at === undefined) return null;
  const expiresAt = Date.parse(value.expires_at);
  /* Precondition: expires_at is a date. */
  if (Number.isNaN(expiresAt)) throw new TypeError('expires_at must be an ISO 8601 date-time');
  /* Precondition: leadSeconds is a finite, non-negative number. */
  if (
    options.leadSeconds !== undefined &&
    !(Number.isFinite(options.leadSeconds) && options.leadSeconds >= 0)
  ) {
    throw new RangeError('leadSeconds must be a finite, non-negative number');
  }
  let leadMs = (options.leadSeconds ?? DEFAULT_LEAD_SECONDS) * 1000;
  if (options.leadSeconds === undefined && options.issuedAt !== undefined) {
    const lifetimeMs = Math.max(0, expiresAt - options.issuedAt.getTime());
    leadMs = Math.min(leadMs, lifetimeMs * DEFAULT_LEAD_SHARE);
  }
  return new Date(expiresAt - leadMs);
}

/** What the rotator needs. */
export interface OAuth2RefreshOptions {
  /** The SSRF-guarded client: a token URL is tenant input like any webhook URL. */
  http: HttpTarget;
  /** The time `expires_in` counts from. (Default: the system clock) */
  clock?: Clock;
}

const LABEL = 'OAuth 2.0 token endpoint';
// Only the registered codes are shown: a server may put anything in `error`, even the token it
// was sent (RFC 6749 §5.2 and §4.1.2.1, RFC 8707, RFC 9449).
const KNOWN_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'access_denied',
  'server_error',
  'temporarily_unavailable',
]);
// A longer expires_in is nonsense, and a date past year 275760 would make toISOString throw.
const MAX_EXPIRES_IN = 10 * 365 * 86_400;

/** The client credential, as far as a refresh needs it. */
interface OAuth2Client {
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
}

const invalid = (message: string) => new RotationError('INVALID_VALUE', message, { retryable: false });
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

async function clientOf(ctx: RotationContext<OAuth2RefreshSettings>): Promise<OAuth2Client> {
  const client = await ctx.related(ctx.settings.clientCredential);
  /* Precondition: the client credential is an oauth2_client with client_id, client_secret and token_url. */
  if (client.type !== 'oauth2_client') throw invalid('the client credential must be an oauth2_client');
  const v = (client.value ?? {}) as Record<string, unknown>;
  if (!nonEmpty(v.client_id) || !nonEmpty(v.client_secret)) {
    throw invalid('the oauth2_client credential must have a client_id and a client_secret');
  }
  if (!nonEmpty(v.token_url)) {
    throw invalid('the oauth2_client credential has no token_url, which a refresh needs');
  }
  return { clientId: v.client_id, clientSecret: v.client_secret, tokenUrl: v.token_url };
}

function refreshTokenOf(current: unknown): string {
  const token = (current as Partial<OAuth2Token> | null)?.refresh_token;
  /* Precondition: the current value has a refresh_token. */
  if (!nonEmpty(token)) {
    throw new RotationError(
      'INVALID_GRANT',
      'the current token has no refresh_token, so it cannot be refreshed: the user must authorize again',
      { retryable: false },
    );
  }
  return token;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
function basicAuthorization(client: OAuth2Client): string {
  const encode = (s: string) => new URLSearchParams({ s }).toString().slice('s='.length);
  return `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString('base64')}`;
}

/** What a refused refresh means; a registered `error` code is kept, `error_description` never. */
function refusal(res: SafeResponse): RotationError {
  const error = (jsonBody(res) as { error?: unknown } | undefined)?.error;
  const code = typeof error === 'string' && KNOWN_ERRORS.has(error) ? error : undefined;
  const shown = `HTTP ${res.status}${code ? `, ${code}` : ''}`;
  if (isTransientStatus(res.status) || code === 'temporarily_unavailable' || code === 'server_error') {
    return new RotationError('TARGET_UNREACHABLE', `${LABEL}: no token now (${shown}); try again later`, {
      retryable: true,
    });
  }
  if (code === 'invalid_grant') {
    return new RotationError(
      'INVALID_GRANT',
      `${LABEL}: the refresh token was refused (${shown}): it was revoked, expired or already used; the user must authorize again`,
      { retryable: false },
    );
  }
  if (code === 'invalid_client' || res.status === 401) {
    return new RotationError(
      'TARGET_REFUSED',
      `${LABEL}: client authentication failed (${shown}); check the client_id and client_secret of the oauth2_client credential`,
      { retryable: false },
    );
  }
  return new RotationError('TARGET_REFUSED', `${LABEL}: the refresh was refused (${shown})`, {
    retryable: false,
  });
}

/** The new value from a 2xx answer (RFC 6749 §5.1); anything the value type has no field for is dropped. */
function refreshed(res: SafeResponse, oldRefreshToken: string, sentAt: Date): OAuth2Token {
  const body = jsonBody(res) as Record<string, unknown> | undefined;
  /* Precondition: a successful answer holds an access_token. */
  if (!nonEmpty(body?.access_token)) {
    throw new RotationError(
      'INVALID_RESPONSE',
      `${LABEL}: answered ${res.status} without an access_token; the refresh token may already be spent`,
      { retryable: false },
    );
  }
  const value: OAuth2Token = {
    access_token: body.access_token,
    // §6: a server that issues a new refresh token has discarded the old one; one that does not
    // keeps the old one valid.
    refresh_token: nonEmpty(body.refresh_token) ? body.refresh_token : oldRefreshToken,
  };
  const expiresIn = Number(body.expires_in);
  // Counted from when the request left, so the stored expiry is never later than the server's.
  if (body.expires_in !== undefined && expiresIn > 0 && expiresIn <= MAX_EXPIRES_IN) {
    value.expires_at = new Date(sentAt.getTime() + expiresIn * 1000).toISOString();
  }
  return value;
}

/**
 * Refreshes `oauth2_token` credentials at the token endpoint of their `oauth2_client`, with HTTP
 * Basic client authentication (`client_secret_basic`) and no `scope`, so the server grants what
 * it granted before (RFC 6749 §6; the client's `scopes` are for new authorizations).
 *
 * **`create` changes the target**: the server may have spent the old refresh token by the time
 * it answers, so the core must store what `create` returns, as the pending version, before it
 * does anything else, and must never call `create` twice for one rotation: a second refresh with
 * the old token is refused with `INVALID_GRANT` and, at most servers, revokes the new tokens too.
 * A `TARGET_UNREACHABLE` after the request was sent (a timeout, a 5xx) leaves it unknown whether
 * the old token was spent; trying again is the only way to find out. `set`, `test` and `finish`
 * do nothing: the token endpoint has just vouched for the new access token.
 *
 * Errors: `INVALID_GRANT` (revoked, expired or reused refresh token; the user must authorize
 * again), `TARGET_REFUSED` (client authentication failed, or another refusal), `URL_REFUSED` (the
 * SSRF policy), `INVALID_VALUE` (the credentials are not what a refresh needs), all not retryable;
 * `TARGET_UNREACHABLE` (network, timeout, 5xx, 429), retryable. No message holds a token or secret.
 *
 * @example
 * const rotator = oauth2RefreshRotator({ http: new SafeHttpClient({ allowPrivate }) });
 * const pending = await rotator.create(ctx); // { access_token, refresh_token, expires_at }
 * // store `pending` at once: the old refresh token may no longer work
 */
export function oauth2RefreshRotator(options: OAuth2RefreshOptions): Rotator<OAuth2RefreshSettings> {
  const clock = options.clock ?? systemClock;
  return {
    type: 'oauth2_refresh',
    credentialTypes: ['oauth2_token'],
    settings: oauth2RefreshSettings,
    // Ahead of expires_at, by the lead; a value without one is due by its schedule alone.
    dueAt(value, settings, issuedAt) {
      const expiresAt = (value as Partial<OAuth2Token> | null)?.expires_at;
      if (typeof expiresAt !== 'string' || Number.isNaN(Date.parse(expiresAt))) return null;
      return refreshDueAt(
        { expires_at: expiresAt },
        { issuedAt, ...(settings.leadSeconds !== undefined ? { leadSeconds: settings.leadSeconds } : {}) },
      );
    },
    refreshesOnReveal: true,
    // The refresh token goes to the client credential's token_url.
    sendsValues: true,
    async create(ctx) {
      const refreshToken = refreshTokenOf(ctx.current);
      const client = await clientOf(ctx);
      const sentAt = clock.now();
      const res = await requestTarget(
        options.http,
        client.tokenUrl,
        {
          method: 'POST',
          headers: {
            authorization: basicAuthorization(client),
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
          signal: ctx.signal,
        },
        LABEL,
      );
      if (res.status < 200 || res.status > 299) throw refusal(res);
      return refreshed(res, refreshToken, sentAt);
    },
    // The refresh itself put the new token into effect and proved it: nothing is left to do.
    async set() {},
    async test() {},
    async finish() {},
  };
}
