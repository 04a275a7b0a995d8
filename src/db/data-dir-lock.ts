import {
  closeSync,
  constants,
  ftruncateSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { tryLock, unlock } from 'fs-native-extensions';
import { RegistryError } from '../core/errors.js';

/** Held for as long as the embedded store is open; `release()` lets the next process in. */
export interface DataDirLock {
  release(): void;
}

const LOCK_FILE = 'credreg.lock';

/**
 * Locks a data directory against a second process. PGlite takes no lock of its own, and two
 * processes on one directory silently lose rows.
 *
 * The lock is the kernel's (an open-file-description lock on `credreg.lock`), not a file whose
 * presence or age means "taken": the kernel drops it the moment its owner dies, however it dies
 * (SIGKILL, OOM, power), so a supervisor can restart at once, and a copied directory carries no
 * lock with it. The file holds the owner's pid only to name it in the refusal.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  removeLegacyLockDir(path);
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  let locked = false;
  try {
    locked = tryLock(fd);
  } finally {
    if (!locked) closeSync(fd);
  }
  if (!locked) {
    const owner = readOwner(path);
    throw new RegistryError(
      'UNAVAILABLE',
      `the data directory ${dataDir} is in use by another credreg process${owner ? ` (pid ${owner})` : ''}; stop it, or point CREDREG_DATA_DIR elsewhere`,
    );
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      // The file stays: unlinking it would let a newcomer lock a new file while another waits on the old.
      unlock(fd);
      closeSync(fd);
    },
  };
}

function readOwner(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Earlier versions locked with a directory of this name, refreshed every 5 s and stale after 10 s.
 * A stale one is left over from a stopped process and is removed; a fresh one may belong to an
 * older credreg still running, which is refused.
 */
function removeLegacyLockDir(path: string): void {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    return;
  }
  if (!stat.isDirectory()) return;
  if (Date.now() - stat.mtimeMs < 10_000) {
    throw new RegistryError(
      'UNAVAILABLE',
      `the data directory ${path} is locked by an older credreg version that may still be running; stop it first`,
    );
  }
  rmSync(path, { recursive: true, force: true });
}
