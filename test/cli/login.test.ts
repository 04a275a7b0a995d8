/**
 * `credreg login` / `logout` and profiles, against a real `credreg serve`: the token is checked,
 * stored mode 0600 per profile, used by remote commands, overridden by the environment, and a
 * config file that others may read is refused. HOME and XDG_CONFIG_HOME point at temporary dirs.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCli, type ServeHandle, startServe } from '../helpers/cli-server.js';

describe('credreg login, logout and profiles (a real `credreg serve`)', { timeout: 180_000 }, () => {
  let server: ServeHandle;
  let tenantToken: string;
  let home: string;
  const configFile = () => join(home, '.config', 'credreg', 'config.json');
  /** A user's shell: HOME set, no CREDREG_* variables unless given. */
  const user = (args: string[], extra: NodeJS.ProcessEnv = {}, stdin = '') =>
    runCli(args, { ...cleanEnv(home), ...extra }, stdin);

  beforeAll(async () => {
    server = await startServe();
    home = mkdtempSync(join(tmpdir(), 'credreg-login-'));
    const env = { CREDREG_ADDR: server.addr, CREDREG_TOKEN: server.platformToken };
    const tenant = await user(['tenant', 'create', 'acme', '--json'], env);
    expect(tenant.code, tenant.stderr).toBe(0);
    const tenantId = (JSON.parse(tenant.stdout) as { id: string }).id;
    const admin = await user(['token', 'create-admin', '--tenant', tenantId, '--name', 'alice'], env);
    expect(admin.code, admin.stderr).toBe(0);
    tenantToken = admin.stdout.trim();
  }, 180_000);
  afterAll(() => server?.stop());

  it('refuses a token the server does not accept (3) and stores nothing', async () => {
    const r = await user(['login', '--addr', server.addr], {}, 'crt.nonsense\n');
    expect(r.code).toBe(3);
    expect(existsSync(configFile())).toBe(false);
  });

  it('login reads the token from stdin, checks it and stores it mode 0600 in a 0700 directory', async () => {
    const r = await user(['login', '--addr', server.addr], {}, `${tenantToken}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('logged in to');
    expect(r.stdout + r.stderr).not.toContain(tenantToken);
    expect(statSync(configFile()).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, '.config', 'credreg')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(configFile(), 'utf8'))).toEqual({
      profiles: { default: { addr: server.addr, token: tenantToken } },
    });
  });

  it('remote commands then need neither CREDREG_ADDR nor CREDREG_TOKEN', async () => {
    const r = await user(['vault', 'create', 'payments', '--json']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('a platform token logs in too, under a named profile picked by --profile or CREDREG_PROFILE', async () => {
    const login = await user(
      ['login', '--addr', server.addr, '--profile', 'platform'],
      {},
      server.platformToken,
    );
    expect(login.code, login.stderr).toBe(0);
    expect((await user(['tenant', 'list', '--profile', 'platform'])).code).toBe(0);
    expect((await user(['tenant', 'list'], { CREDREG_PROFILE: 'platform' })).code).toBe(0);
    // The default profile's tenant token may not list tenants.
    expect((await user(['tenant', 'list'])).code).toBe(3);
  });

  it('CREDREG_TOKEN wins over the stored token', async () => {
    const r = await user(['tenant', 'list'], { CREDREG_TOKEN: server.platformToken });
    expect(r.code, r.stderr).toBe(0);
  });

  it('a stored token is not sent to another address: CREDREG_ADDR elsewhere leaves no token', async () => {
    const r = await user(['vault', 'list'], { CREDREG_ADDR: 'http://127.0.0.1:9' });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no API token for http:\/\/127\.0\.0\.1:9/);
  });

  it('a profile that does not exist is a usage error naming the fix', async () => {
    const r = await user(['vault', 'list', '--profile', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no profile "nope" in .*: run `credreg login --profile nope`/);
  });

  it('a config file that group or others may read is refused, with the chmod to run', async () => {
    chmodSync(configFile(), 0o644);
    try {
      const r = await user(['vault', 'list']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`refusing to read ${configFile()}: other users may read it (mode 0644)`);
      expect(r.stderr).toContain(`chmod 600 ${configFile()}`);
    } finally {
      chmodSync(configFile(), 0o600);
    }
  });

  it('XDG_CONFIG_HOME moves the file', async () => {
    const xdg = mkdtempSync(join(tmpdir(), 'credreg-xdg-'));
    const r = await user(['login', '--addr', server.addr], { XDG_CONFIG_HOME: xdg }, tenantToken);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(join(xdg, 'credreg', 'config.json')).mode & 0o777).toBe(0o600);
  });

  it('logout forgets one profile and leaves the others', async () => {
    const out = await user(['logout', '--profile', 'platform']);
    expect(out.code, out.stderr).toBe(0);
    const stored = JSON.parse(readFileSync(configFile(), 'utf8')) as { profiles: Record<string, unknown> };
    expect(Object.keys(stored.profiles)).toEqual(['default']);
    expect(statSync(configFile()).mode & 0o777).toBe(0o600);
    expect((await user(['tenant', 'list', '--profile', 'platform'])).code).toBe(2);
    expect((await user(['logout', '--profile', 'platform'])).code).toBe(0);
  });
});
