import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RotationContext } from '../../src/core/rotator.js';
import type { CredentialType } from '../../src/core/types.js';
import { VALUE_SCHEMAS } from '../../src/core/validation.js';
import { SafeHttpClient, type SafeHttpOptions } from '../../src/events/safe-http.js';
import {
  type OAuth2RefreshSettings,
  type OAuth2Token,
  oauth2RefreshRotator,
  oauth2RefreshSettings,
  refreshDueAt,
} from '../../src/rotators/oauth2-refresh.js';
import {
  answer,
  closeAfterEach,
  closedPort,
  closeLater,
  type Handler,
  neverAnswer,
  type Received,
  receiver,
} from '../events/receiver.js';
import { waitUntil } from '../helpers/wait.js';
import { describeRotator, expectNoSecret, rotationContext, rotationError } from './conformance.js';
import { type OAuthClientValue, type OAuthServer, startOAuthServer } from './oauth2-server.js';

closeAfterEach();

const CANARY = `CANARY${randomBytes(6).toString('hex')}`;
let started: Promise<OAuthServer> | undefined;
/** One authorization server for the whole file, started by whichever suite needs it first. */
const oauthServer = () => {
  started ??= startOAuthServer(CANARY);
  return started;
};
afterAll(async () => {
  await (await started)?.close();
});

/** A rotator whose client may reach 127.0.0.1 over http, as the provider listens there. */
function rotator(options: SafeHttpOptions = { allowPrivate: true }) {
  return oauth2RefreshRotator({ http: closeLater(new SafeHttpClient(options)) });
}

const CLIENT_ID = randomUUID();

/** The context the core would build for an `oauth2_token` whose refresh token is `refreshToken`. */
function tokenContext(
  r: ReturnType<typeof rotator>,
  client: OAuthClientValue | { type: CredentialType; value: unknown },
  current: unknown,
  settings: Partial<OAuth2RefreshSettings> = {},
): RotationContext<OAuth2RefreshSettings> {
  const related = 'type' in client ? client : { type: 'oauth2_client' as const, value: client };
  return rotationContext(r, {
    credentialType: 'oauth2_token',
    current,
    settings: { clientCredential: CLIENT_ID, ...settings },
    related: { [CLIENT_ID]: related },
  });
}

const stale = (refreshToken: string): OAuth2Token => ({
  access_token: `stale-${randomBytes(8).toString('hex')}`,
  refresh_token: refreshToken,
  expires_at: new Date(Date.now() - 60_000).toISOString(),
});

/** A client value whose token endpoint is the test receiver at `origin`. */
const clientAt = (origin: string): OAuthClientValue => ({
  client_id: 'c1',
  client_secret: `secret-${CANARY}`,
  token_url: `${origin}/token`,
});

// The contract, against a server that keeps refresh tokens: `create` twice on one context (as the
// suite does) is only possible there. The kept refresh token is the same by design (RFC 6749 §6),
// so only the access token counts as the secret a new value must not repeat.
describeRotator(
  'oauth2_refresh',
  async () => {
    const server = await oauthServer();
    const r = rotator();
    return {
      rotator: r,
      settings: { clientCredential: randomUUID(), leadSeconds: 600 },
      fresh: async () => tokenContext(r, server.keeping, stale(await server.mint(server.keeping))),
      secrets: (value) => [(value as OAuth2Token).access_token],
      alsoSecret: [server.keeping.client_secret],
    };
  },
  { target: false },
);

