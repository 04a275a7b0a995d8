/**
 * `credreg login` and `credreg logout`: a server and a token kept in a profile of the client config
 * file (client-config-file.ts), so that remote commands need neither `--token` nor `CREDREG_TOKEN`.
 */
import type { Command } from 'commander';
import { isApiError } from '../client/api-error.js';
import { RegistryClient } from '../client/registry-client.js';
import { readClientProfiles, writeClientProfiles } from '../client-config-file.js';
import { DEFAULT_CLIENT_ADDR, loadLoginConfig } from '../config.js';
import { CliError } from './exit-codes.js';
import { readSecretLine } from './secret-input.js';

interface LoginOptions {
  addr?: string;
  profile?: string;
  json?: boolean;
}

/**
 * Adds `login` and `logout`.
 *
 * @example
 * printf '%s' "$TOKEN" | credreg login --addr https://registry.internal --profile prod
 * credreg vault list --profile prod
 */
export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description(
      'check a token against the server and store both in a profile (token from a prompt that does not echo, or stdin)',
    )
    .option('--addr <url>', `server address (Default: $CREDREG_ADDR, else ${DEFAULT_CLIENT_ADDR})`)
    .option('--profile <name>', 'profile to store them under (Default: $CREDREG_PROFILE, else default)')
    .option('--json', 'print JSON, for scripts')
    .action(async (opts: LoginOptions) => {
      const { addr, profile, configFile } = loadLoginConfig(process.env, opts);
      const token = await readSecretLine(`API token for ${addr}: `);
      if (!token) throw new CliError('usage', 'USAGE', 'no token given: type it at the prompt or pipe it in');
      await checkToken(addr, token);
      const file = readClientProfiles(configFile);
      file.profiles[profile] = { addr, token };
      writeClientProfiles(configFile, file);
      if (opts.json) process.stdout.write(`${JSON.stringify({ profile, addr, configFile }, null, 2)}\n`);
      else process.stderr.write(`credreg: logged in to ${addr} as profile "${profile}" (${configFile})\n`);
    });

  program
    .command('logout')
    .description(
      'forget the token of a profile (it stays valid on the server: `credreg token revoke` ends it)',
    )
    .option('--profile <name>', 'profile to forget (Default: $CREDREG_PROFILE, else default)')
    .option('--json', 'print JSON, for scripts')
    .action(async (opts: LoginOptions) => {
      const { profile, configFile } = loadLoginConfig(process.env, { profile: opts.profile });
      const file = readClientProfiles(configFile);
      const removed = profile in file.profiles;
      if (removed) {
        delete file.profiles[profile];
        writeClientProfiles(configFile, file);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify({ profile, removed }, null, 2)}\n`);
      else
        process.stderr.write(
          removed
            ? `credreg: forgot profile "${profile}"\n`
            : `credreg: no profile "${profile}": nothing to do\n`,
        );
    });
}

/**
 * One cheap authenticated request. Any answer but 401 means the token authenticated: a platform
 * token may not list vaults (400/403) and a narrow one may be refused, yet both are real tokens.
 */
async function checkToken(addr: string, token: string): Promise<void> {
  try {
    await new RegistryClient({ addr, token }).listVaults({ limit: 1 });
  } catch (err) {
    if (isApiError(err) && (err.status === 400 || err.status === 403)) return;
    throw err;
  }
}
