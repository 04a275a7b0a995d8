import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockDataDir } from '../../src/db/data-dir-lock.js';
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

  it('a live owner in another process refuses a second one, naming its pid', async () => {
    const d = dir();
    const h = holder(d);
    children.push(h.child);
    await waitFor(() => h.log.out().match(/locked/), 'the holder to lock');
    expect(() => lockDataDir(d)).toThrow(
      new RegExp(`in use by another credreg process \\(pid ${h.child.pid}\\)`),
    );
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
