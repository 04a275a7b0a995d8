import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockDataDir, readOwner } from '../../src/db/data-dir-lock.js';
import { collect, exited } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const dir = () => mkdtempSync(join(tmpdir(), 'credreg-lock-'));

function holder(dataDir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/lock-holder.ts', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, log: collect(child) };
}

describe('the embedded data-directory lock', () => {
  const children: ReturnType<typeof holder>['child'][] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('a lock whose owner was killed is taken over at once, without waiting for it to go stale', async () => {
    const d = dir();
    const h = holder(d);
    children.push(h.child);
    await waitFor(() => h.log.out().match(/locked/), 'the holder to lock');
    h.child.kill('SIGKILL');
    await exited(h.child);
    const lock = lockDataDir(d); // no retry, no wait
    lock.release();
  });

  it('two locks in one process exclude each other too, and a released lock can be taken again', () => {
    const d = dir();
    const first = lockDataDir(d);
    expect(() => lockDataDir(d)).toThrow(/in use by another credreg process/);
    first.release();
    first.release(); // twice is harmless
    lockDataDir(d).release();
  });

  /** A pid no process has here: above the kernel's pid_max. */
  const deadPid = 4_194_304 + 1;

  it('a lock file naming a pid that does not exist (a dead owner) is taken over, and then names this process', () => {
    const d = dir();
    writeFileSync(join(d, 'credreg.lock'), `${deadPid}\n`);
    const lock = lockDataDir(d);
    expect(readOwner(join(d, 'credreg.lock'))).toMatchObject({ pid: process.pid, host: hostname() });
    lock.release();
  });

  it('a lock file copied with its directory is taken over even when the pid it names is alive, or another host', () => {
    const d = dir();
    // The parent of this process is alive, but holds no lock on this file: the kernel lock is the proof.
    writeFileSync(join(d, 'credreg.lock'), JSON.stringify({ pid: process.ppid, host: hostname() }));
    lockDataDir(d).release();
    writeFileSync(join(d, 'credreg.lock'), JSON.stringify({ pid: deadPid, host: 'elsewhere', boot: 'x' }));
    lockDataDir(d).release();
  });

  it('a held lock is refused, naming the pid, the host and how to proceed', async () => {
    const d = dir();
    const h = holder(d);
    children.push(h.child);
    await waitFor(() => h.log.out().match(/locked/), 'the holder to lock');
    expect(() => lockDataDir(d)).toThrow(
      `in use by another credreg process (pid ${h.child.pid} on host ${hostname()}); stop it, or point CREDREG_DATA_DIR elsewhere`,
    );
  });

  it('a held lock naming a pid not running here is still refused: another container or host shares the directory', async () => {
    const d = dir();
    const h = holder(d);
    children.push(h.child);
    await waitFor(() => h.log.out().match(/locked/), 'the holder to lock');
    const path = join(d, 'credreg.lock');
    const own = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...own, pid: deadPid }));
    expect(() => lockDataDir(d)).toThrow(
      /a credreg process this one cannot see \(pid 4194305 on host .*another container/,
    );
    writeFileSync(path, JSON.stringify({ pid: 77, host: 'db-host-2' }));
    expect(() => lockDataDir(d)).toThrow(
      /on another host or boot \(pid 77 on host db-host-2\); two hosts must never share one/,
    );
  });

  it('a stale lock directory left by an earlier version is removed; a fresh one is refused', () => {
    const d = dir();
    const legacy = join(d, 'credreg.lock');
    mkdirSync(legacy);
    expect(() => lockDataDir(d)).toThrow(/older credreg version that may still be running/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(legacy, old, old);
    lockDataDir(d).release();
  });
});
