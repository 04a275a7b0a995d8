import { once } from 'node:events';
import { createServer, type LookupFunction, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SafeHttpClient,
  SafeHttpError,
  type SafeHttpErrorCode,
  type SafeHttpOptions,
} from '../../src/events/safe-http.js';
import { checkUrl } from '../../src/events/url-policy.js';
import { HAS_OPENSSL, selfSignedCert } from '../helpers/self-signed-cert.js';
import {
  answer,
  closeAfterEach,
  closedPort,
  closeLater,
  endlessBody,
  neverAnswer,
  type Receiver,
  receiver,
  startReceiver,
} from './receiver.js';

/** The error a call rejects with (fails the test if it resolves). */
async function failureOf(call: Promise<unknown>): Promise<SafeHttpError> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(SafeHttpError);
    return err as SafeHttpError;
  }
  throw new Error('expected the call to fail');
}

async function expectCode(call: Promise<unknown>, code: SafeHttpErrorCode): Promise<SafeHttpError> {
  const err = await failureOf(call);
  expect(err.code, err.message).toBe(code);
  return err;
}

/** A resolver that answers `address` for every name, the way a rebinding DNS server would. */
function resolvingTo(address: string, calls: string[] = []): LookupFunction {
  const family = address.includes(':') ? 6 : 4;
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    calls.push(hostname);
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as unknown as LookupFunction;
}

closeAfterEach();
const client = (options: SafeHttpOptions = {}): SafeHttpClient => closeLater(new SafeHttpClient(options));

describe('SSRF: refused targets', () => {
  // Plain http is allowed so that the address, not the scheme, is what gets refused.
  it.each([
    ['127.0.0.1', (port: number) => `http://127.0.0.1:${port}/`],
    ['10.x', () => 'http://10.1.2.3/'],
    ['169.254.169.254 (cloud metadata)', () => 'http://169.254.169.254/latest/meta-data/'],
    ['[::1]', (port: number) => `http://[::1]:${port}/`],
    ['localhost', (port: number) => `http://localhost:${port}/`],
  ])('refuses %s without sending anything', async (_name, url) => {
    const r = await receiver(answer(200, 'reached'));
    const err = await expectCode(client({ allowHttp: true }).request(url(r.port)), 'URL_REFUSED');
    expect(err.message).toMatch(/local host|loopback, private, link-local or reserved/);
    expect(r.received).toHaveLength(0);
  });

  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '224.0.0.1',
    '0.0.0.0',
    '::1',
    'fc00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
  ])(
    'checks the address DNS answers at connect time: a public-looking name resolving to %s is refused',
    async (address) => {
      const r = await receiver(answer(200, 'reached'));
      const url = `http://receiver.example:${r.port}/`;
      // Nothing about the name itself is wrong, so configuration-time checking lets it through…
      expect(checkUrl(url, { allowHttp: true })).toBeNull();
      const lookups: string[] = [];
      // …and the refusal comes from the address the resolver answers when the call is made.
      const err = await expectCode(
        client({ allowHttp: true, lookup: resolvingTo(address, lookups) }).request(url),
        'ADDRESS_REFUSED',
      );
      expect(lookups).toEqual(['receiver.example']);
      expect(err.message).not.toContain(address);
      expect(r.received).toHaveLength(0);
    },
  );

  it.each(['192.88.99.1', '[2001:2::1]'])(
    'the connect-time filter is the authority: the literal %s, which checkUrl lets by, is still refused',
    async (host) => {
      const url = `https://${host}/`;
      expect(checkUrl(url)).toBeNull();
      await expectCode(client({ connectTimeoutMs: 2_000 }).request(url), 'ADDRESS_REFUSED');
    },
  );

  it('requires https unless allowHttp or allowPrivate is set, and never resolves the name', async () => {
    const lookups: string[] = [];
    const err = await expectCode(
      client({ lookup: resolvingTo('203.0.114.1', lookups) }).request('http://receiver.example/'),
      'URL_REFUSED',
    );
    expect(err.message).toBe('The URL must use https.');
    expect(lookups).toEqual([]);
  });

  it('refuses a URL with a user name or password, even with allowPrivate', async () => {
    const r = await receiver();
    const err = await expectCode(
      client({ allowPrivate: true }).request(`http://user:pw@127.0.0.1:${r.port}/`),
      'URL_REFUSED',
    );
    expect(err.message).toMatch(/user name or password/);
    expect(r.received).toHaveLength(0);
  });
});

