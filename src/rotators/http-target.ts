/**
 * What the rotators that reach their target over HTTP (`oauth2_refresh`, `webhook`) share: one call
 * through the SSRF-guarded client, with every way it can fail to produce a response turned into a
 * `RotationError`. The URL is tenant input, so it goes through `SafeHttpClient` like a webhook's;
 * `SafeHttpError` messages are written to be shown and never quote the URL, a body or a header.
 */
import { RotationError } from '../core/rotator.js';
import {
  type SafeHttpClient,
  SafeHttpError,
  type SafeHttpErrorCode,
  type SafeRequest,
  type SafeResponse,
} from '../events/safe-http.js';

/** The slice of `SafeHttpClient` a rotator uses. */
export type HttpTarget = Pick<SafeHttpClient, 'request'>;

const FAILURES: Record<SafeHttpErrorCode, { code: string; retryable: boolean }> = {
  // The registry's own policy refuses the URL: trying again changes nothing, the URL (or the
  // operator's CREDREG_ALLOW_PRIVATE_URLS) must change.
  URL_REFUSED: { code: 'URL_REFUSED', retryable: false },
  ADDRESS_REFUSED: { code: 'URL_REFUSED', retryable: false },
  TIMEOUT: { code: 'TARGET_UNREACHABLE', retryable: true },
  UNREACHABLE: { code: 'TARGET_UNREACHABLE', retryable: true },
  // The step's deadline: a later attempt may find the target answering.
  ABORTED: { code: 'TARGET_UNREACHABLE', retryable: true },
  TOO_LARGE: { code: 'INVALID_RESPONSE', retryable: false },
  // A redirect is never followed; one that comes back would come back on every attempt.
  REDIRECT: { code: 'TARGET_REFUSED', retryable: false },
};

/**
 * Sends one request to a target; a call that produced no response rejects with a `RotationError`
 * (`label` first in its message), whatever the status is resolves for the caller to judge.
 *
 * @example
 * const res = await requestTarget(http, tokenUrl, { body, headers, signal: ctx.signal }, 'OAuth 2.0 token endpoint');
 */
export async function requestTarget(
  http: HttpTarget,
  url: string,
  init: SafeRequest,
  label: string,
): Promise<SafeResponse> {
  try {
    return await http.request(url, init);
  } catch (err) {
    if (err instanceof SafeHttpError) {
      const { code, retryable } = FAILURES[err.code];
      throw new RotationError(code, `${label}: ${err.message}`, { retryable, cause: err });
    }
    // Not the client's contract (it rejects with SafeHttpError only); the error itself is left
    // out, since nothing vouches for what it holds.
    throw new RotationError('TARGET_ERROR', `${label}: the HTTP call failed unexpectedly`, {
      retryable: false,
    });
  }
}

/** `res.body` as JSON, or `undefined` when it is not JSON (an HTML error page, a cut body). */
export function jsonBody(res: SafeResponse): unknown {
  if (res.truncated) return undefined;
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Whether `status` says "not now" (overloaded, rate limited, down) rather than "no". */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
