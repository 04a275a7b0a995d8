/**
 * `credreg run` (secrets into a child process's environment, never printed) and `credreg export`
 * (a vault's secrets as dotenv, JSON or YAML on stdout). Variable names follow the rule in
 * secret-env.ts. Everything that can be refused (a clash, a missing credential, `#field` on text)
 * is checked before the first reveal; every reveal happens before the spawn, one audited reveal
 * per credential, so a failed reveal spawns nothing.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { CredentialResource, CredentialValue } from '../client/api-types.js';
import { paginate } from '../client/paginate.js';
import type { RegistryClient } from '../client/registry-client.js';
import { valueShape } from '../core/value-shapes.js';
import { parseCredentialRef, vaultIdOf } from './credential-ref.js';
import { CliError } from './exit-codes.js';
import { addRemoteOptions, connect, type RemoteOptions } from './remote-commands.js';
import {
  EXPORT_FORMATS,
  type ExportFormat,
  envName,
  formatExport,
  parseEnvAssignment,
  selectedText,
  vaultVariables,
} from './secret-env.js';

/** The signals `credreg run` passes on to its child (Ctrl-C, `kill`, a closed terminal). */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** One `--env NAME=ref`, its credential looked up (not revealed). */
interface EnvEntry {
  name: string;
  text: string;
  field?: string;
  credential: CredentialResource;
}

/** What to reveal and how to name it: resolved in full before the first reveal. */
interface Plan {
  entries: EnvEntry[];
  /** The `--vault` credentials to reveal: every live, active one not wholly overridden by `--env`. */
  vaultCredentials: CredentialResource[];
}

/**
 * Adds `credreg run` and `credreg export`.
 *
 * @example
 * registerRunCommands(program);
 * // credreg run --reason deploy --env STRIPE_KEY=payments/stripe --vault payments -- node server.js
 * // credreg export --vault payments --format dotenv --reason "local dev" > .env
 */
export function registerRunCommands(program: Command): void {
  const run = program
    .command('run')
    .description(
      "reveal credentials into a command's environment (one logged reveal each) and run it; values are never printed",
    )
    .argument('<command...>', 'the command and its arguments, after `--` (run directly, no shell)')
    .requiredOption('--reason <text>', 'why the command needs them; recorded in the access log')
    .option(
      '--env <NAME=credential>',
      'a variable from a credential (id or vault/name, optionally #field); repeatable; wins over --vault',
      (text: string, all: string[]) => [...all, text],
      [] as string[],
    )
    .option(
      '--vault <vault>',
      'every active credential of a vault, named by the rule: stripe-key → STRIPE_KEY, a structured db → DB_USERNAME, DB_PASSWORD',
    )
    .addHelpText(
      'after',
      "\nThe exit code is the command's, or 128 + the signal number when a signal ended it.\ne.g. credreg run --reason deploy --env DB_PASSWORD=payments/db#password -- node server.js",
    )
    .action(
      async (argv: string[], opts: RemoteOptions & { reason: string; env: string[]; vault?: string }) => {
        if (opts.env.length === 0 && opts.vault === undefined) {
          throw new InvalidArgumentError(
            'nothing to put in the environment: give --env NAME=credential or --vault',
          );
        }
        const client = connect(opts);
        const plan = await planReveals(client, opts.env, opts.vault);
        const env = await revealAll(client, plan, opts.reason);
        const [file, ...args] = argv as [string, ...string[]];
        process.exit(await runChild(file, args, env));
      },
    );

  const exporter = program
    .command('export')
    .description(
      'print every active credential of a vault as variables (one logged reveal each), named as `run --vault` names them',
    )
    .requiredOption('--vault <vault>', 'the vault (its id or name)')
    .requiredOption('--reason <text>', 'why you need them; recorded in the access log')
    .addOption(
      new Option('--format <format>', 'dotenv (NAME="escaped"), json (one object) or yaml (NAME: "escaped")')
        .choices(EXPORT_FORMATS)
        .default('dotenv'),
    )
    .action(async (opts: RemoteOptions & { vault: string; reason: string; format: ExportFormat }) => {
      const client = connect(opts);
      const plan = await planReveals(client, [], opts.vault);
      const vars = Object.entries(await revealAll(client, plan, opts.reason)).sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0,
      );
      if (process.stdout.isTTY) {
        process.stderr.write('credreg: warning: values are printed in clear; redirect to a file or a pipe\n');
      }
      process.stdout.write(formatExport(opts.format, vars));
    });

  addRemoteOptions([run, exporter]);
}