describe('allowPrivate', () => {
  it('lets the local receiver through, over plain http, by address and by name', async () => {
    const r = await receiver(answer(200, 'hello', { 'x-answer': 'yes' }));
    const res = await client({ allowPrivate: true }).request(`${r.origin}/in?x=1`, { body: '{"a":1}' });
    expect(res).toMatchObject({ status: 200, truncated: false });
    expect(res.body.toString()).toBe('hello');
    expect(res.headers['x-answer']).toBe('yes');
    expect(r.received).toEqual([
      expect.objectContaining({ method: 'POST', path: '/in?x=1', body: '{"a":1}' }),
    ]);

    const byName = await client({ allowPrivate: true, lookup: resolvingTo('127.0.0.1') }).request(
      `http://receiver.example:${r.port}/`,
    );
    expect(byName.status).toBe(200);
  });

  it('still refuses the unspecified address 0.0.0.0', async () => {
    const r = await receiver();
    await expectCode(client({ allowPrivate: true }).request(`http://0.0.0.0:${r.port}/`), 'URL_REFUSED');
    expect(r.received).toHaveLength(0);
  });

  it('answers any non-3xx status as a response: the caller decides what it means', async () => {
    const r = await receiver(answer(503, 'busy'));
    const res = await client({ allowPrivate: true }).request(r.origin);
    expect(res.status).toBe(503);
    expect(res.body.toString()).toBe('busy');
  });
});

describe('redirects', () => {
  it.each([301, 302, 303, 307, 308])('a %i is a REDIRECT failure and is not followed', async (status) => {
    const target = await receiver(answer(200, 'followed'));
    const r = await receiver(answer(status, '', { location: `${target.origin}/elsewhere` }));
    const err = await expectCode(client({ allowPrivate: true }).request(r.origin, { body: 'x' }), 'REDIRECT');
    expect(err.status).toBe(status);
    expect(err.message).not.toContain(target.origin);
    expect(r.received).toHaveLength(1);
    expect(target.received).toHaveLength(0);
  });
});

describe('time limits', () => {
  it('a receiver that never answers hits the total timeout', async () => {
    const r = await receiver(neverAnswer);
    const started = Date.now();
    const err = await expectCode(
      client({ allowPrivate: true, timeoutMs: 2_000 }).request(r.origin, { body: 'x' }),
      'TIMEOUT',
    );
    expect(err.message).toBe('No complete response within 2000 ms.');
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(r.received).toHaveLength(1);
  });

  it('a body that never ends hits the total timeout too (no slow-drip hold)', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    await expectCode(client({ allowPrivate: true, timeoutMs: 2_000 }).request(r.origin), 'TIMEOUT');
  });

  it('the connect timeout covers a TLS handshake that never completes', async () => {
    // Accepts TCP and then says nothing: the client waits for a ServerHello that never comes.
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    try {
      const started = Date.now();
      const err = await expectCode(
        client({ allowPrivate: true, connectTimeoutMs: 300, timeoutMs: 120_000 }).request(
          `https://127.0.0.1:${port}/`,
        ),
        'TIMEOUT',
      );
      expect(err.message).toBe('No connection to the receiver within 300 ms.');
      expect(Date.now() - started).toBeLessThan(60_000);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});

describe('response size', () => {
  it('an endless body is cut at maxResponseBytes with TOO_LARGE', async () => {
    let closed!: () => void;
    const cut = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const r = await receiver((req, res) => {
      res.on('close', closed);
      endlessBody(req, res);
    });
    const err = await expectCode(
      client({ allowPrivate: true, maxResponseBytes: 64 * 1024 }).request(r.origin),
      'TOO_LARGE',
    );
    expect(err.message).toBe('The response body is larger than 65536 bytes.');
    // The receiver sees its connection go: the client stopped reading rather than draining.
    await cut;
  });

  it('with truncateBody, answers the first maxResponseBytes and says it was cut', async () => {
    const r = await receiver(endlessBody);
    const res = await client({ allowPrivate: true, maxResponseBytes: 1000 }).request(r.origin, {
      truncateBody: true,
    });
    expect(res.status).toBe(200);
    expect(res.truncated).toBe(true);
    expect(res.body.length).toBe(1000);
  });

  it('a declared Content-Length over the limit fails before any of the body is read', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      res.write('x');
    });
    await expectCode(client({ allowPrivate: true, maxResponseBytes: 1024 }).request(r.origin), 'TOO_LARGE');
  });

  it('a body of exactly maxResponseBytes is whole', async () => {
    const r = await receiver(answer(200, 'y'.repeat(1024)));
    const res = await client({ allowPrivate: true, maxResponseBytes: 1024 }).request(r.origin);
    expect(res.truncated).toBe(false);
    expect(res.body.length).toBe(1024);
  });
});

