/**
 * How `credreg run` and `credreg export` turn credentials into environment variables, and how
 * `export` writes them. Pure functions: no I/O, no client.
 *
 * The naming rule (README, "Secrets into processes"):
 *
 * | credential                                   | variables                                      |
 * |----------------------------------------------|------------------------------------------------|
 * | `stripe-key`, a text type (`api_key`, …)      | `STRIPE_KEY`, the text as is                   |
 * | `db`, a structured type (`basic_auth`, …)     | `DB_USERNAME`, `DB_PASSWORD`: one per field    |
 *
 * A name is upper-cased and every character that is not `A`–`Z`, `0`–`9` or `_` becomes `_`; a
 * field's variable is `NAME_FIELD` under the same rule. A field's number or boolean is written as
 * text, an object or array as JSON.
 */
import { InvalidArgumentError } from 'commander';
import { CliError } from './exit-codes.js';

/**
 * The environment variable a credential (or one of its fields) is given under `--vault`.
 * @example envName('stripe-key'); // 'STRIPE_KEY'
 * @example envName('db', 'password'); // 'DB_PASSWORD'
 */
export function envName(name: string, field?: string): string {
  const joined = field === undefined ? name : `${name}_${field}`;
  return joined.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `NAME=ref` of `--env`, split; the name must be a portable variable name. */
export function parseEnvAssignment(text: string): { name: string; ref: string } {
  const eq = text.indexOf('=');
  const name = eq === -1 ? '' : text.slice(0, eq);
  if (!ENV_NAME.test(name) || eq === text.length - 1) {
    throw new InvalidArgumentError(
      `"${text}" is not NAME=credential: a variable name (letters, digits, "_"), "=", then an id or vault/name[#field]`,
    );
  }
  return { name, ref: text.slice(eq + 1) };
}

/** A field's value as environment text: text as is, numbers and booleans printed, the rest JSON. */
export function envText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** True when a revealed value is structured (an object), not text. */
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The one variable of an `--env` entry: the whole value (JSON when structured), or its `#field`.
 * `#field` on a text value, or a field the value does not have, is a usage error naming the field
 * (never the value).
 */
export function selectedText(value: unknown, field: string | undefined, what: string): string {
  if (field === undefined) return envText(value);
  if (!isObject(value)) {
    throw new CliError('usage', 'USAGE', `${what}: #${field} selects a field, but the value is text`);
  }
  if (!Object.hasOwn(value, field)) {
    const known = Object.keys(value).join(', ');
    throw new CliError('usage', 'USAGE', `${what}: the value has no field "${field}" (it has: ${known})`);
  }
  return envText(value[field]);
}

/** The variables of one credential under `--vault`: one for text, one per field for a structured value. */
export function vaultVariables(name: string, value: unknown): [string, string][] {
  if (!isObject(value)) return [[envName(name), envText(value)]];
  return Object.entries(value).map(([field, v]) => [envName(name, field), envText(v)]);
}

/**
 * A dotenv line: the value in double quotes, with `\`, `"`, `$`, newlines and carriage returns
 * escaped, so that it reads back as it was (and a shell-style loader expands nothing).
 * @example dotenvLine('A', 'x"$y\n'); // 'A="x\\"\\$y\\n"'
 */
export function dotenvLine(name: string, value: string): string {
  const escaped = value.replace(/[\\"$\n\r]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`));
  return `${name}="${escaped}"`;
}

/**
 * A YAML mapping line in the JSON-compatible subset of YAML: key and value as JSON strings, which
 * are valid YAML double-quoted scalars (a key such as `NULL` or `TRUE` stays a string).
 */
export function yamlLine(name: string, value: string): string {
  return `${JSON.stringify(name)}: ${JSON.stringify(value)}`;
}

/** The formats of `credreg export`. */
export const EXPORT_FORMATS = ['dotenv', 'json', 'yaml'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The variables in `format`, ending in a newline. */
export function formatExport(format: ExportFormat, vars: readonly [string, string][]): string {
  if (format === 'json') return `${JSON.stringify(Object.fromEntries(vars), null, 2)}\n`;
  if (vars.length === 0) return format === 'yaml' ? '{}\n' : '';
  const line = format === 'dotenv' ? dotenvLine : yamlLine;
  return `${vars.map(([name, value]) => line(name, value)).join('\n')}\n`;
}
