/**
 * Audit sinks, end to end on every backend: real files, a real HTTP collector (node:http) and a
 * real syslog collector (node:net), fed by the registry from its sealed access log.
 */

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { AuditSinkConfig, Config } from '../../src/config.js';
import { MAX_TENANT_SINKS } from '../../src/core/audit-sink-service.js';
import type { AuditSinkRecord } from '../../src/core/ports.js';
import { AUDIT_LEAF_FIELDS } from '../../src/crypto/audit-leaf.js';
import { HttpMetrics } from '../../src/http/metrics.js';
import { assemble, type RegistryHandle } from '../../src/main.js';
import { LEAVES_SQL } from '../helpers/audit-export.js';
import {
  asRuntime,
  describeEachBackend,
  expectCode,
  openTestRegistry,
  silentLogger,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';
import { HAS_OPENSSL, selfSignedCert } from '../helpers/self-signed-cert.js';
import { octetCountedReader } from '../helpers/syslog-frames.js';
import { waitUntil } from '../helpers/wait.js';
import { seedTenant, startServer } from '../http/helpers.js';

const alice = { actor: 'alice' };

/** The `audit` config with these sinks, the loops off (the tests drive delivery by hand). */
const withSinks = (sinks: AuditSinkConfig[], extra: Partial<Config> = {}): Partial<Config> => ({
  audit: { sealIntervalMs: 0, checkpointIntervalMs: 60_000, sinkIntervalMs: 0, sinks },
  ...extra,
});

const fileSink = (
  name: string,
  path: string,
  more: Partial<{ maxBytes: number; keep: number; tenantId: string }> = {},
) => ({ name, kind: 'file', path, maxBytes: 100 * 1024 * 1024, keep: 5, ...more }) as AuditSinkConfig;

/** A tenant with a credential revealed `reveals` times: each reveal, and the store, is one access-log row. */
async function tenantWithRows(registry: RegistryHandle, name: string, reveals: number) {
  const tenant = await registry.tenants.create({ name });
  const t = registry.forTenant(tenant.id);
  const vault = await t.vaults.create({ name: 'v' }, alice);
  const c = await t.credentials.store({ vaultId: vault.id, name: 'k', type: 'api_key', value: 'v' }, alice);
  for (let i = 0; i < reveals; i++) await t.credentials.reveal(c.id, { ...alice, reason: `r${i}` });
  return { id: tenant.id, t, credentialId: c.id };
}

/** Seals everything and signs a checkpoint, for each tenant. */
async function sealAll(registry: RegistryHandle, tenants: string[]) {
  for (const id of tenants) await registry.forTenant(id).audit.checkpoint();
}

/** Delivery passes until one delivers nothing. */
async function drain(registry: RegistryHandle, options: { batchSize?: number } = {}) {
  for (let i = 0; i < 1000; i++) {
    const r = await registry.deliverAuditSinks(options);
    if (r.delivered === 0 && r.checkpoints === 0) return;
  }
  throw new Error('delivery did not settle');
}

/** The tenant's leaves as the database holds them, in leaf order. */
async function leafIds(t: TestRegistry, tenantId: string): Promise<string[]> {
  return asRuntime(t, tenantId, async (q) =>
    (
      await q<{ log_id: string }>(`SELECT log_id FROM (${LEAVES_SQL}) AS f ORDER BY leaf_index`, [tenantId])
    ).map((r) => String(r.log_id)),
  );
}

const readLines = (path: string): AuditSinkRecord[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditSinkRecord);

const accessOf = (records: AuditSinkRecord[], tenantId: string) =>
  records.filter((r) => r.type === 'access' && r.tenantId === tenantId) as Array<
    Extract<AuditSinkRecord, { type: 'access' }> & { id: string; leafIndex: number }
  >;

describeEachBackend('audit sinks', (backend) => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'credreg-sinks-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** A CA certificate in a file of its own, as an operator's `tls.caFile` names it. */
  const writeCa = (pem: string) => {
    const path = join(dir, `ca-${randomUUID()}.pem`);
    writeFileSync(path, pem);
    return path;
  };
  const opened: TestRegistry[] = [];
  afterEach(async () => {
    for (const t of opened.splice(0)) await t.close();
  });
  const open = async (config: Partial<Config>) => {
    const t = await openTestRegistry(backend, { config });
    opened.push(t);
    return t;
  };

  it('a file sink receives every sealed row once, in leaf order, then the checkpoint that covers them', async () => {
    const path = join(dir, `all-${randomUUID()}.jsonl`);
    const t = await open(withSinks([fileSink('local', path)]));
    const a = await tenantWithRows(t.registry, 'a', 12);
    const b = await tenantWithRows(t.registry, 'b', 7);
    await sealAll(t.registry, [a.id, b.id]);
    await drain(t.registry, { batchSize: 5 });
    const records = readLines(path);
    for (const tenant of [a, b]) {
      const access = accessOf(records, tenant.id);
      expect(access.map((r) => r.id)).toEqual(await leafIds(t, tenant.id));
      expect(access.map((r) => r.leafIndex)).toEqual(access.map((_, i) => i));
      const first = access[0]!;
      expect(Object.keys(first).sort()).toEqual(
        [...AUDIT_LEAF_FIELDS, 'type', 'leafIndex', 'leafHash'].sort(),
      );
      expect(Buffer.from(first.leafHash, 'base64')).toHaveLength(32);
      const checkpoints = records.filter((r) => r.type === 'checkpoint' && r.tenantId === tenant.id);
      expect(checkpoints).toHaveLength(1);
      const cp = checkpoints[0] as Extract<AuditSinkRecord, { type: 'checkpoint' }>;
      const stored = await tenant.t.audit.checkpoint();
      expect(cp).toMatchObject({ treeSize: stored.treeSize, checkpoint: stored.checkpoint });
      // After every row it covers.
      const at = records.indexOf(cp);
      expect(
        records.slice(0, at).filter((r) => r.type === 'access' && r.tenantId === tenant.id),
      ).toHaveLength(cp.treeSize);
    }
    expect(await t.registry.auditSinkStatus()).toEqual([
      { sink: 'local', up: true, consecutiveFailures: 0, lag: 0 },
    ]);
  });

  it('rotation by size keeps every line across the files, none twice', async () => {
    const path = join(dir, `rot-${randomUUID()}.jsonl`);
    const t = await open(withSinks([fileSink('rotating', path, { maxBytes: 4096, keep: 50 })]));
    const a = await tenantWithRows(t.registry, 'a', 40);
    await sealAll(t.registry, [a.id]);
    await drain(t.registry, { batchSize: 3 });
    const base = path.split('/').at(-1)!;
    const files = readdirSync(dir).filter((f) => f === base || f.startsWith(`${base}.`));
    expect(files.length).toBeGreaterThan(3);
    // Oldest first: path.N … path.1, then path.
    const ordered = files
      .map((f) => ({ f, n: f === base ? 0 : Number(f.slice(base.length + 1)) }))
      .sort((x, y) => y.n - x.n);
    const all = ordered.flatMap(({ f }) => readLines(join(dir, f)));
    for (const { f } of ordered) {
      const size = readFileSync(join(dir, f)).length;
      // A batch is never split, so a file may pass the bound only by the batch that started it.
      expect(size, f).toBeLessThan(4096 * 2);
    }
    expect(accessOf(all, a.id).map((r) => r.id)).toEqual(await leafIds(t, a.id));
  });

  it('an http sink that refuses (503) loses nothing: after the outage every row arrives exactly once, in leaf order', async () => {
    let refusing = true;
    const accepted: AuditSinkRecord[][] = [];
    let refused = 0;
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (refusing) {
          refused++;
          res.writeHead(503).end();
          return;
        }
        expect(req.headers['content-type']).toBe('application/json');
        expect(req.headers['x-collector-key']).toBe('k-123');
        accepted.push(
          (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { entries: AuditSinkRecord[] }).entries,
        );
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const sinks: AuditSinkConfig[] = [
        {
          name: 'siem',
          kind: 'http',
          url: `http://127.0.0.1:${port}/ingest`,
          headers: { 'x-collector-key': 'k-123' },
          timeoutMs: 30_000,
        },
      ];
      const t = await open(withSinks(sinks, { webhooks: { intervalMs: 0, allowPrivateUrls: true } }));
      const metrics = new HttpMetrics(t.registry);
      const a = await tenantWithRows(t.registry, 'a', 9);
      await sealAll(t.registry, [a.id]);
      // Down: each pass fails, and the sink is left alone until its retry delay has passed.
      for (let i = 0; i < 5; i++) {
        const r = await t.registry.deliverAuditSinks({ batchSize: 4 });
        expect(r).toEqual({ delivered: 0, checkpoints: 0, failed: 1 });
        expect(await t.registry.deliverAuditSinks({ batchSize: 4 }), 'within the retry delay').toEqual({
          delivered: 0,
          checkpoints: 0,
          failed: 0,
        });
        t.clock.advance(120_000);
      }
      expect(refused).toBe(5);
      const [status] = await t.registry.auditSinkStatus();
      expect(status).toMatchObject({ sink: 'siem', up: false, consecutiveFailures: 5 });
      expect(status!.lag).toBe((await leafIds(t, a.id)).length);
      const scraped = await metrics.registry.metrics();
      expect(scraped).toContain('credreg_audit_sink_up{sink="siem"} 0');
      expect(scraped).toMatch(new RegExp(`credreg_audit_sink_lag\\{sink="siem"\\} ${status!.lag}\\b`));
      // More rows meanwhile: they wait in the database too.
      await t.registry.forTenant(a.id).credentials.reveal(a.credentialId, { ...alice, reason: 'during' });
      await sealAll(t.registry, [a.id]);
      refusing = false;
      await drain(t.registry, { batchSize: 4 });
      const received = accepted.flat();
      const ids = accessOf(received, a.id).map((r) => r.id);
      expect(ids).toEqual(await leafIds(t, a.id));
      expect(new Set(ids).size).toBe(ids.length);
      expect(received.filter((r) => r.type === 'checkpoint').length).toBeGreaterThanOrEqual(1);
      expect(accepted.every((batch) => batch.length <= 5)).toBe(true);
      const after = await metrics.registry.metrics();
      expect(after).toContain('credreg_audit_sink_up{sink="siem"} 1');
      expect(after).toContain('credreg_audit_sink_lag{sink="siem"} 0');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  /** A syslog collector over plain TCP, or over TLS with a certificate the sink is given the CA file of. */
  async function syslogDelivery(transport: 'tcp' | 'tls') {
    const certificate = transport === 'tls' ? selfSignedCert() : undefined;
    const messages: string[] = [];
    const connections = new Set<import('node:net').Socket>();
    const onSocket = (socket: import('node:net').Socket) => {
      connections.add(socket);
      const read = octetCountedReader();
      socket.on('data', (chunk: Buffer) => messages.push(...read(chunk)));
    };
    const server: TcpServer = certificate
      ? createTlsServer({ key: certificate.key, cert: certificate.cert }, onSocket)
      : createTcpServer(onSocket);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const t = await open(
        withSinks([
          {
            name: 'syslog',
            kind: 'syslog',
            host: '127.0.0.1',
            port,
            facility: 13,
            appName: 'credreg',
            ...(certificate ? { tls: { caFile: writeCa(certificate.cert) } } : {}),
          },
        ]),
      );
      const a = await tenantWithRows(t.registry, 'a', 6);
      await sealAll(t.registry, [a.id]);
      await drain(t.registry, { batchSize: 4 });
      const expected = await leafIds(t, a.id);
      await waitUntil(async () => messages.length >= expected.length + 1, 'every syslog message');
      const parsed = messages.map((m) => {
        // <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP BOM MSG
        const match = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\d+) (access|checkpoint) - \uFEFF(\{.*\})$/s.exec(m);
        expect(match, m).not.toBeNull();
        const [, pri, time, , app, , msgid, json] = match!;
        expect(Number(pri)).toBe(13 * 8 + 6);
        expect(app).toBe('credreg');
        expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/);
        const record = JSON.parse(json!) as AuditSinkRecord;
        expect(record.type).toBe(msgid);
        return record;
      });
      expect(accessOf(parsed, a.id).map((r) => r.id)).toEqual(expected);
      expect(parsed.filter((r) => r.type === 'checkpoint')).toHaveLength(1);
    } finally {
      // The sink keeps its connection open; close() waits for every connection to end.
      for (const c of connections) c.destroy();
      await new Promise((r) => server.close(r));
    }
  }

  it('a syslog sink sends each row as an RFC 5424 message in an octet-counted frame over TCP', () =>
    syslogDelivery('tcp'));

  it.skipIf(!HAS_OPENSSL)('a syslog sink over TLS (the CA file from its config) sends the same frames', () =>
    syslogDelivery('tls'),
  );

  it('a syslog sink whose TLS files cannot be read, or are not PEM of their kind, stops the start-up, naming them', async () => {
    const t = await open(withSinks([]));
    const sink = {
      name: 'siem',
      kind: 'syslog',
      host: '127.0.0.1',
      port: 6514,
      facility: 13,
      appName: 'credreg',
    };
    const startWith = (tls: Record<string, string>) =>
      expectCode(
        assemble(t.db, {
          config: { ...testConfig(t.prefix, t.rootKey), ...withSinks([{ ...sink, tls } as AuditSinkConfig]) },
          logger: silentLogger,
        }),
        'CONFIG',
      ).then((err) => err.message);
    const missing = join(dir, `absent-${randomUUID()}.pem`);
    const junk = writeCa(
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
    );
    // A real private key, made here, of no certificate in the test: its text must not be quoted.
    const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const secret = key.split('\n')[1]!;
    const notAKey = writeCa(key);
    expect(await startWith({ caFile: missing })).toBe(
      `audit sink siem: tls.caFile ${missing} cannot be read (ENOENT)`,
    );
    expect(await startWith({ caFile: junk })).toBe(
      `audit sink siem: tls.caFile ${junk} is not a list of PEM certificates`,
    );
    expect(await startWith({ certFile: junk, keyFile: missing })).toBe(
      `audit sink siem: tls.keyFile ${missing} cannot be read (ENOENT)`,
    );
    const pair = await startWith({ certFile: junk, keyFile: notAKey });
    expect(pair).toBe(
      `audit sink siem: tls.certFile ${junk} and tls.keyFile ${notAKey} are not a PEM certificate and its private key`,
    );
    expect(pair).not.toContain(secret.slice(0, 16));
  });

  it("a sink scoped to one tenant gets only that tenant's rows", async () => {
    const onlyPath = join(dir, `only-${randomUUID()}.jsonl`);
    const allPath = join(dir, `every-${randomUUID()}.jsonl`);
    // The tenant's id is known only once it exists: the scoped registry is opened on the same db after.
    const t = await open(withSinks([fileSink('every', allPath)]));
    const a = await tenantWithRows(t.registry, 'a', 3);
    const b = await tenantWithRows(t.registry, 'b', 4);
    await sealAll(t.registry, [a.id, b.id]);
    const scoped = await assemble(t.db, {
      config: {
        ...testConfig(t.prefix, t.rootKey),
        ...withSinks([fileSink('every', allPath), fileSink('only-b', onlyPath, { tenantId: b.id })]),
      },
      logger: silentLogger,
      clock: t.clock,
    });
    await drain(scoped);
    const only = readLines(onlyPath);
    expect(only.length).toBeGreaterThan(0);
    expect(only.every((r) => r.tenantId === b.id)).toBe(true);
    expect(accessOf(only, b.id).map((r) => r.id)).toEqual(await leafIds(t, b.id));
    const every = readLines(allPath);
    expect(accessOf(every, a.id).map((r) => r.id)).toEqual(await leafIds(t, a.id));
    expect(accessOf(every, b.id).map((r) => r.id)).toEqual(await leafIds(t, b.id));
    const status = await scoped.auditSinkStatus();
    expect(status.map((s) => [s.sink, s.lag])).toEqual([
      ['every', 0],
      ['only-b', 0],
    ]);
  });

  it('the cursor survives a restart: a new registry on the same database resumes without duplicates', async () => {
    const path = join(dir, `restart-${randomUUID()}.jsonl`);
    const config = withSinks([fileSink('local', path)]);
    const t = await open(config);
    const a = await tenantWithRows(t.registry, 'a', 5);
    await sealAll(t.registry, [a.id]);
    await drain(t.registry);
    const before = readLines(path).length;
    // A second process on the same database: nothing in memory carries over.
    const next = await assemble(t.db, {
      config: { ...testConfig(t.prefix, t.rootKey), ...config },
      logger: silentLogger,
      clock: t.clock,
    });
    expect(await next.deliverAuditSinks()).toEqual({ delivered: 0, checkpoints: 0, failed: 0 });
    expect(readLines(path)).toHaveLength(before);
    for (let i = 0; i < 3; i++)
      await next.forTenant(a.id).credentials.reveal(a.credentialId, { ...alice, reason: 'after' });
    await sealAll(next, [a.id]);
    await drain(next);
    const ids = accessOf(readLines(path), a.id).map((r) => r.id);
    expect(ids).toEqual(await leafIds(t, a.id));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('two instances delivering at once send each row once: a cursor is claimed before its batch is sent', async () => {
    const path = join(dir, `two-${randomUUID()}.jsonl`);
    const config = withSinks([fileSink('shared', path)]);
    const t = await open(config);
    const tenants = [];
    for (const name of ['a', 'b', 'c']) tenants.push(await tenantWithRows(t.registry, name, 8));
    await sealAll(
      t.registry,
      tenants.map((x) => x.id),
    );
    const other = await assemble(t.db, {
      config: { ...testConfig(t.prefix, t.rootKey), ...config },
      logger: silentLogger,
      clock: t.clock,
    });
    await Promise.all([drain(t.registry, { batchSize: 2 }), drain(other, { batchSize: 2 })]);
    await drain(t.registry);
    const records = readLines(path);
    for (const x of tenants) expect(accessOf(records, x.id).map((r) => r.id)).toEqual(await leafIds(t, x.id));
    expect(records.filter((r) => r.type === 'checkpoint')).toHaveLength(tenants.length);
  });

  it('a pass that takes a page of tenants goes on from there next time, so no tenant is starved', async () => {
    const path = join(dir, `pages-${randomUUID()}.jsonl`);
    const t = await open(withSinks([fileSink('paged', path)]));
    const a = await tenantWithRows(t.registry, 'a', 3);
    const b = await tenantWithRows(t.registry, 'b', 3);
    await sealAll(t.registry, [a.id, b.id]);
    // One tenant and one row per pass: both tenants are far behind, yet both get a turn.
    await t.registry.deliverAuditSinks({ maxTenants: 1, batchSize: 1 });
    await t.registry.deliverAuditSinks({ maxTenants: 1, batchSize: 1 });
    const tenantsServed = readLines(path).map((r) => r.tenantId);
    expect(new Set(tenantsServed)).toEqual(new Set([a.id, b.id]));
  });

  it('secrets and tokens never reach a sink (canary)', async () => {
    const path = join(dir, `canary-${randomUUID()}.jsonl`);
    const s = await startServer(backend, { config: withSinks([fileSink('local', path)]) });
    try {
      const { tenant, t, tokens } = await seedTenant(s, 'canary');
      const canary = `canary-${randomUUID()}`;
      const vault = await t.vaults.create({ name: 'v' }, alice);
      const c = await t.credentials.store(
        { vaultId: vault.id, name: 'k', type: 'api_key', value: canary },
        alice,
      );
      const res = await s.call('POST', `/v1/credentials/${c.id}/reveal`, {
        token: tokens.reader,
        body: { reason: 'canary' },
      });
      expect(res.status).toBe(200);
      expect(res.text).toContain(canary);
      // A refused attempt, with a token in the wrong place, is logged too.
      await s.call('POST', `/v1/credentials/${c.id}/reveal`, {
        token: `${tokens.admin}x`,
        body: { reason: 'bad' },
      });
      await s.registry.forTenant(tenant.id).audit.checkpoint();
      await drain(s.registry);
      const out = readFileSync(path, 'utf8');
      expect(out).toContain(c.id);
      expect(out).toContain('"reason":"canary"');
      expect(out).not.toContain(canary);
      for (const token of Object.values(tokens)) {
        expect(out).not.toContain(token);
        expect(out).not.toContain(token.split('.').at(-1)!);
      }
    } finally {
      await s.stop();
    }
  });
});

describeEachBackend("a tenant's own audit sinks (the API)", (backend) => {
  it("a tenant admin adds an http sink: it gets the tenant's rows only, and nothing once removed", async () => {
    const bodies: AuditSinkRecord[][] = [];
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(
          (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { entries: AuditSinkRecord[] }).entries,
        );
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const s = await startServer(backend, { config: { webhooks: { intervalMs: 0, allowPrivateUrls: true } } });
    try {
      const own = await seedTenant(s, 'own');
      const other = await seedTenant(s, 'other');
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/in`;
      for (const role of ['reader', 'writer', 'auditor'] as const) {
        const refused = await s.call('POST', '/v1/audit/sinks', { token: own.tokens[role], body: { url } });
        expect(refused.status, role).toBe(403);
      }
      const created = await s.call('POST', '/v1/audit/sinks', { token: own.tokens.admin, body: { url } });
      expect(created.status, created.text).toBe(201);
      const sink = created.body as { id: string; url: string; tenantId: string };
      expect(sink).toMatchObject({ url, tenantId: own.tenant.id });
      const listed = await s.call('GET', '/v1/audit/sinks', { token: own.tokens.admin });
      expect((listed.body as { items: unknown[] }).items).toEqual([expect.objectContaining({ id: sink.id })]);
      expect(
        ((await s.call('GET', '/v1/audit/sinks', { token: other.tokens.admin })).body as { items: unknown[] })
          .items,
      ).toEqual([]);
      const bad = await s.call('POST', '/v1/audit/sinks', {
        token: own.tokens.admin,
        body: { url: 'ftp://example.com/x' },
      });
      expect(bad.status).toBe(400);
      await own.t.audit.checkpoint();
      await other.t.audit.checkpoint();
      await drain(s.registry);
      const received = bodies.flat();
      expect(received.length).toBeGreaterThan(0);
      expect(received.every((r) => r.tenantId === own.tenant.id)).toBe(true);
      const ids = accessOf(received, own.tenant.id).map((r) => r.id);
      expect(ids).toEqual(await leafIds(s, own.tenant.id));
      // Another tenant's sink id answers as a missing one.
      expect(
        (await s.call('DELETE', `/v1/audit/sinks/${sink.id}`, { token: other.tokens.admin })).status,
      ).toBe(404);
      expect((await s.call('DELETE', `/v1/audit/sinks/${sink.id}`, { token: own.tokens.admin })).status).toBe(
        204,
      );
      const before = bodies.length;
      await own.t.credentials.store(
        {
          vaultId: (await own.t.vaults.create({ name: 'v' }, alice)).id,
          name: 'k',
          type: 'api_key',
          value: 'x',
        },
        alice,
      );
      await own.t.audit.checkpoint();
      await drain(s.registry);
      expect(bodies.length).toBe(before);
    } finally {
      await s.stop();
      await new Promise((r) => server.close(r));
    }
  });
});

describeEachBackend("a tenant's own audit sinks (preconditions)", (backend) => {
  let t: TestRegistry;
  beforeAll(async () => {
    t = await openTestRegistry(backend);
  });
  afterAll(() => t.close());

  it("Precondition: the URL passes the webhooks' URL policy.", async () => {
    const tenant = await t.registry.tenants.create({ name: 'url' });
    const sinks = t.registry.forTenant(tenant.id).auditSinks;
    for (const url of ['ftp://siem.example.com/in', 'http://siem.example.com/in', 'https://10.0.0.1/in']) {
      const err = await expectCode(sinks.create({ url }, alice), 'VALIDATION');
      expect(err.message, url).toMatch(/^url /);
    }
    expect((await sinks.list()).items).toEqual([]);
  });

  it('Precondition: the tenant has fewer than MAX_TENANT_SINKS sinks.', async () => {
    const tenant = await t.registry.tenants.create({ name: 'many' });
    const sinks = t.registry.forTenant(tenant.id).auditSinks;
    for (let i = 0; i < MAX_TENANT_SINKS; i++)
      await sinks.create({ url: `https://siem.example.com/${i}` }, alice);
    await expectCode(sinks.create({ url: 'https://siem.example.com/one-more' }, alice), 'CONFLICT');
    expect((await sinks.list()).items).toHaveLength(MAX_TENANT_SINKS);
  });
});
