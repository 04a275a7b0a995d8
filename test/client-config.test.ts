/** loadClientConfig: which flag, variable or profile decides the server and the token. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_ADDR, loadClientConfig } from '../src/config.js';

function homeWith(profiles: Record<string, { addr: string; token: string }>, mode = 0o600): string {
  const home = mkdtempSync(join(tmpdir(), 'credreg-cfg-'));
  mkdirSync(join(home, '.config', 'credreg'), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, '.config', 'credreg', 'config.json'), JSON.stringify({ profiles }), { mode });
  return home;
}

describe('loadClientConfig', () => {
  const prod = { addr: 'https://registry.example', token: 'crt.prod' };

  it('without flags, variables or a file: the default address and no token', () => {
    expect(loadClientConfig({})).toMatchObject({
      addr: DEFAULT_CLIENT_ADDR,
      token: undefined,
      profile: 'default',
    });
  });

  it('takes the default profile from the file', () => {
    expect(loadClientConfig({ HOME: homeWith({ default: prod }) })).toMatchObject(prod);
  });

  it('flags win over variables, which win over the file', () => {
    const HOME = homeWith({ default: prod });
    expect(loadClientConfig({ HOME, CREDREG_TOKEN: 'crt.env' })).toMatchObject({
      addr: prod.addr,
      token: 'crt.env',
    });
    expect(loadClientConfig({ HOME, CREDREG_TOKEN: 'crt.env' }, { token: 'crt.flag' }).token).toBe(
      'crt.flag',
    );
  });

  it('sends a stored token only to the address it was stored with', () => {
    const HOME = homeWith({ default: prod });
    expect(loadClientConfig({ HOME, CREDREG_ADDR: 'https://elsewhere.example' }).token).toBeUndefined();
    expect(loadClientConfig({ HOME }, { addr: 'https://registry.example/' }).token).toBe('crt.prod');
  });

  it('reads no file when the flags and variables say everything', () => {
    const HOME = homeWith({ default: prod }, 0o644); // would be refused if read
    expect(loadClientConfig({ HOME, CREDREG_ADDR: 'http://a.example', CREDREG_TOKEN: 't' }).token).toBe('t');
  });

  /* Precondition: the config file is readable by its owner only. */
  it('Precondition: the config file is readable by its owner only', () => {
    expect(() => loadClientConfig({ HOME: homeWith({ default: prod }, 0o640) })).toThrow(
      /refusing to read .*mode 0640/,
    );
  });

  it('refuses an --addr that is not an http(s) URL', () => {
    expect(() => loadClientConfig({}, { addr: 'ftp://x' })).toThrow(/--addr must be an http\(s\) URL/);
  });
});
