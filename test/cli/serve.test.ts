/**
 * `credreg serve` and `credreg migrate` as a user runs them: real processes on a temporary
 * embedded store.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, credreg, exited, LISTENING } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

describe('credreg serve on the embedded store', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'credreg-cli-')), 'data');
  const env = {
    CREDREG_DATA_DIR: dataDir,
    CREDREG_LISTEN: '127.0.0.1:0',
    CREDREG_MAINTENANCE_INTERVAL_MS: '0',
    CREDREG_AUDIT_SEAL_INTERVAL_MS: '0',
    CREDREG_AUDIT_SINK_INTERVAL_MS: '0',
  };
  let server: ChildProcess;
  let log: { out: () => string };
  let base: string;
  const platformToken = () => log.out().match(/platform admin token[^\n]*?(crp\.[A-Za-z0-9._-]+)/)![1]!;

  beforeAll(async () => {
    server = credreg(['serve', '--migrate'], env);
    log = collect(server);
    const m = await waitFor(() => log.out().match(LISTENING), 'the listening line');
    base = m[1]!;
  });
  afterAll(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });

  it('answers /healthz and /readyz', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
  });

  it('created a root key beside the data, mode 0600, and warned that it is for development', () => {
    expect(statSync(join(dataDir, 'root.key')).mode & 0o777).toBe(0o600);
    expect(log.out()).toMatch(/for development only/);
  });

  it('a second process on the same data directory fails fast with a clear message', async () => {
    const second = credreg(['serve'], env);
    const out = collect(second);
    expect(await exited(second)).toBe(6); // the store is unavailable while the other holds it
    expect(out.out()).toMatch(/in use by another credreg process/);
  });

  it('printed the platform admin token once, and it works', async () => {
    const tokens = log.out().match(/platform admin token[^\n]*?(crp\.[A-Za-z0-9._-]+)/g) ?? [];
    expect(tokens).toHaveLength(1);
    const res = await fetch(`${base}/v1/tenants`, {
      headers: { authorization: `Bearer ${platformToken()}` },
    });
    expect(res.status).toBe(200);
  });

  it('stops cleanly on SIGTERM, releasing the store for `credreg migrate`', async () => {
    server.kill('SIGTERM');
    expect(await exited(server)).toBe(0);
    const migrate = credreg(['migrate'], env);
    const out = collect(migrate);
    expect(await exited(migrate)).toBe(0);
    expect(out.out()).toMatch(/schema is current/);
  });

  it('refuses to start when the root key file of an existing store is gone, instead of making a new one', async () => {
    const key = join(dataDir, 'root.key');
    const { renameSync } = await import('node:fs');
    renameSync(key, `${key}.bak`);
    try {
      const child = credreg(['serve'], env);
      const out = collect(child);
      expect(await exited(child)).toBe(2); // a configuration error: see exit-codes.ts
      expect(out.out()).toMatch(
        /root key file .* does not exist; if this store already holds data, restore the file/,
      );
    } finally {
      renameSync(`${key}.bak`, key);
    }
  });

  it('refuses to start on PostgreSQL without a root key, with a one-line message', async () => {
    const child = credreg(['serve'], { ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    const out = collect(child);
    expect(await exited(child)).toBe(2);
    expect(out.out().trim()).toMatch(/^credreg: DATABASE_URL is set but no root key is/);
  });
});

describe('credreg serve on a fresh embedded store', () => {
  it('migrates it by itself: the store is private to the process', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'credreg-cli-')), 'data');
    const child = credreg(['serve'], {
      CREDREG_DATA_DIR: dataDir,
      CREDREG_LISTEN: '127.0.0.1:0',
      CREDREG_MAINTENANCE_INTERVAL_MS: '0',
      CREDREG_AUDIT_SEAL_INTERVAL_MS: '0',
      CREDREG_AUDIT_SINK_INTERVAL_MS: '0',
    });
    const out = collect(child);
    try {
      const base = (await waitFor(() => out.out().match(LISTENING), 'the listening line'))[1]!;
      expect(out.out()).toMatch(/migrations applied/);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
