/**
 * `credreg` for scripts: every documented exit code, each from a real `credreg serve` (or, for the
 * codes a healthy server does not give on demand, a stand-in that answers as a failing one would),
 * the `--json` error object on stderr, and `--version`.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { type CliResult, cleanEnv, runCli, type ServeHandle, startServe } from '../helpers/cli-server.js';
import { freePort } from '../helpers/processes.js';

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const MISSING_ID = '01a00000-0000-7000-8000-000000000000';

/** The one JSON object a failed `--json` command writes on stderr. */
function errorJson(r: CliResult): Record<string, unknown> {
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('credreg exit codes and --json errors (a real `credreg serve`)', { timeout: 180_000 }, () => {
  let server: ServeHandle;
  let tenantToken: string;
  let credentialId: string;
  let stub: Server;
  let stubAddr: string;
  const env = (token?: string, addr = server.addr) => ({
    ...cleanEnv(),
    CREDREG_ADDR: addr,
    ...(token ? { CREDREG_TOKEN: token } : {}),
  });
  const cli = (args: string[], token?: string, stdin?: string) => runCli(args, env(token), stdin);

  beforeAll(async () => {
    server = await startServe();
    const tenant = await cli(['tenant', 'create', 'acme', '--json'], server.platformToken);
    expect(tenant.code, tenant.stderr).toBe(0);
    const tenantId = (JSON.parse(tenant.stdout) as { id: string }).id;
    const admin = await cli(
      ['token', 'create-admin', '--tenant', tenantId, '--name', 'alice'],
      server.platformToken,
    );
    expect(admin.code, admin.stderr).toBe(0);
    tenantToken = admin.stdout.trim();
    const vault = await cli(['vault', 'create', 'payments', '--json'], tenantToken);
    expect(vault.code, vault.stderr).toBe(0);
    const vaultId = (JSON.parse(vault.stdout) as { id: string }).id;
    const put = await cli(
      ['cred', 'put', vaultId, 'stripe', '--type', 'api_key', '--json'],
      tenantToken,
      'sk_1\n',
    );
    expect(put.code, put.stderr).toBe(0);
    credentialId = (JSON.parse(put.stdout) as { id: string }).id;

    // A stand-in for a server in trouble: /503 answers as one shutting down does, /500 as one failing.
    stub = createServer((req, res) => {
      const status = req.url?.startsWith('/v1/vaults') ? 503 : 500;
      res.writeHead(status, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          type: 'urn:credreg:problem:unavailable',
          title: 'Service Unavailable',
          status,
          detail: 'the server is shutting down',
          code: 'UNAVAILABLE',
          requestId: 'req-1',
        }),
      );
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    stubAddr = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  }, 180_000);
  afterAll(async () => {
    server?.stop();
    await new Promise((resolve) => stub?.close(resolve));
  });

  it('0: a command that worked', async () => {
    const r = await cli(['vault', 'list'], tenantToken);
    expect(r.code, r.stderr).toBe(0);
  });

  it('--version and -V print the package version alone and exit 0', async () => {
    for (const flag of ['--version', '-V']) {
      expect(await runCli([flag], cleanEnv())).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    }
  });

  it('--help ends with the table of exit codes', async () => {
    const r = await runCli(['--help'], cleanEnv());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Exit codes:');
    for (const row of EXIT_CODES) expect(r.stdout).toContain(`  ${row.code}  ${row.title}: `);
  });

  it('2: an unknown option, a malformed flag value, an unknown command', async () => {
    const unknown = await cli(['vault', 'list', '--bogus'], tenantToken);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown option '--bogus'/);
    expect((await cli(['vault', 'list', '--limit', '0'], tenantToken)).code).toBe(2);
    expect((await cli(['no-such-command'], tenantToken)).code).toBe(2);
    expect((await cli([], tenantToken)).code).toBe(2);
  });

  it('2 with --json: the usage error as { code, title, detail } and nothing else on stderr', async () => {
    const r = await cli(['vault', 'list', '--bogus', '--json'], tenantToken);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(errorJson(r)).toEqual({ code: 'USAGE', title: 'usage error', detail: "unknown option '--bogus'" });
  });

  it('3: no token at all; one line without --json, { code, title, detail } with it', async () => {
    const plain = await cli(['vault', 'list']);
    expect(plain.code).toBe(3);
    expect(plain.stderr).toMatch(/^credreg: no API token for http:\/\/127\.0\.0\.1:\d+: run `credreg login/);
    expect(plain.stderr.trim().split('\n')).toHaveLength(1);
    const json = await cli(['vault', 'list', '--json']);
    expect(json.code).toBe(3);
    expect(errorJson(json)).toMatchObject({ code: 'UNAUTHENTICATED', title: 'unauthenticated or forbidden' });
  });

  it("3: a token the server does not know (401), with --json the server's problem document", async () => {
    const r = await cli(['vault', 'list', '--json'], 'crt.nonsense');
    expect(r.code).toBe(3);
    expect(errorJson(r)).toMatchObject({
      type: 'urn:credreg:problem:unauthenticated',
      title: 'Unauthorized',
      status: 401,
      code: 'UNAUTHENTICATED',
      detail: expect.any(String),
      requestId: expect.any(String),
    });
  });

  it('3: a tenant token asking for what needs a platform token (403)', async () => {
    const r = await cli(['tenant', 'list'], tenantToken);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^credreg: FORBIDDEN: /);
  });

  it('4: a credential that does not exist (404)', async () => {
    const r = await cli(['cred', 'get', MISSING_ID, '--reason', 'exit codes', '--json'], tenantToken);
    expect(r.code).toBe(4);
    expect(errorJson(r)).toMatchObject({ status: 404, code: 'NOT_FOUND', title: 'Not Found' });
  });

  it('5: a name already taken (409) and an --expected-version that is not current (412)', async () => {
    const taken = await cli(['vault', 'create', 'payments'], tenantToken);
    expect(taken.code, taken.stderr).toBe(5);
    const stale = await cli(
      ['cred', 'rotate', credentialId, '--expected-version', '7', '--json'],
      tenantToken,
      'sk_2\n',
    );
    expect(stale.code, stale.stderr).toBe(5);
    expect(errorJson(stale)).toMatchObject({ status: 412, code: 'VERSION_MISMATCH' });
  });

  it('6: nothing listening at the address; with --json { code, title, detail }', async () => {
    const addr = `http://127.0.0.1:${await freePort()}`;
    const plain = await runCli(['vault', 'list'], env(tenantToken, addr));
    expect(plain.code).toBe(6);
    expect(plain.stderr).toMatch(/^credreg: UNAVAILABLE: the server at .* could not be reached/);
    const json = await runCli(['vault', 'list', '--json'], env(tenantToken, addr));
    expect(json.code).toBe(6);
    expect(errorJson(json)).toEqual({
      code: 'UNAVAILABLE',
      title: 'unavailable',
      detail: expect.stringMatching(/could not be reached \(ECONNREFUSED\)/),
    });
  });

  it('6: a server answering 503; the problem document passes through as sent', async () => {
    const r = await runCli(['vault', 'list', '--json'], env(tenantToken, stubAddr));
    expect(r.code).toBe(6);
    expect(errorJson(r)).toEqual({
      type: 'urn:credreg:problem:unavailable',
      title: 'Service Unavailable',
      status: 503,
      detail: 'the server is shutting down',
      code: 'UNAVAILABLE',
      requestId: 'req-1',
    });
  });

  it('1: anything else, e.g. input the server refuses (400) or a server failing (500)', async () => {
    const invalid = await cli(
      ['token', 'create', '--principal', 'not-a-uuid', '--role', 'reader'],
      tenantToken,
    );
    expect(invalid.code, invalid.stderr).toBe(1);
    expect(invalid.stderr).toMatch(/^credreg: VALIDATION: /);
    const failing = await runCli(['tenant', 'list'], env(tenantToken, stubAddr));
    expect(failing.code).toBe(1);
  });
});
