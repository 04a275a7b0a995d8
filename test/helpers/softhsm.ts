/** SoftHSM2, a real PKCS#11 module: a Debian package that `.ci/run` installs. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
/** Elsewhere the PKCS#11 tests say they are skipped. */
export const HAS_SOFTHSM =
  existsSync(SOFTHSM_MODULE) && spawnSync('softhsm2-util', ['--version']).status === 0;

let token: { tokenLabel: string; pin: string } | undefined;

/**
 * A fresh SoftHSM2 token in a temporary directory, one per test process: SOFTHSM2_CONF is read
 * once, when the module is first initialised in the process.
 */
export function softHsmToken(): { tokenLabel: string; pin: string } {
  if (token) return token;
  const dir = mkdtempSync(join(tmpdir(), 'credreg-hsm-'));
  mkdirSync(join(dir, 'tokens'));
  writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\n`);
  process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf');
  const init = spawnSync('softhsm2-util', [
    '--init-token',
    '--free',
    '--label',
    'credreg',
    '--pin',
    '1234',
    '--so-pin',
    '5678',
  ]);
  if (init.status !== 0) throw new Error(`softhsm2-util failed: ${init.stderr}`);
  token = { tokenLabel: 'credreg', pin: '1234' };
  return token;
}