describe('AbortSignal', () => {
  it('an already aborted signal fails at once, sending nothing', async () => {
    const r = await receiver();
    await expectCode(
      client({ allowPrivate: true }).request(r.origin, { signal: AbortSignal.abort(), body: 'x' }),
      'ABORTED',
    );
    expect(r.received).toHaveLength(0);
  });

  it('aborting while the receiver is thinking fails the call with ABORTED', async () => {
    const controller = new AbortController();
    const r = await receiver(() => controller.abort());
    await expectCode(
      client({ allowPrivate: true, timeoutMs: 120_000 }).request(r.origin, {
        signal: controller.signal,
        body: 'x',
      }),
      'ABORTED',
    );
    expect(r.received).toHaveLength(1);
  });
});

describe('network failures', () => {
  it('a receiver that went away is UNREACHABLE, with the system error code', async () => {
    const port = await closedPort();
    const err = await expectCode(
      client({ allowPrivate: true }).request(`http://127.0.0.1:${port}/`),
      'UNREACHABLE',
    );
    expect(err.message).toBe('Could not reach the receiver (ECONNREFUSED).');
  });

  it('a connection dropped in the middle of the response is UNREACHABLE', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part', () => res.socket?.destroy());
    });
    await expectCode(client({ allowPrivate: true }).request(r.origin), 'UNREACHABLE');
  });
});

describe.skipIf(!HAS_OPENSSL)('https (self-signed certificate made with openssl)', () => {
  let tls: { key: string; cert: string };
  beforeAll(() => {
    tls = selfSignedCert();
  });

  it('reaches a receiver whose certificate is trusted through extraCaCertificates', async () => {
    const r = await receiver(answer(200, 'secure'), tls);
    const res = await client({ allowPrivate: true, extraCaCertificates: [tls.cert] }).request(
      `${r.origin}/in`,
      {
        body: 'over tls',
      },
    );
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('secure');
    expect(r.received).toEqual([expect.objectContaining({ path: '/in', body: 'over tls' })]);
  });

  it('verifies certificates: an untrusted one is UNREACHABLE and nothing is sent', async () => {
    const r = await receiver(answer(200, 'secure'), tls);
    const err = await expectCode(
      client({ allowPrivate: true }).request(r.origin, { body: 'x' }),
      'UNREACHABLE',
    );
    expect(err.message).toMatch(/^Could not reach the receiver \([A-Z_]+\)\.$/);
    expect(r.received).toHaveLength(0);
  });
});

describe('errors carry no secrets', () => {
  const CANARY = 'canary-7f3e1b9c-secret';
  const sensitive = {
    headers: { authorization: `Bearer ${CANARY}`, 'x-token': CANARY },
    body: JSON.stringify({ password: CANARY }),
  };
  const path = `/hooks/${CANARY}?token=${CANARY}`;

  let canaryEcho: Receiver;
  beforeAll(async () => {
    canaryEcho = await startReceiver((req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1/${CANARY}`, 'x-echo': CANARY }).end(req.body);
    });
  });
  afterAll(() => canaryEcho.close());

  const cases: Array<[SafeHttpErrorCode, () => Promise<unknown>]> = [
    ['URL_REFUSED', () => client().request(`http://127.0.0.1${path}`, sensitive)],
    [
      'ADDRESS_REFUSED',
      () =>
        client({ lookup: resolvingTo('127.0.0.1') }).request(`https://receiver.example${path}`, sensitive),
    ],
    ['REDIRECT', () => client({ allowPrivate: true }).request(`${canaryEcho.origin}${path}`, sensitive)],
    [
      'TIMEOUT',
      async () => {
        const r = await receiver(neverAnswer);
        return client({ allowPrivate: true, timeoutMs: 300 }).request(`${r.origin}${path}`, sensitive);
      },
    ],
    [
      'TOO_LARGE',
      async () => {
        const r = await receiver(answer(200, CANARY.repeat(100)));
        return client({ allowPrivate: true, maxResponseBytes: 64 }).request(`${r.origin}${path}`, sensitive);
      },
    ],
    [
      'UNREACHABLE',
      async () =>
        client({ allowPrivate: true }).request(`http://127.0.0.1:${await closedPort()}${path}`, sensitive),
    ],
    [
      'ABORTED',
      () =>
        client({ allowPrivate: true }).request(`${canaryEcho.origin}${path}`, {
          ...sensitive,
          signal: AbortSignal.abort(),
        }),
    ],
  ];

  it.each(cases)(
    '%s: message, JSON form and stack never contain the URL, a header or a body',
    async (code, call) => {
      const err = await expectCode(call(), code);
      for (const shown of [err.message, JSON.stringify(err), String(err.stack)])
        expect(shown).not.toContain(CANARY);
      expect(Object.keys(err.toJSON()).sort()).toEqual(
        err.status === undefined ? ['code', 'message'] : ['code', 'message', 'status'],
      );
    },
  );
});
