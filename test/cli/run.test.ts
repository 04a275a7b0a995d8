/**
 * `credreg run` and `credreg export` as a user runs them: a real `credreg serve` on a temporary
 * embedded store, real `credreg` processes, and children that print a hash of what they were given,
 * never the value itself.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI_ENTRY,
  type CliResult,
  cleanEnv,
  runCli,
  type ServeHandle,
  startServe,
} from '../helpers/cli-server.js';
import { waitUntil } from '../helpers/wait.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** A child that prints `NAME=<sha256 of its value>` for each name it is given (`<unset>` hashed when absent). */
const HASHER = [
  process.execPath,
  '-e',
  "const c=require('node:crypto');for(const k of process.argv.slice(1))console.log(k+'='+c.createHash('sha256').update(process.env[k]??'<unset>').digest('hex'))",
];

const STRIPE = 'sk_live_"quoted" $HOME \\ back';
const DB = { username: 'app', password: 'p"a$s\\s\nw0rd' };
const TRICKY = 'he said "hi" $HOME \\n not a newline\nline two';
const GENERIC = { n: 42, flag: true, nested: { a: [1, 'x'] } };

/** A tiny dotenv reader for the format `export` writes: NAME="…" with \n, \r, \", \\ and \$ escapes. */
function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = line.match(/^([A-Z0-9_]+)="((?:[^"\\]|\\.)*)"$/);
    if (!m) throw new Error(`not a dotenv line: ${line}`);
    out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
  }
  return out;
}

