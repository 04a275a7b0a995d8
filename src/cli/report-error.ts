/**
 * How a failed `credreg` command reports itself: one line `credreg: <message>` on stderr, or with
 * `--json` one JSON object there, so that scripts read the same fields whatever went wrong.
 */
import { CommanderError } from 'commander';
import { ApiError } from '../client/api-error.js';
import { isRegistryError } from '../core/errors.js';
import { CliError, failureKind, titleOf } from './exit-codes.js';

/**
 * The JSON form of a failure: the server's problem document when there is one (`type`, `title`,
 * `status`, `detail`, `code`, `issues`, `requestId`), else `{ code, title, detail }` for what the CLI
 * found itself (a usage error, an unreachable server), plus `status` for an HTTP answer that was no
 * problem document.
 *
 * @example
 * errorDocument(new CliError('usage', 'USAGE', "unknown option '--bogus'"))
 * // { code: 'USAGE', title: 'usage error', detail: "unknown option '--bogus'" }
 */
export function errorDocument(err: unknown): Record<string, unknown> {
  if (err instanceof ApiError && err.problem) return { ...err.problem };
  const title = titleOf(failureKind(err));
  if (err instanceof ApiError) {
    return {
      code: err.code,
      title,
      detail: err.detail,
      ...(err.status ? { status: err.status } : {}),
      ...(err.requestId ? { requestId: err.requestId } : {}),
    };
  }
  if (err instanceof CliError || isRegistryError(err)) return { code: err.code, title, detail: err.message };
  if (err instanceof CommanderError) return { code: 'USAGE', title, detail: commanderDetail(err) };
  return { code: 'ERROR', title, detail: err instanceof Error ? err.message : String(err) };
}

/** The one line for people: the message alone, as before exit codes had kinds. */
export function errorLine(err: unknown): string {
  if (err instanceof CommanderError) return `credreg: ${commanderDetail(err)}`;
  return `credreg: ${err instanceof Error ? err.message : String(err)}`;
}

/** Commander's messages start `error: `; the rest is what went wrong. */
function commanderDetail(err: CommanderError): string {
  // A group without its subcommand (`credreg cred`): commander printed the help, its message is a placeholder.
  if (err.code === 'commander.help') return 'a subcommand is needed: add --help to see them';
  return err.message.replace(/^error: /, '');
}

/**
 * Whether `--json` was given before any `--`: read from the words themselves, since a usage error
 * happens before commander has parsed any option.
 */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}
