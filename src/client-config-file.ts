/**
 * The file `credreg login` keeps servers and tokens in: `$XDG_CONFIG_HOME/credreg/config.json`, else
 * `~/.config/credreg/config.json`, one `{ addr, token }` per named profile. It holds tokens, so it is
 * written mode 0600 in a directory made 0700, and a file that other users may read is refused.
 *
 * @example
 * { "profiles": { "default": { "addr": "http://127.0.0.1:8200", "token": "crt.…" } } }
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RegistryError } from './core/errors.js';

/** Where one profile's server is, and the token to present to it (and to no other server). */
export interface ClientProfile {
  addr: string;
  token: string;
}

/** The whole file: profiles by name. */
export interface ClientProfiles {
  profiles: Record<string, ClientProfile>;
}

/** The profile used when neither `--profile` nor `CREDREG_PROFILE` names one. */
export const DEFAULT_PROFILE = 'default';

/** The config file's path for this environment; undefined when there is no home to put it in. */
export function clientConfigPath(source: NodeJS.ProcessEnv): string | undefined {
  if (source.XDG_CONFIG_HOME) return join(source.XDG_CONFIG_HOME, 'credreg', 'config.json');
  if (source.HOME) return join(source.HOME, '.config', 'credreg', 'config.json');
  return undefined;
}

/**
 * The profiles in `path`, or none when there is no file. Throws a `CONFIG` error for a file that
 * group or others may access (its tokens would be theirs too) or that is not a config file.
 */
export function readClientProfiles(path: string): ClientProfiles {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
    throw err;
  }
  /* Precondition: the config file is readable by its owner only. */
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new RegistryError(
      'CONFIG',
      `refusing to read ${path}: other users may read it (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run \`chmod 600 ${path}\``,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    // No cause: the text holds tokens.
    throw new RegistryError('CONFIG', `${path} is not JSON: fix it, or remove it and run \`credreg login\``);
  }
  const profiles = (parsed as { profiles?: unknown } | null)?.profiles;
  if (profiles === null || typeof profiles !== 'object' || Array.isArray(profiles)) {
    throw new RegistryError(
      'CONFIG',
      `${path} has no "profiles" object: remove it and run \`credreg login\``,
    );
  }
  const valid: Record<string, ClientProfile> = {};
  for (const [name, p] of Object.entries(profiles as Record<string, unknown>)) {
    const { addr, token } = (p ?? {}) as Record<string, unknown>;
    if (typeof addr !== 'string' || typeof token !== 'string') {
      throw new RegistryError('CONFIG', `profile "${name}" in ${path} needs an addr and a token`);
    }
    valid[name] = { addr, token };
  }
  return { profiles: valid };
}

/**
 * Writes `profiles` to `path` as mode 0600, through a temporary file renamed over the old one, so
 * that a reader never sees half a file and the tokens are never briefly readable by others.
 */
export function writeClientProfiles(path: string, profiles: ClientProfiles): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(profiles, null, 2)}\n`, { mode: 0o600, flag: 'w' });
  chmodSync(temporary, 0o600); // in case the file existed with a wider mode
  renameSync(temporary, path);
}