describe('oauth2_refresh at a server that rotates refresh tokens', () => {
  let server: OAuthServer;
  beforeAll(async () => {
    server = await oauthServer();
  });

  it('a refresh gives an access token the server accepts, a new refresh token, and expires_at from expires_in', async () => {
    const r = rotator();
    const old = await server.mint(server.rotating);
    const before = Date.now();
    const pending = (await r.create(tokenContext(r, server.rotating, stale(old)))) as OAuth2Token;
    const after = Date.now();

    expect(VALUE_SCHEMAS.oauth2_token.safeParse(pending).success).toBe(true);
    expect(await server.isActive(server.rotating, pending.access_token)).toBe(true);
    expect(pending.refresh_token).toBeDefined();
    expect(pending.refresh_token).not.toBe(old);
    const expiresAt = Date.parse(pending.expires_at!);
    // Whole seconds on the wire: the bound allows the one the ISO string may round away.
    expect(expiresAt).toBeGreaterThanOrEqual(before + server.accessTokenTtl * 1000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(after + server.accessTokenTtl * 1000);

    // The new refresh token is the one that works now.
    const next = (await r.create(tokenContext(r, server.rotating, pending))) as OAuth2Token;
    expect(await server.isActive(server.rotating, next.access_token)).toBe(true);
    expect(next.refresh_token).not.toBe(pending.refresh_token);
  });

  it('reusing the old refresh token after a refresh is refused (INVALID_GRANT), and the server then revokes the new tokens too', async () => {
    // Why the core must store what create returns at once and never run create twice.
    const r = rotator();
    const ctx = tokenContext(r, server.rotating, stale(await server.mint(server.rotating)));
    const pending = (await r.create(ctx)) as OAuth2Token;

    const err = await rotationError(r.create(ctx));
    expect(err.code).toBe('INVALID_GRANT');
    expect(err.options.retryable).toBe(false);
    expect(err.message).toMatch(/authorize again/);

    expect(await server.isActive(server.rotating, pending.access_token)).toBe(false);
    const lost = await rotationError(r.create(tokenContext(r, server.rotating, pending)));
    expect(lost.code).toBe('INVALID_GRANT');
  });

  it('a revoked grant gives INVALID_GRANT, not retryable', async () => {
    const r = rotator();
    const revoked = await server.mint(server.rotating);
    await server.revoke(server.rotating, revoked);
    const err = await rotationError(r.create(tokenContext(r, server.rotating, stale(revoked))));
    expect(err.code).toBe('INVALID_GRANT');
    expect(err.options.retryable).toBe(false);
  });

  it('an expired refresh token gives INVALID_GRANT, not retryable', async () => {
    const r = rotator();
    const expired = await server.mint(server.rotating, { expired: true });
    const err = await rotationError(r.create(tokenContext(r, server.rotating, stale(expired))));
    expect(err.code).toBe('INVALID_GRANT');
    expect(err.options.retryable).toBe(false);
  });

  it('a wrong client secret gives TARGET_REFUSED, not retryable, and spends nothing', async () => {
    const r = rotator();
    const token = stale(await server.mint(server.rotating));
    const wrong = { ...server.rotating, client_secret: `wrong-${CANARY}` };
    const err = await rotationError(r.create(tokenContext(r, wrong, token)));
    expect(err.code).toBe('TARGET_REFUSED');
    expect(err.options.retryable).toBe(false);
    expect(err.message).toMatch(/invalid_client/);
    // The refused call did not spend the refresh token.
    const pending = (await r.create(tokenContext(r, server.rotating, token))) as OAuth2Token;
    expect(await server.isActive(server.rotating, pending.access_token)).toBe(true);
  });

  it('a client secret with ":", "+", "%" and a space is accepted: Basic auth form-encodes it (RFC 6749 §2.3.1)', async () => {
    expect(server.rotating.client_secret).toMatch(/:.*\+.*%.* /);
    const r = rotator();
    const pending = (await r.create(
      tokenContext(r, server.rotating, stale(await server.mint(server.rotating))),
    )) as OAuth2Token;
    expect(await server.isActive(server.rotating, pending.access_token)).toBe(true);
  });

  it('a server that does not rotate refresh tokens: the old one is kept', async () => {
    const r = rotator();
    const kept = await server.mint(server.keeping);
    const pending = (await r.create(tokenContext(r, server.keeping, stale(kept)))) as OAuth2Token;
    expect(pending.refresh_token).toBe(kept);
    expect(await server.isActive(server.keeping, pending.access_token)).toBe(true);
  });
});

describe('oauth2_refresh: the request and the answers of other token endpoints', () => {
  it('POSTs grant_type=refresh_token form-encoded, with the client in HTTP Basic and no scope', async () => {
    const r = rotator();
    const endpoint = await receiver(answer(200, JSON.stringify({ access_token: 'at-new', expires_in: 60 })));
    const client = { ...clientAt(endpoint.origin), client_id: 'id with space', client_secret: 'p:w+d%' };
    await r.create(tokenContext(r, client, stale('rt-old')));

    const [req] = endpoint.received as [Received];
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/token');
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'rt-old',
    });
    const [scheme, encoded] = String(req.headers.authorization).split(' ');
    expect(scheme).toBe('Basic');
    expect(Buffer.from(encoded!, 'base64').toString()).toBe('id+with+space:p%3Aw%2Bd%25');
  });

  it('an answer without expires_in gives no expires_at; one without refresh_token keeps the old one', async () => {
    const r = rotator();
    const endpoint = await receiver(
      answer(200, JSON.stringify({ access_token: 'at-new', token_type: 'Bearer' })),
    );
    const pending = await r.create(tokenContext(r, clientAt(endpoint.origin), stale('rt-old')));
    expect(pending).toEqual({ access_token: 'at-new', refresh_token: 'rt-old' });
  });

  it('a 5xx or a 429 gives TARGET_UNREACHABLE, retryable', async () => {
    const r = rotator();
    for (const status of [500, 503, 429]) {
      const endpoint = await receiver(answer(status, JSON.stringify({ error: 'server_error' })));
      const err = await rotationError(r.create(tokenContext(r, clientAt(endpoint.origin), stale('rt'))));
      expect(err.code, String(status)).toBe('TARGET_UNREACHABLE');
      expect(err.options.retryable).toBe(true);
      expect(err.message).toContain(`HTTP ${status}`);
    }
  });

  it('another 4xx gives TARGET_REFUSED, not retryable, with the OAuth error code', async () => {
    const r = rotator();
    const endpoint = await receiver(answer(400, JSON.stringify({ error: 'unauthorized_client' })));
    const err = await rotationError(r.create(tokenContext(r, clientAt(endpoint.origin), stale('rt'))));
    expect(err.code).toBe('TARGET_REFUSED');
    expect(err.options.retryable).toBe(false);
    expect(err.message).toContain('HTTP 400, unauthorized_client');
  });

  it('the server down gives TARGET_UNREACHABLE, retryable', async () => {
    const r = rotator();
    const client = clientAt(`http://127.0.0.1:${await closedPort()}`);
    const err = await rotationError(r.create(tokenContext(r, client, stale('rt'))));
    expect(err.code).toBe('TARGET_UNREACHABLE');
    expect(err.options.retryable).toBe(true);
  });

  it('a token endpoint that never answers gives TARGET_UNREACHABLE at the client timeout, or at the step deadline', async () => {
    const endpoint = await receiver(neverAnswer);
    const timeout = rotator({ allowPrivate: true, timeoutMs: 500 });
    const err = await rotationError(
      timeout.create(tokenContext(timeout, clientAt(endpoint.origin), stale('rt'))),
    );
    expect(err.code).toBe('TARGET_UNREACHABLE');

    const r = rotator();
    const abort = new AbortController();
    const ctx = { ...tokenContext(r, clientAt(endpoint.origin), stale('rt')), signal: abort.signal };
    const running = rotationError(r.create(ctx));
    await waitUntil(async () => endpoint.received.length > 1, 'the request to arrive');
    abort.abort();
    const aborted = await running;
    expect(aborted.code).toBe('TARGET_UNREACHABLE');
    expect(aborted.options.retryable).toBe(true);
  });

  it('a token URL the SSRF policy refuses gives URL_REFUSED and is never called', async () => {
    const endpoint = await receiver(answer(200, JSON.stringify({ access_token: 'at' })));
    const r = rotator({});
    const err = await rotationError(r.create(tokenContext(r, clientAt(endpoint.origin), stale('rt'))));
    expect(err.code).toBe('URL_REFUSED');
    expect(err.options.retryable).toBe(false);
    expect(endpoint.received).toHaveLength(0);
  });

  it('Precondition: a successful answer holds an access_token.', async () => {
    const r = rotator();
    const endpoint = await receiver(answer(200, '<html>hello</html>'));
    const err = await rotationError(r.create(tokenContext(r, clientAt(endpoint.origin), stale('rt'))));
    expect(err.code).toBe('INVALID_RESPONSE');
    expect(err.options.retryable).toBe(false);
  });

  it('Precondition: the current value has a refresh_token.', async () => {
    const endpoint = await receiver();
    const r = rotator();
    const err = await rotationError(
      r.create(tokenContext(r, clientAt(endpoint.origin), { access_token: 'at' })),
    );
    expect(err.code).toBe('INVALID_GRANT');
    expect(err.options.retryable).toBe(false);
    expect(endpoint.received).toHaveLength(0);
  });

  it('Precondition: the client credential is an oauth2_client with client_id, client_secret and token_url.', async () => {
    const r = rotator();
    const origin = 'http://127.0.0.1:9';
    for (const client of [
      { type: 'api_key' as const, value: 'k' },
      { type: 'oauth2_client' as const, value: { client_id: 'c', client_secret: 's' } },
      { type: 'oauth2_client' as const, value: { client_id: 'c', token_url: `${origin}/token` } },
    ]) {
      const err = await rotationError(r.create(tokenContext(r, client, stale('rt'))));
      expect(err.code, JSON.stringify(client)).toBe('INVALID_VALUE');
      expect(err.options.retryable).toBe(false);
    }
  });

  it('set, test and finish call nothing', async () => {
    const r = rotator();
    const endpoint = await receiver();
    const ctx = tokenContext(r, clientAt(endpoint.origin), stale('rt'));
    const pending: OAuth2Token = { access_token: 'at', refresh_token: 'rt2' };
    await r.set(ctx, pending);
    await r.test(ctx, pending);
    await r.finish(ctx, pending);
    expect(endpoint.received).toHaveLength(0);
  });

  it('no token or secret reaches any error (a canary in the client secret, tokens echoed by the server)', async () => {
    const server = await oauthServer();
    const r = rotator();
    const failures: RotationContext<OAuth2RefreshSettings>[] = [];
    const secrets = [CANARY, server.rotating.client_secret];

    const reused = stale(await server.mint(server.rotating));
    const spent = (await r.create(tokenContext(r, server.rotating, reused))) as OAuth2Token;
    failures.push(tokenContext(r, server.rotating, reused));
    failures.push(tokenContext(r, { ...server.rotating, client_secret: `bad-${CANARY}` }, spent));
    secrets.push(reused.refresh_token!, reused.access_token, spent.refresh_token!, spent.access_token);

    // Endpoints that put the refresh token they were sent into their answer.
    const echo =
      (status: number, field: string): Handler =>
      (req, res) => {
        const sent = new URLSearchParams(req.body).get('refresh_token');
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ [field]: sent }));
      };
    for (const [status, field] of [
      [400, 'error'],
      [400, 'error_description'],
      [500, 'error'],
      [200, 'not_access_token'],
    ] as const) {
      const endpoint = await receiver(echo(status, field));
      const token = stale(`${CANARY}-rt-${status}-${field}`);
      secrets.push(token.refresh_token!);
      failures.push(tokenContext(r, clientAt(endpoint.origin), token));
    }
    failures.push(tokenContext(r, clientAt(`http://127.0.0.1:${await closedPort()}`), stale(`${CANARY}-rt`)));

    for (const ctx of failures) expectNoSecret(await rotationError(r.create(ctx)), secrets);
  });
});

