/**
 * `credreg webhook …` as a user runs it: a real `credreg serve` on a temporary embedded store (its
 * delivery loop on, private URLs allowed), driven by real `credreg` processes over HTTP; and
 * `credreg webhook listen` as a child process receiving what that server sends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookDeliveryResource, WebhookResource } from '../../src/client/api-types.js';
import { generateWebhookSecret } from '../../src/events/webhook-signer.js';
import { headerRecord, type Receiver, startReceiver } from '../events/receiver.js';
import { exited, freePort } from '../helpers/processes.js';
import { waitFor, waitUntil } from '../helpers/wait.js';

const ENTRY = ['--import', 'tsx', 'src/cli/index.ts'];
const SLOW = 180_000; // several CLI processes per test, on a busy two-core machine

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without anything that would point a child at another database, server or secret. */
function cleanEnv(): NodeJS.ProcessEnv {
  const {
    DATABASE_URL: _db,
    CREDREG_ADDR: _addr,
    CREDREG_TOKEN: _token,
    CREDREG_WEBHOOK_SECRET: _secret,
    ...rest
  } = process.env;
  return rest;
}

/** A child's output so far, as it arrives. */
function output(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return { stdout: () => stdout, stderr: () => stderr };
}

describe('credreg webhook commands end to end (a real `credreg serve`, its delivery loop, `webhook listen`)', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'credreg-webhook-')), 'data');
  const children: ChildProcess[] = [];
  let server: ChildProcess;
  let serverLog = '';
  let addr: string;
  let token: string;
  let rx: Receiver;
  let webhookId: string;
  let secret: string;

  /** Runs `credreg <args>` against the server with the tenant admin's token. */
  function credreg(args: string[], env: Record<string, string> = {}): Promise<Result> {
    const child = spawn(process.execPath, [...ENTRY, ...args], {
      env: { ...cleanEnv(), CREDREG_ADDR: addr, CREDREG_TOKEN: token, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = output(child);
    return new Promise((resolve) =>
      child.once('close', (code) => resolve({ code, stdout: out.stdout(), stderr: out.stderr() })),
    );
  }

  /** `credreg <args> --json`, expected to succeed. */
  async function json<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
    const r = await credreg([...args, '--json'], env);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    return JSON.parse(r.stdout) as T;
  }

  /** Starts `credreg webhook listen <args>`; resolves with its URL once it listens. */
  async function listen(args: string[], env: Record<string, string>) {
    const child = spawn(process.execPath, [...ENTRY, 'webhook', 'listen', ...args], {
      env: { ...cleanEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const out = output(child);
    const url = (
      await waitFor(
        () => out.stderr().match(/listening for webhooks on (http:\/\/\S+\/) /),
        `webhook listen to start (stderr: ${out.stderr()})`,
      )
    )[1]!;
    return { child, url, ...out };
  }

  beforeAll(async () => {
    rx = await startReceiver();
    server = spawn(process.execPath, [...ENTRY, 'serve', '--migrate'], {
      env: {
        ...cleanEnv(),
        CREDREG_DATA_DIR: dataDir,
        CREDREG_LISTEN: '127.0.0.1:0',
        CREDREG_MAINTENANCE_INTERVAL_MS: '0',
        CREDREG_AUDIT_SEAL_INTERVAL_MS: '0',
        CREDREG_AUDIT_SINK_INTERVAL_MS: '0',
        CREDREG_ROTATION_INTERVAL_MS: '0',
        // The receivers here are on loopback, over plain http; deliveries go out on a short tick.
        CREDREG_ALLOW_PRIVATE_URLS: 'true',
        CREDREG_WEBHOOK_INTERVAL_MS: '200',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(server);
    server.stdout!.on('data', (d) => (serverLog += d));
    server.stderr!.on('data', (d) => (serverLog += d));
    addr = (
      await waitFor(() => serverLog.match(/credreg listening on (http:\/\/[\d.:]+)/), 'the listening line')
    )[1]!;
    const platform = (
      await waitFor(
        () => serverLog.match(/platform admin token.*?(crp\.[A-Za-z0-9._-]+)/),
        'the bootstrap token',
      )
    )[1]!;
    token = platform;
    const tenant = await json<{ id: string }>(['tenant', 'create', 'acme']);
    const admin = await credreg(['token', 'create-admin', '--tenant', tenant.id, '--name', 'alice']);
    expect(admin.code, admin.stderr).toBe(0);
    token = admin.stdout.trim();
  }, SLOW);
  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rx?.close();
  });

  it(
    'create prints the id and the whsec_ secret, saying it is shown once; list shows it, never the secret',
    async () => {
      const created = await credreg([
        'webhook',
        'create',
        '--url',
        `${rx.origin}/hook`,
        '--events',
        'credential.rotated, credential.expiring',
      ]);
      expect(created.code, created.stderr).toBe(0);
      webhookId = created.stdout.match(/^ID\s+(\S+)$/m)![1]!;
      secret = created.stdout.match(/^SECRET\s+(whsec_\S+)$/m)![1]!;
      expect(created.stdout).toMatch(/^EVENTS\s+credential\.rotated,credential\.expiring$/m);
      expect(created.stdout).toMatch(/^STATUS\s+enabled$/m);
      expect(created.stderr).toMatch(new RegExp(`^webhook ${webhookId}: the secret is shown once`));

      const list = await credreg(['webhook', 'list']);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/^ID\s+URL\s+EVENTS\s+STATUS\s+FAILURES\s+CREATED\n/);
      expect(list.stdout).toMatch(
        new RegExp(`^${webhookId}\\s+${rx.origin}/hook\\s+credential\\.rotated`, 'm'),
      );
      const page = await json<{ items: WebhookResource[]; nextCursor: string | null }>(['webhook', 'list']);
      expect(page.items).toEqual([
        expect.objectContaining({
          id: webhookId,
          url: `${rx.origin}/hook`,
          events: ['credential.rotated', 'credential.expiring'],
          disabledAt: null,
        }),
      ]);
      expect(list.stdout + JSON.stringify(page)).not.toContain(secret);
      expect(page.items[0]).not.toHaveProperty('secret');
    },
    SLOW,
  );

  it(
    "test sends a webhook.test that the server's delivery loop delivers, signed; deliveries shows it",
    async () => {
      const { eventId } = await json<{ eventId: string }>(['webhook', 'test', webhookId]);
      await waitUntil(
        async () => rx.received.some((r) => r.headers['webhook-id'] === eventId),
        'the test message at the receiver',
        SLOW,
      );
      const message = rx.received.find((r) => r.headers['webhook-id'] === eventId)!;
      expect(new Webhook(secret).verify(message.body, headerRecord(message.headers))).toMatchObject({
        type: 'webhook.test',
        data: { subscriptionId: webhookId },
      });

      // The receiver has answered; the attempt is recorded just after.
      let deliveries: WebhookDeliveryResource[] = [];
      await waitUntil(
        async () => {
          deliveries = (await json<{ items: typeof deliveries }>(['webhook', 'deliveries', webhookId])).items;
          return deliveries.some((d) => d.eventId === eventId && d.status === 'delivered');
        },
        'the delivery recorded as delivered',
        SLOW,
      );
      expect(deliveries).toEqual([
        expect.objectContaining({ eventId, eventType: 'webhook.test', status: 'delivered', lastStatus: 204 }),
      ]);
      const table = await credreg(['webhook', 'deliveries', webhookId]);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/^CREATED\s+EVENT\s+TYPE\s+STATUS\s+ATTEMPTS\s+HTTP\s+/);
      expect(table.stdout).toMatch(new RegExp(`\\s${eventId}\\s+webhook\\.test\\s+delivered\\s+1\\s+204\\s`));
    },
    SLOW,
  );

  it(
    'enable answers the subscription, enabled (an enabled one is left as it is)',
    async () => {
      const enabled = await credreg(['webhook', 'enable', webhookId]);
      expect(enabled.code, enabled.stderr).toBe(0);
      expect(enabled.stdout).toMatch(new RegExp(`^ID\\s+${webhookId}$`, 'm'));
      expect(enabled.stdout).toMatch(/^STATUS\s+enabled$/m);
      expect(enabled.stdout).toMatch(/^FAILURES\s+0$/m);
      expect(enabled.stdout).not.toContain(secret);
    },
    SLOW,
  );

  it(
    'delete unsubscribes: the list is empty, and deleting it again is NOT_FOUND',
    async () => {
      const deleted = await credreg(['webhook', 'delete', webhookId]);
      expect(deleted).toMatchObject({ code: 0, stdout: `deleted webhook ${webhookId}\n` });
      expect((await json<{ items: unknown[] }>(['webhook', 'list'])).items).toEqual([]);
      const again = await credreg(['webhook', 'delete', webhookId]);
      expect([again.code, again.stderr]).toEqual([4, 'credreg: NOT_FOUND: webhook subscription not found\n']);
    },
    SLOW,
  );

  it(
    'webhook listen prints each verified delivery from the registry, and refuses (401) one signed with another secret',
    async () => {
      const port = await freePort();
      const sub = await json<{ id: string; secret: string }>([
        'webhook',
        'create',
        '--url',
        `http://127.0.0.1:${port}/`,
        '--events',
        'vault.created',
      ]);
      // The secret from the environment: not on the command line.
      const listener = await listen(['--port', String(port)], { CREDREG_WEBHOOK_SECRET: sub.secret });
      expect(listener.url).toBe(`http://127.0.0.1:${port}/`);

      const { eventId } = await json<{ eventId: string }>(['webhook', 'test', sub.id]);
      const vault = await json<{ id: string }>(['vault', 'create', 'payments']);
      const testLine = await waitFor(
        () => listener.stdout().match(new RegExp(`^(\\S+) webhook\\.test ${eventId} (\\{.*\\})$`, 'm')),
        `the test event printed (stdout: ${listener.stdout()})`,
      );
      expect(Date.parse(testLine[1]!)).not.toBeNaN();
      expect(JSON.parse(testLine[2]!)).toMatchObject({ subscriptionId: sub.id });
      const vaultLine = await waitFor(
        () => listener.stdout().match(/^\S+ vault\.created (\S+) (\{.*\})$/m),
        `the vault.created event printed (stdout: ${listener.stdout()})`,
      );
      expect(JSON.parse(vaultLine[2]!)).toMatchObject({ vaultId: vault.id, name: 'payments' });

      // A message signed with another secret, and one not signed at all, are refused and reported.
      const forged = JSON.stringify({ type: 'vault.deleted', timestamp: new Date().toISOString(), data: {} });
      const headers = {
        'content-type': 'application/json',
        'webhook-id': 'msg_forged',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': new Webhook(generateWebhookSecret()).sign('msg_forged', new Date(), forged),
      };
      const refused = await fetch(listener.url, { method: 'POST', headers, body: forged });
      expect(refused.status).toBe(401);
      const unsigned = await fetch(`${listener.url}other/path`, { method: 'POST', body: forged });
      expect(unsigned.status).toBe(401);
      await waitFor(
        () => listener.stderr().match(/refused \(401\) msg_forged: No matching signature found/),
        'the forged message reported',
      );
      await waitFor(
        () => listener.stderr().match(/refused \(401\) -: Missing required headers/),
        'the unsigned message reported',
      );
      expect(listener.stdout()).not.toContain('vault.deleted');
      expect(listener.stdout() + listener.stderr()).not.toContain(sub.secret);

      listener.child.kill('SIGINT');
      expect(await exited(listener.child)).toBe(0);
      await credreg(['webhook', 'delete', sub.id]);
    },
    SLOW,
  );

  it(
    'webhook listen --json prints each verified message as one JSON line: its webhook-id and the body',
    async () => {
      const own = generateWebhookSecret();
      const listener = await listen(['--port', '0', '--json', '--secret', own], {});
      const body = JSON.stringify({
        type: 'credential.rotated',
        timestamp: '2026-01-02T03:04:05.000Z',
        data: { credentialId: 'c1', version: 2 },
      });
      const res = await fetch(listener.url, {
        method: 'POST',
        headers: {
          'webhook-id': 'msg_1',
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': new Webhook(own).sign('msg_1', new Date(), body),
        },
        body,
      });
      expect(res.status).toBe(204);
      const line = await waitFor(() => listener.stdout().match(/^(\{.*\})\n/), 'the JSON line');
      expect(JSON.parse(line[1]!)).toEqual({
        webhookId: 'msg_1',
        type: 'credential.rotated',
        timestamp: '2026-01-02T03:04:05.000Z',
        data: { credentialId: 'c1', version: 2 },
      });
      expect((await fetch(listener.url)).status).toBe(405);
      listener.child.kill('SIGTERM');
      expect(await exited(listener.child)).toBe(0);
    },
    SLOW,
  );

  it(
    "bad input exits 1 (or 2 for a malformed flag) with the problem's message: a URL that is not http(s), an unknown event type, no secret",
    async () => {
      const ftp = await credreg(['webhook', 'create', '--url', 'ftp://files.example.com/in']);
      expect([ftp.code, ftp.stdout, ftp.stderr]).toEqual([
        1,
        '',
        'credreg: VALIDATION: url must use https\n',
      ]);

      const unknown = await credreg([
        'webhook',
        'create',
        '--url',
        'https://hooks.example.com/in',
        '--events',
        'credential.rotated,credential.exploded',
      ]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/^credreg: VALIDATION: .*events\.1 Invalid option: expected one of/);
      expect(unknown.stderr.trimEnd().split('\n')).toHaveLength(1);

      const none = await credreg([
        'webhook',
        'create',
        '--url',
        'https://hooks.example.com/in',
        '--events',
        ',',
      ]);
      expect(none.code).toBe(2); // a malformed flag: a usage error
      expect(none.stderr).toMatch(/--events <types>.* is invalid\. must name at least one event type/);
      expect((await json<{ items: unknown[] }>(['webhook', 'list'])).items).toEqual([]);

      const noSecret = await credreg(['webhook', 'listen', '--port', '0']);
      expect([noSecret.code, noSecret.stderr]).toEqual([
        1,
        'credreg: no webhook secret: set CREDREG_WEBHOOK_SECRET (or pass --secret) to the whsec_… that `credreg webhook create` printed\n',
      ]);
      const badSecret = await credreg(['webhook', 'listen', '--port', '0'], {
        CREDREG_WEBHOOK_SECRET: 'hunter2-not-a-whsec',
      });
      expect([badSecret.code, badSecret.stderr]).toEqual([
        1,
        'credreg: the webhook secret must start with whsec_\n',
      ]);
    },
    SLOW,
  );
});
