/**
 * A structured credential value built from flags, so that no one hand-builds JSON: `--field k=v`
 * and `--field k=@path` for any structured type, and `--cert-file`, `--key-file`, `--chain-file`
 * for a `certificate`. Every failure is a usage error (exit 2) that names the flag and the field,
 * never a value or a file's contents.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { STRING_VALUE_TYPES } from '../client/api-types.js';
import type { CredentialType } from '../core/types.js';
import { valueShape } from '../core/value-shapes.js';
import { CliError } from './exit-codes.js';

/** The flags as commander parses them (`--field` repeatable). */
export interface ValueFlagOptions {
  field?: string[];
  certFile?: string;
  keyFile?: string;
  chainFile?: string;
}

/** The file flags of a `certificate`, and the field of its value each one fills. */
const CERTIFICATE_FILES = [
  ['certFile', '--cert-file', 'cert_pem'],
  ['keyFile', '--key-file', 'key_pem'],
  ['chainFile', '--chain-file', 'chain_pem'],
] as const;

/** A flag given with the field it fills and where its text comes from (a file, or the flag itself). */
export interface FieldSource {
  flag: string;
  field: string;
  file?: string;
  text?: string;
}

const usage = (message: string) => new CliError('usage', 'USAGE', message);

/**
 * Adds `--field`, `--cert-file`, `--key-file` and `--chain-file` to `cred put` or `cred rotate`.
 *
 * @example
 * addValueFlags(cred.command('put'));
 * // credreg cred put payments db --type basic_auth --field username=app --field password=@pw.txt
 */
export function addValueFlags(command: Command): Command {
  return command
    .option(
      '--field <name=value>',
      'a field of a structured value; name=@path reads the file as it is (repeatable). ' +
        'Text after = shows in process lists and shell history: give secrets as @path',
      (text: string, previous: string[] = []) => [...previous, text],
    )
    .option('--cert-file <path>', 'certificate: the PEM file of cert_pem')
    .option('--key-file <path>', 'certificate: the PEM file of its private key, key_pem')
    .option('--chain-file <path>', 'certificate: the PEM file of the intermediates, chain_pem');
}

/** Whether any of the value flags was given. */
export function hasValueFlags(opts: ValueFlagOptions): boolean {
  return (opts.field?.length ?? 0) > 0 || CERTIFICATE_FILES.some(([key]) => opts[key] !== undefined);
}

/**
 * What the flags say, checked against the type's value shape without reading any file: each
 * field once, known to the type, and no flag for a type whose value is text. Call it before
 * anything is sent, so that a usage error is reported before the server is asked.
 *
 * @throws CliError (usage) naming the flag and the field, never a value
 */
export function planValueFlags(type: CredentialType, opts: ValueFlagOptions): FieldSource[] {
  const sources: FieldSource[] = [];
  for (const given of opts.field ?? []) {
    const eq = given.indexOf('=');
    const name = eq < 0 ? given : given.slice(0, eq);
    if (eq <= 0) {
      // Without an "=", what was given may be the value itself: it is not repeated.
      throw usage('--field takes name=value or name=@path (e.g. --field username=app)');
    }
    const rest = given.slice(eq + 1);
    if (rest === '@') throw usage(`--field ${printable(name)}=@ names no file: give its path after the @`);
    sources.push(
      rest.startsWith('@')
        ? { flag: '--field', field: name, file: rest.slice(1) }
        : { flag: '--field', field: name, text: rest },
    );
  }
  for (const [key, flag, field] of CERTIFICATE_FILES) {
    const file = opts[key];
    if (file === undefined) continue;
    if (type !== 'certificate')
      throw usage(`${flag} is for a certificate; this credential is a ${type} (use --field)`);
    sources.push({ flag, field, file });
  }
  if (sources.length === 0) return sources;

  if (STRING_VALUE_TYPES.includes(type)) {
    throw usage(
      `${type} values are text, not fields: pipe the value to stdin or type it at the prompt instead of ${sources[0]!.flag}`,
    );
  }
  const shape = valueShape(type);
  const known = shape.kind === 'object' ? shape.fields.map((f) => f.name) : null;
  const seen = new Set<string>();
  for (const { flag, field } of sources) {
    const shown = printable(field);
    if (seen.has(field)) throw usage(`the field ${shown} is given twice (${flag})`);
    seen.add(field);
    if (known && !known.includes(field))
      throw usage(`a ${type} value has no field ${shown} (${flag}); its fields: ${known.join(', ')}`);
  }
  return sources;
}

/**
 * Builds the value the flags describe, reading each `@path` and file flag as it is (a PEM keeps
 * its trailing newline); undefined when no value flag was given. With flags, stdin is not read at
 * all: waiting for its end would hang a command run from cron or a CI step that leaves it open.
 *
 * @throws CliError (usage): a file that cannot be read (by its path, never its contents)
 */
export async function valueFromFlags(
  sources: readonly FieldSource[],
): Promise<Record<string, string> | undefined> {
  if (sources.length === 0) return undefined;
  const entries: [string, string][] = [];
  for (const { flag, field, file, text } of sources) {
    if (file === undefined) {
      entries.push([field, text ?? '']);
      continue;
    }
    try {
      entries.push([field, await readFile(file, 'utf8')]);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw usage(`cannot read ${file} (${flag}, field ${printable(field)}): ${why}`);
    }
  }
  // Own properties whatever the name (`__proto__` too), as JSON.parse would make them.
  return Object.fromEntries(entries);
}

/** A field name as a message shows it: printable ASCII, at most 64 characters. */
function printable(name: string): string {
  const shown = name.replace(/[^\x21-\x7e]/g, '?');
  return shown.length > 64 ? `${shown.slice(0, 64)}…` : shown;
}
