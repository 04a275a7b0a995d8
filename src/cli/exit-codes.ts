/**
 * The one table of `credreg`'s exit codes, and the one function that picks a failure's code. The
 * README ("Exit codes") and `credreg --help` print this table; scripts may rely on it.
 */
import { CommanderError } from 'commander';
import { ApiError } from '../client/api-error.js';
import { type ErrorCode, isRegistryError } from '../core/errors.js';

/** What a failure is, in the words a script branches on; each kind has one exit code. */
export type FailureKind =
  | 'other'
  | 'usage'
  | 'unauthenticated'
  | 'not_found'
  | 'conflict'
  | 'unavailable'
  | 'unverified';

interface ExitCodeRow {
  kind: FailureKind | 'ok';
  code: number;
  /** The `title` of a client-side error's JSON (`--json`), and the help's wording. */
  title: string;
  /** When a command exits with it. */
  when: string;
}

/** Every exit code, in order. */
export const EXIT_CODES: readonly ExitCodeRow[] = Object.freeze([
  { kind: 'ok', code: 0, title: 'ok', when: 'success' },
  {
    kind: 'other',
    code: 1,
    title: 'error',
    when: 'any other failure (a 400, 410, 429 or 500, a bad response)',
  },
  {
    kind: 'usage',
    code: 2,
    title: 'usage error',
    when: 'unknown command or option, missing or malformed argument, bad configuration',
  },
  {
    kind: 'unauthenticated',
    code: 3,
    title: 'unauthenticated or forbidden',
    when: 'no token, or the server answered 401 or 403',
  },
  { kind: 'not_found', code: 4, title: 'not found', when: 'the server answered 404' },
  {
    kind: 'conflict',
    code: 5,
    title: 'conflict',
    when: 'the server answered 409 or 412 (a name taken, an --expected-version that is not current)',
  },
  {
    kind: 'unavailable',
    code: 6,
    title: 'unavailable',
    when: 'the server could not be reached, timed out, or answered 502, 503 or 504',
  },
  {
    kind: 'unverified',
    code: 7,
    title: 'unverified',
    when: '`audit verify` found the audit log not to be what its signed checkpoints commit to',
  },
] as const);

/** The exit code of a kind of failure. */
export function exitCodeFor(kind: FailureKind): number {
  return EXIT_CODES.find((row) => row.kind === kind)!.code;
}

/** The row of a kind: its title, for client-side errors printed as JSON. */
export function titleOf(kind: FailureKind): string {
  return EXIT_CODES.find((row) => row.kind === kind)!.title;
}

/**
 * A failure the CLI itself detects (no token, a profile that does not exist, a config file others
 * can read): its `code` is a stable string as the server's are, its kind picks the exit code.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly code: string;
  readonly kind: FailureKind;

  constructor(kind: FailureKind, code: string, message: string) {
    super(message);
    this.kind = kind;
    this.code = code;
  }
}

function kindOfStatus(status: number): FailureKind {
  if (status === 0 || status === 502 || status === 503 || status === 504) return 'unavailable';
  if (status === 401 || status === 403) return 'unauthenticated';
  if (status === 404) return 'not_found';
  if (status === 409 || status === 412) return 'conflict';
  return 'other';
}

/** The registry's own codes, for what local commands (`init`, `serve`, `migrate`) throw. */
const REGISTRY_KIND: Partial<Record<ErrorCode, FailureKind>> = {
  CONFIG: 'usage',
  UNAUTHENTICATED: 'unauthenticated',
  FORBIDDEN: 'unauthenticated',
  NOT_FOUND: 'not_found',
  CONFLICT: 'conflict',
  VERSION_MISMATCH: 'conflict',
  EXPIRED: 'conflict',
  INACTIVE: 'conflict',
  UNAVAILABLE: 'unavailable',
  AUDIT_UNAVAILABLE: 'unavailable',
};

/** What kind of failure `err` is: see {@link EXIT_CODES}. */
export function failureKind(err: unknown): FailureKind {
  if (err instanceof CliError) return err.kind;
  if (err instanceof ApiError) return kindOfStatus(err.status);
  // Commander's own (unknown option, missing argument) and the InvalidArgumentErrors of parsers and actions.
  if (err instanceof CommanderError) return 'usage';
  if (isRegistryError(err)) return REGISTRY_KIND[err.code] ?? 'other';
  return 'other';
}

/** The exit code for `err`. */
export function exitCodeOf(err: unknown): number {
  return exitCodeFor(failureKind(err));
}

/** The exit codes as the epilogue of `credreg --help` shows them. */
export function exitCodesHelp(): string {
  const lines = EXIT_CODES.map((row) => `  ${row.code}  ${row.title}: ${row.when}`);
  return `\nExit codes:\n${lines.join('\n')}\n`;
}
