import { Command, CommanderError } from 'commander';
import { registerBackupCommands } from './backup-commands.js';
import { registerCompletionCommand } from './completion.js';
import { exitCodeOf, exitCodesHelp } from './exit-codes.js';
import { registerLoginCommands } from './login-commands.js';
import { registerRemoteCommands } from './remote-commands.js';
import { errorDocument, errorLine, wantsJson } from './report-error.js';
import { registerRunCommands } from './run-commands.js';
import { packageVersion } from './version.js';
import { registerWebhookCommands } from './webhook-commands.js';

/**
 * `credreg …`. A failure exits with the code {@link exitCodeOf} gives it (see exit-codes.ts) after one
 * line on stderr, or with `--json` one JSON object there (see report-error.ts).
 *
 * The commands that open the store or start the server (`migrate`, `init`, `serve`) import
 * server-commands.ts only when they run: the remote commands and `--version` never load Fastify,
 * PGlite or a key provider's SDK.
 */
export async function run(argv: string[]): Promise<void> {
  const json = wantsJson(argv);
  // Whether commander has already said what was wrong (a usage error), so it is not said twice.
  let reported = false;
  const program = new Command()
    .name('credreg')
    .description('Multi-tenant credential registry: encrypted, versioned, audited secrets')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      // With --json the JSON object is the whole of stderr: commander's text and help stay out.
      writeErr: (text) => {
        if (!json) process.stderr.write(text);
      },
      outputError: (text, write) => {
        reported = true;
        write(text);
      },
    })
    .addHelpText('after', exitCodesHelp());

  program
    .command('migrate')
    .description(
      'apply pending database migrations (embedded store, or DATABASE_URL / CREDREG_MIGRATION_DATABASE_URL)',
    )
    .action(async () => (await import('./server-commands.js')).migrate());

  program
    .command('init')
    .description('migrate the store and, if it has none yet, create the platform-admin token (printed once)')
    .action(async () => (await import('./server-commands.js')).init());

  program
    .command('serve')
    .description('run the HTTP service (embedded store in ./data unless DATABASE_URL is set)')
    .option('--migrate', 'apply pending migrations before starting (always done on the embedded store)')
    .action(async (opts: { migrate?: boolean }) => (await import('./server-commands.js')).serve(opts));

  registerRemoteCommands(program);
  registerWebhookCommands(program);
  registerLoginCommands(program);
  registerCompletionCommand(program); // its script is made when it runs: it covers every command
  registerBackupCommands(program);
  registerRunCommands(program);

  try {
    await program.parseAsync(argv);
  } catch (err) {
    const code = exitCodeOf(err);
    // --help, `help` and --version end in a CommanderError with exit code 0: nothing went wrong.
    if (err instanceof CommanderError && err.exitCode === 0) process.exit(0);
    // `credreg` or `credreg cred` alone: the help that commander has printed says what to type.
    const printed = reported || (err instanceof CommanderError && err.code === 'commander.help');
    if (json) process.stderr.write(`${JSON.stringify(errorDocument(err))}\n`);
    else if (!printed) process.stderr.write(`${errorLine(err)}\n`);
    process.exit(code);
  }
}