describe('oauth2_refresh settings', () => {
  it('take a client credential id and an optional lead of 0 to 86400 seconds', () => {
    expect(oauth2RefreshSettings.safeParse({ clientCredential: randomUUID() }).success).toBe(true);
    expect(oauth2RefreshSettings.safeParse({ clientCredential: randomUUID(), leadSeconds: 0 }).success).toBe(
      true,
    );
    for (const bad of [
      {},
      { clientCredential: 'not-a-uuid' },
      { clientCredential: randomUUID(), leadSeconds: -1 },
      { clientCredential: randomUUID(), leadSeconds: 86_401 },
      { clientCredential: randomUUID(), leadSeconds: 1.5 },
    ]) {
      expect(oauth2RefreshSettings.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('refreshDueAt', () => {
  const token = (expiresAt?: string): OAuth2Token => ({
    access_token: 'at',
    ...(expiresAt ? { expires_at: expiresAt } : {}),
  });

  it('is 5 minutes before expires_at by default', () => {
    expect(refreshDueAt(token('2030-01-01T01:00:00.000Z'))?.toISOString()).toBe('2030-01-01T00:55:00.000Z');
  });

  it('is 20% of the lifetime before expires_at when that is shorter than 5 minutes and the issue time is known', () => {
    const value = token('2030-01-01T01:00:00.000Z');
    const issuedAt = new Date('2030-01-01T00:59:00.000Z');
    expect(refreshDueAt(value, { issuedAt })?.toISOString()).toBe('2030-01-01T00:59:48.000Z');
    // An hour-long token: 20% is 12 minutes, so the 5 minutes stand.
    const hourAgo = new Date('2030-01-01T00:00:00.000Z');
    expect(refreshDueAt(value, { issuedAt: hourAgo })?.toISOString()).toBe('2030-01-01T00:55:00.000Z');
  });

  it('takes leadSeconds as it is given', () => {
    const value = token('2030-01-01T01:00:00.000Z');
    const issuedAt = new Date('2030-01-01T00:59:00.000Z');
    expect(refreshDueAt(value, { leadSeconds: 30, issuedAt })?.toISOString()).toBe(
      '2030-01-01T00:59:30.000Z',
    );
    expect(refreshDueAt(value, { leadSeconds: 0 })?.toISOString()).toBe('2030-01-01T01:00:00.000Z');
  });

  it('is null for a token without expires_at', () => {
    expect(refreshDueAt(token())).toBeNull();
  });

  it('Precondition: expires_at is a date.', () => {
    expect(() => refreshDueAt(token('tomorrow'))).toThrow(TypeError);
  });

  it('Precondition: leadSeconds is a finite, non-negative number.', () => {
    for (const leadSeconds of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => refreshDueAt(token('2030-01-01T01:00:00Z'), { leadSeconds })).toThrow(RangeError);
    }
  });
});
