/**
 * `cred put` and `cred rotate` building a structured value from flags (`--field`, and a
 * certificate's `--cert-file`, `--key-file`, `--chain-file`) end to end against a real
 * `credreg serve`: the value revealed is the one the flags and files described, and every misuse
 * is a usage error (exit 2) that repeats no value.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCli, type ServeHandle, startServe } from '../helpers/cli-server.js';
import { selfSignedCert } from '../helpers/self-signed-cert.js';

describe('credreg cred put/rotate --field, --cert-file, --key-file (a real `credreg serve`)', () => {
  let server: ServeHandle;
  let env: NodeJS.ProcessEnv;
  const dir = mkdtempSync(join(tmpdir(), 'credreg-fields-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const credreg = (args: string[], stdin = '') => runCli(args, env, stdin);
  /** The revealed value of a credential. */
  const reveal = async (path: string) => {
    const r = await credreg(['cred', 'get', path, '--reason', 'value flags test', '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { value: unknown }).value;
  };
  const SECRET = 's3cret-Value-never-echoed';

  beforeAll(async () => {
    server = await startServe();
    const platform = { ...cleanEnv(), CREDREG_ADDR: server.addr, CREDREG_TOKEN: server.platformToken };
    const tenant = await runCli(['tenant', 'create', 'acme', '--json'], platform);
    expect(tenant.code, tenant.stderr).toBe(0);
    const tenantId = (JSON.parse(tenant.stdout) as { id: string }).id;
    const admin = await runCli(['token', 'create-admin', '--tenant', tenantId, '--name', 'alice'], platform);
    expect(admin.code, admin.stderr).toBe(0);
    env = { ...cleanEnv(), CREDREG_ADDR: server.addr, CREDREG_TOKEN: admin.stdout.trim() };
    expect((await credreg(['vault', 'create', 'payments'])).code).toBe(0);
    const key = await credreg(['cred', 'put', 'payments', 'stripe', '--type', 'api_key'], 'sk_live_text\n');
    expect(key.code, key.stderr).toBe(0);
  }, 60_000);
  afterAll(() => server?.stop());

  it('puts a basic_auth from --field name=value and --field name=@path, the file read as it is', async () => {
    const pw = file('pw.txt', `${SECRET}\n`);
    const put = await credreg([
      'cred',
      'put',
      'payments',
      'db',
      '--type',
      'basic_auth',
      '--field',
      'username=app',
      '--field',
      `password=@${pw}`,
    ]);
    expect(put.code, put.stderr).toBe(0);
    expect(put.stdout + put.stderr).not.toContain(SECRET);
    expect(await reveal('payments/db')).toEqual({ username: 'app', password: `${SECRET}\n` });
  });

  it('puts a certificate from --cert-file, --key-file and --chain-file, each PEM as in its file', async () => {
    const { cert, key } = selfSignedCert();
    const put = await credreg([
      'cred',
      'put',
      'payments',
      'tls',
      '--type',
      'certificate',
      '--cert-file',
      file('tls.pem', cert),
      '--key-file',
      file('tls.key', key),
      '--chain-file',
      file('chain.pem', cert),
    ]);
    expect(put.code, put.stderr).toBe(0);
    expect(put.stdout + put.stderr).not.toContain('PRIVATE KEY');
    const value = await reveal('payments/tls');
    expect(value).toEqual({ cert_pem: cert, key_pem: key, chain_pem: cert });
    expect((value as { key_pem: string }).key_pem.endsWith('\n')).toBe(true);
  });

  it('puts a generic value from fields of any name, each a string', async () => {
    const put = await credreg([
      'cred',
      'put',
      'payments',
      'misc',
      '--type',
      'generic',
      '--field',
      'region=eu-west-1',
      '--field',
      'empty=',
      '--field',
      `token=@${file('token.txt', SECRET)}`,
    ]);
    expect(put.code, put.stderr).toBe(0);
    expect(await reveal('payments/misc')).toEqual({ region: 'eu-west-1', empty: '', token: SECRET });
  });

  it('rotates with --field: the new version holds the fields given', async () => {
    const r = await credreg([
      'cred',
      'rotate',
      'payments/db',
      '--field',
      'username=app2',
      '--field',
      `password=@${file('pw2.txt', 'second-password')}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('to version 2');
    expect(await reveal('payments/db')).toEqual({ username: 'app2', password: 'second-password' });
  });

  it('rotates a certificate with --cert-file and --key-file', async () => {
    const { cert, key } = selfSignedCert();
    const r = await credreg([
      'cred',
      'rotate',
      'payments/tls',
      '--cert-file',
      file('tls2.pem', cert),
      '--key-file',
      file('tls2.key', key),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(await reveal('payments/tls')).toEqual({ cert_pem: cert, key_pem: key });
  });

  const usageCases: [string, string[], string, RegExp][] = [
    [
      '--field on a string-valued type',
      ['cred', 'put', 'payments', 'u1', '--type', 'api_key', '--field', `key=${SECRET}`],
      '',
      /api_key values are text, not fields/,
    ],
    [
      '--cert-file on another structured type',
      ['cred', 'put', 'payments', 'u2', '--type', 'basic_auth', '--cert-file', 'a.pem'],
      '',
      /--cert-file is for a certificate; this credential is a basic_auth/,
    ],
    [
      'a field given twice',
      [
        'cred',
        'put',
        'payments',
        'u3',
        '--type',
        'basic_auth',
        '--field',
        'username=a',
        '--field',
        `username=${SECRET}`,
      ],
      '',
      /the field username is given twice/,
    ],
    [
      'a field given by --field and by its file flag',
      [
        'cred',
        'put',
        'payments',
        'u4',
        '--type',
        'certificate',
        '--field',
        'cert_pem=@x.pem',
        '--cert-file',
        'y.pem',
      ],
      '',
      /the field cert_pem is given twice \(--cert-file\)/,
    ],
    [
      'a field the type does not have',
      ['cred', 'put', 'payments', 'u6', '--type', 'basic_auth', '--field', `user=${SECRET}`],
      '',
      /a basic_auth value has no field user \(--field\); its fields: username, password/,
    ],
    [
      '--field without name=',
      ['cred', 'put', 'payments', 'u7', '--type', 'generic', '--field', SECRET],
      '',
      /--field takes name=value or name=@path/,
    ],
    [
      '--field without a name',
      ['cred', 'put', 'payments', 'u8', '--type', 'generic', '--field', `=${SECRET}`],
      '',
      /--field takes name=value or name=@path/,
    ],
    [
      '--field name=@ without a path',
      ['cred', 'put', 'payments', 'u9', '--type', 'generic', '--field', 'token=@'],
      '',
      /--field token=@ names no file/,
    ],
    [
      'a file that cannot be read',
      [
        'cred',
        'put',
        'payments',
        'u10',
        '--type',
        'certificate',
        '--cert-file',
        '/nonexistent/a.pem',
        '--key-file',
        '/nonexistent/a.key',
      ],
      '',
      /cannot read \/nonexistent\/a\.pem \(--cert-file, field cert_pem\): ENOENT/,
    ],
    [
      'rotate: --rotator with value flags',
      ['cred', 'rotate', 'payments/db', '--rotator', '--field', `password=${SECRET}`],
      '',
      /--rotator makes the value itself/,
    ],
    [
      'rotate: --field on a string-valued credential',
      ['cred', 'rotate', 'payments/stripe', '--field', `key=${SECRET}`],
      '',
      /api_key values are text, not fields/,
    ],
    [
      'rotate: a field the type does not have',
      ['cred', 'rotate', 'payments/tls', '--field', `password=${SECRET}`],
      '',
      /a certificate value has no field password/,
    ],
  ];
  for (const [what, args, stdin, message] of usageCases) {
    it(`a usage error, exit 2, the value never repeated: ${what}`, async () => {
      const r = await credreg(args, stdin);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
      expect(r.stderr).not.toContain(SECRET);
    });
  }

  it('with --json, a usage error is a problem document with code USAGE on stderr', async () => {
    const r = await credreg([
      'cred',
      'put',
      'payments',
      'u11',
      '--type',
      'api_key',
      '--field',
      'k=v',
      '--json',
    ]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr)).toMatchObject({ code: 'USAGE', title: 'usage error' });
  });

  it('nothing was stored or rotated by a refused command', async () => {
    const list = await credreg(['cred', 'list', 'payments', '--json']);
    const names = (JSON.parse(list.stdout) as { items: { name: string }[] }).items.map((c) => c.name);
    expect(names.sort()).toEqual(['db', 'misc', 'stripe', 'tls']);
    const versions = await credreg(['cred', 'versions', 'payments/db', '--json']);
    expect((JSON.parse(versions.stdout) as { items: unknown[] }).items).toHaveLength(2);
    expect(await reveal('payments/stripe')).toBe('sk_live_text');
  });
});