/** Looks up every credential and checks every name, revealing nothing. */
async function planReveals(
  client: RegistryClient,
  envTexts: readonly string[],
  vault: string | undefined,
): Promise<Plan> {
  const parsed = envTexts.map(parseEnvAssignment);
  const seen = new Set<string>();
  for (const { name } of parsed) {
    if (seen.has(name)) throw new CliError('usage', 'USAGE', `--env ${name} is given twice`);
    seen.add(name);
  }

  const entries: EnvEntry[] = [];
  for (const { name, ref: text } of parsed) {
    const ref = parseCredentialRef(text);
    const credential =
      'id' in ref ? await client.getCredential(ref.id) : await client.getSecret(ref.vault, ref.name);
    /* Precondition: #field is refused on a text value before anything is revealed. */
    if (ref.field !== undefined && valueShape(credential.type).kind === 'text') {
      throw new CliError(
        'usage',
        'USAGE',
        `--env ${name}=${text}: #${ref.field} selects a field, but ${credential.name} is a ${credential.type}, whose value is text`,
      );
    }
    entries.push({ name, text, field: ref.field, credential });
  }

  if (vault === undefined) return { entries, vaultCredentials: [] };
  const vaultId = await vaultIdOf(client, vault);
  const listed: CredentialResource[] = [];
  for await (const c of paginate((cursor) => client.listCredentials(vaultId, { limit: 1000, cursor }))) {
    if (c.isActive) listed.push(c);
  }
  checkClashes(listed);
  // A text credential's one variable, given by --env instead, needs no reveal of its own.
  const vaultCredentials = listed.filter(
    (c) => valueShape(c.type).kind !== 'text' || !seen.has(envName(c.name)),
  );
  return { entries, vaultCredentials };
}

/**
 * Refuses two credentials of the vault whose names, or whose known fields' names, map to the same
 * variable (`stripe-key` and `stripe_key`; `db` with `password` and `db-password`).
 */
function checkClashes(credentials: readonly CredentialResource[]): void {
  const owner = new Map<string, string>();
  const claim = (variable: string, credential: string) => {
    const other = owner.get(variable);
    if (other !== undefined && other !== credential) {
      throw new CliError(
        'usage',
        'USAGE',
        `credentials "${other}" and "${credential}" both map to the variable ${variable}: rename one, or give it with --env`,
      );
    }
    owner.set(variable, credential);
  };
  for (const c of credentials) {
    claim(envName(c.name), c.name);
    for (const field of valueShape(c.type).fields) claim(envName(c.name, field.name), c.name);
  }
}

/**
 * Reveals each credential once (an id named by --env and --vault alike, once), then builds the
 * environment additions: --vault variables first, --env ones over them.
 */
async function revealAll(
  client: RegistryClient,
  plan: Plan,
  reason: string,
): Promise<Record<string, string>> {
  const values = new Map<string, CredentialValue>();
  const ids = [...plan.entries.map((e) => e.credential.id), ...plan.vaultCredentials.map((c) => c.id)];
  for (const id of ids) {
    if (!values.has(id)) values.set(id, (await client.revealCredential(id, { reason })).value);
  }

  const overridden = new Set(plan.entries.map((e) => e.name));
  const vars: Record<string, string> = {};
  const owner = new Map<string, string>();
  for (const c of plan.vaultCredentials) {
    for (const [name, text] of vaultVariables(c.name, values.get(c.id)!)) {
      if (overridden.has(name)) continue;
      // A generic value's fields are known only now: a clash is still refused before the spawn.
      const other = owner.get(name);
      if (other !== undefined) {
        throw new CliError(
          'usage',
          'USAGE',
          `credentials "${other}" and "${c.name}" both map to the variable ${name}: rename one, or give it with --env`,
        );
      }
      owner.set(name, c.name);
      vars[name] = text;
    }
  }
  for (const e of plan.entries) {
    vars[e.name] = selectedText(values.get(e.credential.id)!, e.field, `--env ${e.name}=${e.text}`);
  }
  return vars;
}

/**
 * Runs `file` (no shell) with this environment plus `additions`, passes on SIGINT, SIGTERM and
 * SIGHUP, and resolves to its exit code, or 128 + the signal's number when a signal ended it.
 * The registry token is not passed on (unless `additions` names it): the child gets the secrets it
 * was given, not the right to reveal more.
 */
function runChild(file: string, args: readonly string[], additions: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const { CREDREG_TOKEN: _token, ...inherited } = process.env;
    const child = spawn(file, args, { stdio: 'inherit', env: { ...inherited, ...additions } });
    const forward = (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    const done = () => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      done();
      reject(new CliError('other', 'SPAWN', `could not run "${file}": ${err.code ?? err.message}`));
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
