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
import { hostname } from 'node:os';
import { join } from 'node:path';
import { tryLock, unlock } from 'fs-native-extensions';
import { RegistryError } from '../core/errors.js';

/** Held for as long as the embedded store is open; `release()` lets the next process in. */
export interface DataDirLock {
  release(): void;
}

/** Who holds (or last held) a data directory, as its lock file says: only ever used in messages. */
export interface LockOwner {
  pid: number;
  /** Absent in files written before hosts were recorded. */
  host?: string;
  /** The kernel's boot id (`/proc/sys/kernel/random/boot_id`) when the owner started; Linux only. */
  boot?: string;
}

const LOCK_FILE = 'credreg.lock';

/**
 * Locks a data directory against a second process. PGlite takes no lock of its own, and two
 * processes on one directory silently lose rows.
 *
 * The lock is the kernel's (an open-file-description lock on `credreg.lock`), not a file whose
 * presence or age means "taken": the kernel drops it the moment its owner dies, however it dies
 * (SIGKILL, OOM, power), so a supervisor can restart at once, and a copied directory carries no
 * lock with it. A lock file left by a dead process or copied with its directory is therefore taken
 * over as it is, whatever pid it names (that pid may since belong to anything); a held lock is
 * always refused, even when the pid it names is not running here, since that means another host
 * or container shares the directory, not that the owner is gone. The file names its owner (pid,
 * host, boot) only for the refusal.
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
  if (!locked) throw refusal(dataDir, readOwner(path));
  ftruncateSync(fd, 0);
  writeSync(fd, `${JSON.stringify(currentOwner())}\n`, 0);
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

function refusal(dataDir: string, owner: LockOwner | undefined): RegistryError {
  const how =
    'stop it, or point CREDREG_DATA_DIR elsewhere (a copy made with `credreg backup` and `credreg restore`)';
  if (!owner)
    return new RegistryError(
      'UNAVAILABLE',
      `the data directory ${dataDir} is in use by another credreg process; ${how}`,
    );
  const named = `pid ${owner.pid}${owner.host ? ` on host ${owner.host}` : ''}`;
  if (visibleHere(owner) && !isRunning(owner.pid)) {
    // The kernel says it is held, yet that pid is not running here: another pid namespace.
    return new RegistryError(
      'UNAVAILABLE',
      `the data directory ${dataDir} is in use by a credreg process this one cannot see (${named}, not running here: another container sharing the directory?); ${how}`,
    );
  }
  if (!visibleHere(owner)) {
    return new RegistryError(
      'UNAVAILABLE',
      `the data directory ${dataDir} is in use by a credreg process on another host or boot (${named}); two hosts must never share one: ${how}`,
    );
  }
  return new RegistryError(
    'UNAVAILABLE',
    `the data directory ${dataDir} is in use by another credreg process (${named}); ${how}`,
  );
}

/** Whether `owner` was recorded on this host since its last boot, so its pid means a process here. */
function visibleHere(owner: LockOwner): boolean {
  const me = currentOwner();
  if (owner.host !== undefined && owner.host !== me.host) return false;
  return owner.boot === undefined || me.boot === undefined || owner.boot === me.boot;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // running, under another user
  }
}

function currentOwner(): LockOwner {
  let boot: string | undefined;
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    boot = undefined;
  }
  return { pid: process.pid, host: hostname(), ...(boot ? { boot } : {}) };
}

/** The owner the file names: JSON, or a bare pid as versions before hosts were recorded wrote. */
export function readOwner(path: string): LockOwner | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const validPid = (pid: unknown): pid is number => Number.isSafeInteger(pid) && (pid as number) > 0;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (o && typeof o === 'object' && validPid(o.pid)) {
      return {
        pid: o.pid,
        ...(typeof o.host === 'string' ? { host: o.host } : {}),
        ...(typeof o.boot === 'string' ? { boot: o.boot } : {}),
      };
    }
  } catch {
    // a bare pid
  }
  const pid = Number.parseInt(text, 10);
  return validPid(pid) ? { pid } : undefined;
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
      `the data directory ${path} is locked by an older credreg version that may still be running; stop it first (a directory copied with its lock can be opened 10 s after the copy)`,
    );
  }
  rmSync(path, { recursive: true, force: true });
}
