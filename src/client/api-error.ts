/** One problem with one input field, as the server reports it: the field and the rule, never the value. */
export interface ApiIssue {
  path: string;
  problem: string;
}

/** What the server or the transport said went wrong; see {@link ApiError}. */
export interface ApiErrorInit {
  /** HTTP status; 0 when no response arrived. */
  status: number;
  /** The server's stable error code (`NOT_FOUND`, `FORBIDDEN`, …), or `UNAVAILABLE` / `BAD_RESPONSE`. */
  code: string;
  /** One sentence for people; never a secret value. */
  detail: string;
  issues?: readonly ApiIssue[];
  /** The server's request id, to quote when asking an operator to look at its logs. */
  requestId?: string | null;
  /** The server's problem document as it was sent, when the answer was one. */
  problem?: Readonly<Record<string, unknown>> | null;
  cause?: unknown;
}

/**
 * A failed call to the registry's HTTP API: an RFC 9457 problem document from the server, a
 * response that was not one, or a server that could not be reached (`status` 0, `UNAVAILABLE`).
 * The message is `"<code>: <detail>"`, plus any field issue the detail does not name, so that one
 * line tells both what and why.
 *
 * @example
 * try {
 *   await client.revealCredential(id, { reason: 'deploy' });
 * } catch (err) {
 *   if (isApiError(err, 'NOT_FOUND')) return undefined;
 *   throw err;
 * }
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly issues: readonly ApiIssue[];
  readonly requestId: string | null;
  /**
   * The server's RFC 9457 problem document (`type`, `title`, `status`, `detail`, `code`, `issues`,
   * `requestId`) as it was sent; null when no problem document arrived (unreachable, a proxy's page).
   */
  readonly problem: Readonly<Record<string, unknown>> | null;

  constructor(init: ApiErrorInit) {
    const issues = init.issues ?? [];
    // The server's detail usually names the issues already; only the others are added.
    const fields = issues
      .map((i) => `${i.path} ${i.problem}`)
      .filter((text) => !init.detail.includes(text))
      .join('; ');
    super(
      `${init.code}: ${init.detail}${fields ? ` (${fields})` : ''}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.issues = Object.freeze([...issues]);
    this.requestId = init.requestId ?? null;
    this.problem = init.problem ? Object.freeze({ ...init.problem }) : null;
  }
}

/** Whether `err` is an {@link ApiError}, optionally with the given code. */
export function isApiError(err: unknown, code?: string): err is ApiError {
  return err instanceof ApiError && (code === undefined || err.code === code);
}