describe('credreg run and export (a real `credreg serve`, driven by the CLI)', () => {
  let server: ServeHandle;
  let env: NodeJS.ProcessEnv;
  const scratch = mkdtempSync(join(tmpdir(), 'credreg-run-'));

  const credreg = (args: string[], stdin = ''): Promise<CliResult> => runCli(args, env, stdin);
  async function ok(args: string[], stdin = ''): Promise<CliResult> {
    const r = await credreg(args, stdin);
    expect(r.code, r.stderr).toBe(0);
    return r;
  }
  /** The reveal rows of the access log with this reason. */
  async function revealsWith(reason: string): Promise<{ credentialId: string; outcome: string }[]> {
    const r = await ok(['audit', 'list', '--action', 'reveal', '--all', '--json']);
    const page = JSON.parse(r.stdout) as {
      items: { credentialId: string; outcome: string; reason: string }[];
    };
    return page.items.filter((e) => e.reason === reason);
  }
  const noValueIn = (r: CliResult) => {
    for (const secret of [STRIPE, DB.password, TRICKY, 'p"a$s']) {
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
  };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    server = await startServe();
    const platform = { ...cleanEnv(), CREDREG_ADDR: server.addr, CREDREG_TOKEN: server.platformToken };
    const tenant = await runCli(['tenant', 'create', 'acme', '--json'], platform);
    expect(tenant.code, tenant.stderr).toBe(0);
    const admin = await runCli(
      ['token', 'create-admin', '--tenant', JSON.parse(tenant.stdout).id, '--name', 'alice'],
      platform,
    );
    expect(admin.code, admin.stderr).toBe(0);
    env = { ...cleanEnv(), CREDREG_ADDR: server.addr, CREDREG_TOKEN: admin.stdout.trim() };

    for (const vault of ['payments', 'exports', 'clashy']) await ok(['vault', 'create', vault]);
    const put = async (vault: string, name: string, type: string, value: string) => {
      const r = await ok(['cred', 'put', vault, name, '--type', type, '--json'], value);
      ids[`${vault}/${name}`] = JSON.parse(r.stdout).id;
    };
    await put('payments', 'stripe-key', 'api_key', STRIPE);
    await put('payments', 'db', 'basic_auth', JSON.stringify(DB));
    await put('exports', 'tricky', 'api_key', TRICKY);
    await put('exports', 'db', 'basic_auth', JSON.stringify(DB));
    await put('exports', 'gen', 'generic', JSON.stringify(GENERIC));
    await put('clashy', 'stripe-key', 'api_key', 'one');
    await put('clashy', 'stripe_key', 'api_key', 'two');
  }, 240_000);
  afterAll(() => server?.stop());

  it('--env puts each value (and #field) in the child environment only, one reveal each, never printed', async () => {
    const r = await credreg([
      'run',
      '--reason',
      'run env',
      '--env',
      'STRIPE_KEY=payments/stripe-key',
      '--env',
      'DB_PASSWORD=payments/db#password',
      '--env',
      `DB_JSON=${ids['payments/db']}`,
      '--',
      ...HASHER,
      'STRIPE_KEY',
      'DB_PASSWORD',
      'DB_JSON',
      'CREDREG_TOKEN',
    ]);
    expect(r.code, r.stderr).toBe(0);
    // The registry token that revealed them is not passed on: the child gets its secrets, no more.
    expect(r.stdout).toBe(
      `STRIPE_KEY=${sha(STRIPE)}\nDB_PASSWORD=${sha(DB.password)}\nDB_JSON=${sha(JSON.stringify(DB))}\nCREDREG_TOKEN=${sha('<unset>')}\n`,
    );
    expect(r.stderr).toBe('');
    noValueIn(r);
    // payments/db named twice (by path and by id) is revealed once.
    const rows = await revealsWith('run env');
    expect(rows.map((e) => e.credentialId).sort()).toEqual(
      [ids['payments/db'], ids['payments/stripe-key']].sort(),
    );
    expect(rows.every((e) => e.outcome === 'granted')).toBe(true);
  }, 120_000);

  it('--vault maps every credential by the naming rule, a structured value to one variable per field; --env wins', async () => {
    const r = await credreg([
      'run',
      '--reason',
      'run vault',
      '--vault',
      'payments',
      '--env',
      'DB_USERNAME=payments/stripe-key',
      '--',
      ...HASHER,
      'STRIPE_KEY',
      'DB_USERNAME',
      'DB_PASSWORD',
      'DB',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      `STRIPE_KEY=${sha(STRIPE)}\nDB_USERNAME=${sha(STRIPE)}\nDB_PASSWORD=${sha(DB.password)}\nDB=${sha('<unset>')}\n`,
    );
    noValueIn(r);
    expect(await revealsWith('run vault')).toHaveLength(2);
  }, 120_000);

  it("the child's exit code passes through", async () => {
    const r = await credreg([
      'run',
      '--reason',
      'exit code',
      '--env',
      'K=payments/stripe-key',
      '--',
      process.execPath,
      '-e',
      'process.exit(7)',
    ]);
    expect(r.code).toBe(7);
  }, 120_000);

  /** Starts `credreg run` with a child that writes `ready` once it is listening, and kills the CLI with SIGTERM. */
  async function runAndTerminate(childCode: string, ready: string): Promise<number | null> {
    const cli = spawn(
      process.execPath,
      [
        ...CLI_ENTRY,
        'run',
        '--reason',
        'signal',
        '--env',
        'K=payments/stripe-key',
        '--',
        process.execPath,
        '-e',
        childCode,
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    cli.stdout.on('data', (d) => (output += d));
    cli.stderr.on('data', (d) => (output += d));
    const closed = new Promise<number | null>((resolve) => cli.once('close', (code) => resolve(code)));
    await waitUntil(async () => existsSync(ready) || cli.exitCode !== null, 'the child to be ready', 120_000);
    expect(existsSync(ready), output).toBe(true);
    cli.kill('SIGTERM');
    return closed;
  }

  it('SIGTERM is passed to the child, which exits 0 after its handler ran', async () => {
    const ready = join(scratch, 'trap-ready');
    const marker = join(scratch, 'trap-marker');
    const code = await runAndTerminate(
      `const fs=require('node:fs');process.on('SIGTERM',()=>{fs.writeFileSync(${JSON.stringify(marker)},'got SIGTERM');process.exit(0)});fs.writeFileSync(${JSON.stringify(ready)},'');setInterval(()=>{},1000)`,
      ready,
    );
    expect(code).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe('got SIGTERM');
  }, 180_000);

  it('a child killed by a signal exits 128 + its number', async () => {
    const ready = join(scratch, 'plain-ready');
    const code = await runAndTerminate(
      `require('node:fs').writeFileSync(${JSON.stringify(ready)},'');setInterval(()=>{},1000)`,
      ready,
    );
    expect(code).toBe(128 + 15);
  }, 180_000);

  it('without --reason: exit 2, nothing revealed or run', async () => {
    const marker = join(scratch, 'no-reason');
    const r = await credreg(['run', '--env', 'K=payments/stripe-key', '--', ...spawnMarker(marker)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/required option '--reason <text>' not specified/);
    expect(existsSync(marker)).toBe(false);
  }, 120_000);

  it('a missing credential: exit 4, nothing revealed, nothing spawned', async () => {
    const marker = join(scratch, 'missing');
    const r = await credreg([
      'run',
      '--reason',
      'missing one',
      '--env',
      'K=payments/stripe-key',
      '--env',
      'G=payments/gone',
      '--',
      ...spawnMarker(marker),
    ]);
    expect(r.code, r.stderr).toBe(4);
    expect(existsSync(marker)).toBe(false);
    expect(await revealsWith('missing one')).toEqual([]);
  }, 120_000);

  it('two credentials mapping to one variable: exit 2 before anything is revealed', async () => {
    const marker = join(scratch, 'clash');
    const r = await credreg(['run', '--reason', 'clash', '--vault', 'clashy', '--', ...spawnMarker(marker)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"stripe-key" and "stripe_key" both map to the variable STRIPE_KEY/);
    expect(existsSync(marker)).toBe(false);
    expect(await revealsWith('clash')).toEqual([]);
  }, 120_000);

  it('#field on a text value, or a field the value lacks, is a usage error naming the field', async () => {
    const onText = await credreg([
      'run',
      '--reason',
      'f',
      '--env',
      'K=payments/stripe-key#password',
      '--',
      ...HASHER,
    ]);
    expect(onText.code).toBe(2);
    expect(onText.stderr).toMatch(/#password selects a field, but stripe-key is a api_key/);
    const unknown = await credreg(['run', '--reason', 'f', '--env', 'K=payments/db#nope', '--', ...HASHER]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no field "nope" \(it has: username, password\)/);
    noValueIn(unknown);
  }, 120_000);

  const expected = {
    DB_PASSWORD: DB.password,
    DB_USERNAME: DB.username,
    GEN_FLAG: 'true',
    GEN_N: '42',
    GEN_NESTED: JSON.stringify(GENERIC.nested),
    TRICKY,
  };

  it('export --format dotenv reads back to the same values (quotes, newlines, $ and \\ escaped)', async () => {
    const r = await ok(['export', '--vault', 'exports', '--reason', 'export dotenv']);
    expect(r.stderr).toBe(''); // stdout is a pipe: no TTY warning
    expect(parseDotenv(r.stdout)).toEqual(expected);
    expect(r.stdout).toContain('TRICKY="he said \\"hi\\" \\$HOME \\\\n not a newline\\nline two"\n');
    expect(await revealsWith('export dotenv')).toHaveLength(3);
  }, 120_000);

  it('export --format json parses back', async () => {
    const r = await ok(['export', '--vault', 'exports', '--reason', 'export json', '--format', 'json']);
    expect(JSON.parse(r.stdout)).toEqual(expected);
  }, 120_000);

  it('export --format yaml writes one "KEY": "escaped" line each, which reads back', async () => {
    const r = await ok(['export', '--vault', 'exports', '--reason', 'export yaml', '--format', 'yaml']);
    const lines = r.stdout.trimEnd().split('\n');
    const read = Object.fromEntries(
      lines.map((line) => {
        const m = line.match(/^("[A-Z0-9_]+"): (".*")$/);
        if (!m) throw new Error(`not a yaml line: ${line}`);
        return [JSON.parse(m[1]!), JSON.parse(m[2]!)];
      }),
    );
    expect(read).toEqual(expected);
  }, 120_000);
});

/** A child that would leave a file behind if it ever ran. */
function spawnMarker(marker: string): string[] {
  return [process.execPath, '-e', `require('node:fs').writeFileSync(${JSON.stringify(marker)},'ran')`];
}
