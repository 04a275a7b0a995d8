import { readFileSync } from 'node:fs';

/**
 * The package's version, read from package.json, which sits two directories up from both
 * `src/cli/` and `dist/cli/`: no import of the rest of the registry, so `credreg --version` is fast.
 */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}
