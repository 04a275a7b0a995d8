/**
 * The one error type the registry throws. `code` is stable and meant for programs (the HTTP layer
 * maps it to a status); `message` is for people and never contains a secret value, SQL text or
 * key material. `cause` may hold an internal error for operators' logs; it is never shown to clients.
 */
export const ERROR_CODES = [
  'NOT_FOUND',
  'DELETED',
  'VALIDATION',
  'CONFLICT',
  'VERSION_MISMATCH',
  'EXPIRED',
  'INACTIVE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'TENANT_REQUIRED',
  'CRYPTO',
  'UNAVAILABLE',
  /** The access-log row could not be written, so the operation was not performed (retry). */
  'AUDIT_UNAVAILABLE',
  /** Too many requests for this token or client (HTTP only). */
  'RATE_LIMITED',
  /** A request the HTTP layer could not read (malformed JSON, a body too large; HTTP only). */
  'BAD_REQUEST',
  /** A rotator failed at its target (the database, OAuth server or endpoint): the current value stays. */
  'ROTATION_FAILED',
  'CONFIG',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** One problem with one input field, safe to show: it names the field and the rule, never the value. */
export interface FieldIssue {
  path: string;
  problem: string;
}

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly code: ErrorCode;
  readonly issues: readonly FieldIssue[];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; issues?: FieldIssue[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = Object.freeze([...(options.issues ?? [])]);
  }

  /** A JSON form without `cause` or stack: what may cross a trust boundary. */
  toJSON(): { code: ErrorCode; message: string; issues: readonly FieldIssue[] } {
    return { code: this.code, message: this.message, issues: this.issues };
  }
}

export function isRegistryError(err: unknown, code?: ErrorCode): err is RegistryError {
  return err instanceof RegistryError && (code === undefined || err.code === code);
}
