/**
 * The client's side of the HTTP contract, against a tiny local server that answers canned
 * responses: what it sends, and how every kind of failure becomes an ApiError.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, isApiError, paginate, RegistryClient } from '../../src/client/index.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: Seen, res: ServerResponse) => void;

const SECRET = 'sk_live_do-not-print-me';

let server: Server;
let addr: string;
let handler: Handler;
let seen: Seen[];

function problem(res: ServerResponse, status: number, doc: Record<string, unknown>): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' }).end(JSON.stringify(doc));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function failure(call: Promise<unknown>): Promise<ApiError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  addr = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  seen = [];
  handler = (_req, res) => json(res, 200, {});
});

describe('RegistryClient requests', () => {
  it('sends the bearer token, and a JSON content type only when there is a body', async () => {
    handler = (_req, res) =>
      json(res, 201, { id: 't1', name: 'acme', createdAt: '2025-01-01T00:00:00.000Z' });
    const client = new RegistryClient({ addr: `${addr}/`, token: 'crp.abc' });
    const tenant = await client.createTenant({ name: 'acme' });
    await client.getVault('v1');

    expect(tenant).toEqual({ id: 't1', name: 'acme', createdAt: '2025-01-01T00:00:00.000Z' });
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/tenants', body: '{"name":"acme"}' });
    expect(seen[0]!.headers.authorization).toBe('Bearer crp.abc');
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[1]).toMatchObject({ method: 'GET', url: '/v1/vaults/v1', body: '' });
    expect(seen[1]!.headers['content-type']).toBeUndefined();
  });

  it('sends no Authorization header without a token', async () => {
    await new RegistryClient({ addr }).health();
    expect(seen[0]!.headers.authorization).toBeUndefined();
  });

  it('puts listing options in the query, leaving out absent ones and sending instants as ISO strings', async () => {
    handler = (_req, res) => json(res, 200, { items: [], nextCursor: null });
    const client = new RegistryClient({ addr, token: 't' });
    await client.listAudit({ action: 'reveal', from: new Date('2025-02-03T04:05:06Z'), limit: 50 });
    await client.listCredentials('v/1', { includeDeleted: true });

    expect(seen[0]!.url).toBe('/v1/audit?action=reveal&from=2025-02-03T04%3A05%3A06.000Z&limit=50');
    expect(seen[1]!.url).toBe('/v1/vaults/v%2F1/credentials?includeDeleted=true');
  });

  it('returns undefined for 204 and sends force=true only when asked', async () => {
    handler = (_req, res) => res.writeHead(204).end();
    const client = new RegistryClient({ addr, token: 't' });
    await expect(client.deleteVault('v1')).resolves.toBeUndefined();
    await expect(client.deleteVault('v1', { force: true })).resolves.toBeUndefined();
    await expect(client.revokeToken('k1')).resolves.toBeUndefined();
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'DELETE /v1/vaults/v1',
      'DELETE /v1/vaults/v1?force=true',
      'DELETE /v1/tokens/k1',
    ]);
  });

  it('webhook methods: one request each, ids as path segments, page options in the query', async () => {
    handler = (req, res) => (req.method === 'DELETE' ? res.writeHead(204).end() : json(res, 200, {}));
    const client = new RegistryClient({ addr, token: 't' });
    await client.createWebhook({ url: 'https://hooks.example.com/in', events: ['credential.rotated'] });
    await client.listWebhooks({ limit: 5 });
    await client.listWebhookDeliveries('w/1', { cursor: 'c1' });
    await client.testWebhook('w1');
    await client.enableWebhook('w1');
    await expect(client.deleteWebhook('w1')).resolves.toBeUndefined();
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'POST /v1/webhooks',
      'GET /v1/webhooks?limit=5',
      'GET /v1/webhooks/w%2F1/deliveries?cursor=c1',
      'POST /v1/webhooks/w1/test',
      'POST /v1/webhooks/w1/enable',
      'DELETE /v1/webhooks/w1',
    ]);
    expect(JSON.parse(seen[0]!.body)).toEqual({
      url: 'https://hooks.example.com/in',
      events: ['credential.rotated'],
    });
  });

  it('paginate walks every page, passing each nextCursor back', async () => {
    handler = (req, res) => {
      const cursor = new URL(req.url, addr).searchParams.get('cursor');
      if (cursor === null) json(res, 200, { items: [1, 2], nextCursor: 'c1' });
      else if (cursor === 'c1') json(res, 200, { items: [3], nextCursor: 'c2' });
      else json(res, 200, { items: [], nextCursor: null });
    };
    const client = new RegistryClient({ addr, token: 't' });
    const all: unknown[] = [];
    for await (const item of paginate((cursor) => client.listTenants({ limit: 2, cursor }))) all.push(item);
    expect(all).toEqual([1, 2, 3]);
    expect(seen.map((s) => s.url)).toEqual([
      '/v1/tenants?limit=2',
      '/v1/tenants?limit=2&cursor=c1',
      '/v1/tenants?limit=2&cursor=c2',
    ]);
  });

  it('refuses an address that is not an http(s) URL', () => {
    expect(() => new RegistryClient({ addr: '127.0.0.1:8200' })).toThrow(/must be an http\(s\) URL/);
  });
});

describe('RegistryClient error mapping', () => {
  it('turns a problem document into an ApiError with its status, code, detail and request id', async () => {
    handler = (_req, res) =>
      problem(res, 403, {
        type: 'about:blank',
        title: 'Forbidden',
        status: 403,
        detail: 'a reader token cannot rotate credentials',
        code: 'FORBIDDEN',
        requestId: 'req-42',
      });
    const err = await failure(
      new RegistryClient({ addr, token: 't' }).rotateCredential('c1', { value: SECRET }),
    );

    expect(err).toMatchObject({
      name: 'ApiError',
      status: 403,
      code: 'FORBIDDEN',
      detail: 'a reader token cannot rotate credentials',
      issues: [],
      requestId: 'req-42',
    });
    expect(err.message).toBe('FORBIDDEN: a reader token cannot rotate credentials');
    expect(isApiError(err, 'FORBIDDEN')).toBe(true);
    expect(isApiError(err, 'NOT_FOUND')).toBe(false);
  });

  it('keeps the field issues of a VALIDATION problem and names them in the message', async () => {
    handler = (_req, res) =>
      problem(res, 400, {
        title: 'Bad Request',
        status: 400,
        detail: 'the request is not valid',
        code: 'VALIDATION',
        issues: [{ path: 'value.password', problem: 'is required' }, { junk: true }],
        requestId: 'req-43',
      });
    const err = await failure(
      new RegistryClient({ addr, token: 't' }).storeCredential('v1', {
        name: 'db',
        type: 'basic_auth',
        value: { username: 'app', password: SECRET },
      }),
    );

    expect(err.status).toBe(400);
    expect(err.issues).toEqual([{ path: 'value.password', problem: 'is required' }]);
    expect(err.message).toBe('VALIDATION: the request is not valid (value.password is required)');
    expect(err.message).not.toContain(SECRET);
  });

  it('does not repeat an issue that the detail already names', async () => {
    handler = (_req, res) =>
      problem(res, 400, {
        detail: 'invalid input: name must be 1–100 letters',
        code: 'VALIDATION',
        issues: [{ path: 'name', problem: 'must be 1–100 letters' }],
      });
    const err = await failure(new RegistryClient({ addr, token: 't' }).createVault({ name: '' }));
    expect(err.message).toBe('VALIDATION: invalid input: name must be 1–100 letters');
  });

  it('maps a response that is not a problem document by its status, without quoting its body', async () => {
    handler = (_req, res) =>
      res
        .writeHead(502, { 'content-type': 'text/html', 'x-request-id': 'edge-1' })
        .end(`<html>bad gateway ${SECRET}</html>`);
    const err = await failure(new RegistryClient({ addr, token: 't' }).listVaults());

    expect(err).toMatchObject({ status: 502, code: 'HTTP_502', requestId: 'edge-1' });
    expect(err.message).toBe(`HTTP_502: the server at ${addr} answered 502 Bad Gateway`);
  });

  it('takes what it can from a JSON error body without a code', async () => {
    handler = (_req, res) =>
      json(res, 404, { statusCode: 404, error: 'Not Found', message: 'Route not found' });
    const err = await failure(new RegistryClient({ addr, token: 't' }).getCredential('c1'));
    expect(err).toMatchObject({ status: 404, code: 'HTTP_404', detail: 'Route not found', requestId: null });
  });

  it('does not quote a 2xx body that is not JSON, since it may hold a revealed value', async () => {
    handler = (_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"value":"${SECRET}`);
    const err = await failure(
      new RegistryClient({ addr, token: 't' }).revealCredential('c1', { reason: 'r' }),
    );

    expect(err.code).toBe('BAD_RESPONSE');
    expect(err.message).not.toContain(SECRET);
    expect(err.cause).toBeUndefined();
  });

  it('reports an unreachable server as UNAVAILABLE with status 0, naming the address', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadAddr = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const err = await failure(new RegistryClient({ addr: deadAddr, token: 't' }).health());
    expect(err).toMatchObject({ status: 0, code: 'UNAVAILABLE' });
    expect(err.message).toBe(`UNAVAILABLE: the server at ${deadAddr} could not be reached (ECONNREFUSED)`);
  });

  it('reports a connection dropped mid-request as UNAVAILABLE', async () => {
    handler = (_req, res) => res.socket?.destroy();
    const err = await failure(new RegistryClient({ addr, token: 't' }).listTokens());
    expect(err).toMatchObject({ status: 0, code: 'UNAVAILABLE' });
    expect(err.message).toContain(`the server at ${addr} could not be reached`);
  });

  it('never puts the request body in an error, whatever the failure', async () => {
    handler = (_req, res) =>
      problem(res, 409, { code: 'VERSION_MISMATCH', detail: 'version 3 is current, not 2' });
    const err = await failure(
      new RegistryClient({ addr, token: 't' }).rotateCredential('c1', { value: SECRET, expectedVersion: 2 }),
    );
    expect(err.code).toBe('VERSION_MISMATCH');
    expect(JSON.stringify({ ...err, message: err.message })).not.toContain(SECRET);
  });
});
