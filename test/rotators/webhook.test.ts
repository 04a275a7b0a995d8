import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { RotationContext } from '../../src/core/rotator.js';
import type { CredentialType } from '../../src/core/types.js';
import { SafeHttpClient, type SafeHttpOptions } from '../../src/events/safe-http.js';
import { generateWebhookSecret } from '../../src/events/webhook-signer.js';
import {
  MAX_ENDPOINT_MESSAGE,
  sanitizedMessage,
  type WebhookRotationRequest,
  type WebhookSettings,
  webhookRotator,
  webhookSettings,
} from '../../src/rotators/webhook.js';
import {
  answer,
  closeAfterEach,
  closedPort,
  closeLater,
  type Handler,
  headerRecord,
  neverAnswer,
  type Received,
  receiver,
} from '../events/receiver.js';
import { collect, exited, freePort } from '../helpers/processes.js';
import { waitFor, waitUntil } from '../helpers/wait.js';
import { describeRotator, expectNoSecret, rotationContext, rotationError } from './conformance.js';

closeAfterEach();

const SAMPLE = fileURLToPath(new URL('../../examples/webhook-rotator-endpoint.mjs', import.meta.url));

/**
 * The sample endpoint of docs/rotation.md as a child process: the protocol's own example is what
 * the contract runs against. `initialKey` is the key its stand-in SaaS accepts at the start.
 */
async function sampleEndpoint(
  secret: string,
  initialKey?: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [SAMPLE], {
    env: { ...process.env, WEBHOOK_SECRET: secret, PORT: String(port), INITIAL_KEY: initialKey ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collect(child);
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`the sample endpoint exited: ${output.out()}`);
    return output.out().match(/rotation endpoint listening/);
  }, 'the sample endpoint to listen');
  return {
    url: `http://127.0.0.1:${port}/rotate`,
    async close() {
      child.kill();
      await exited(child);
    },
  };
}

/** A rotator signing with `secrets`, whose client may reach 127.0.0.1 over http unless told otherwise. */
function rotator(secrets: readonly string[], options: SafeHttpOptions = { allowPrivate: true }) {
  return webhookRotator({
    http: closeLater(new SafeHttpClient(options)),
    signingSecrets: async () => secrets,
  });
}

function context(
  r: ReturnType<typeof rotator>,
  url: string,
  current: unknown = `sk_old_${randomBytes(12).toString('hex')}`,
  credentialType: CredentialType = 'api_key',
  signal?: AbortSignal,
): RotationContext<WebhookSettings> {
  return rotationContext(r, { credentialType, current, settings: { url }, ...(signal ? { signal } : {}) });
}

/** What a receiver using the standardwebhooks library accepts; throws if the signature is wrong. */
const verified = (secret: string, req: Received) =>
  new Webhook(secret).verify(req.body, headerRecord(req.headers)) as WebhookRotationRequest;

const json =
  (status: number, body: unknown): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

describeRotator(
  'webhook',
  async () => {
    const secret = generateWebhookSecret();
    const endpoint = await sampleEndpoint(secret);
    const r = rotator([secret]);
    return {
      rotator: r,
      settings: { url: 'https://rotate.example.com/credreg' },
      fresh: async () => context(r, endpoint.url),
      secrets: (value) => [String(value)],
      alsoSecret: [secret],
      close: () => endpoint.close(),
    };
  },
  { target: false },
);

describe('webhook rotator: the requests', () => {
  it('each step POSTs signed JSON that standardwebhooks verifies, with what the step needs', async () => {
    const secret = generateWebhookSecret();
    const endpoint = await receiver((req, res) => {
      const step = verified(secret, req).step;
      if (step === 'create') json(200, { value: 'sk_new_1' })(req, res);
      else res.writeHead(204).end();
    });
    const r = rotator([secret]);
    const ctx = context(r, `${endpoint.origin}/rotate`, 'sk_old_1');

    const pending = await r.create(ctx);
    expect(pending).toBe('sk_new_1');
    await r.set(ctx, pending);
    await r.test(ctx, pending);
    await r.finish(ctx, pending);

    const common = { credentialId: ctx.credentialId, credentialType: 'api_key' };
    expect(endpoint.received.map((req) => verified(secret, req))).toEqual([
      { step: 'create', ...common, current: 'sk_old_1' },
      { step: 'set', ...common, current: 'sk_old_1', pending: 'sk_new_1' },
      { step: 'test', ...common, pending: 'sk_new_1' },
      { step: 'finish', ...common, current: 'sk_old_1', pending: 'sk_new_1' },
    ]);
    for (const req of endpoint.received) {
      expect(req.method).toBe('POST');
      expect(req.path).toBe('/rotate');
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.headers['webhook-id']).toMatch(/^rot_[0-9a-f-]{36}$/);
    }
    // Each call is a message of its own.
    expect(new Set(endpoint.received.map((req) => req.headers['webhook-id'])).size).toBe(4);
  });

  it('create returns the value the endpoint answers, of any shape (the core checks it against the type)', async () => {
    const value = { username: 'svc', password: `pw-${randomBytes(8).toString('hex')}` };
    const endpoint = await receiver(json(201, { value }));
    const r = rotator([generateWebhookSecret()]);
    expect(
      await r.create(context(r, endpoint.origin, { username: 'svc', password: 'old' }, 'basic_auth')),
    ).toEqual(value);
  });

  it('while the signing secret is being replaced, a request verifies with the old and with the new one', async () => {
    const [oldSecret, newSecret] = [generateWebhookSecret(), generateWebhookSecret()];
    const endpoint = await receiver(answer(204));
    const r = rotator([newSecret, oldSecret]);
    await r.set(context(r, endpoint.origin), 'sk_new');
    const [req] = endpoint.received as [Received];
    expect(verified(oldSecret, req).step).toBe('set');
    expect(verified(newSecret, req).step).toBe('set');
  });
});

describe('webhook rotator: the answers', () => {
  it('a 500 at set is TARGET_UNREACHABLE, retryable; so are 502, 503, 408 and 429', async () => {
    const r = rotator([generateWebhookSecret()]);
    for (const status of [500, 502, 503, 408, 429]) {
      const endpoint = await receiver(answer(status));
      const err = await rotationError(r.set(context(r, endpoint.origin), 'sk_new'));
      expect(err.code, String(status)).toBe('TARGET_UNREACHABLE');
      expect(err.options.retryable).toBe(true);
      expect(err.message).toContain(`HTTP ${status}`);
    }
  });

  it('a 4xx is TARGET_REFUSED, not retryable, with the endpoint error code', async () => {
    const r = rotator([generateWebhookSecret()]);
    for (const status of [400, 401, 403, 404, 409, 422]) {
      const endpoint = await receiver(
        json(status, { error: { code: 'quota_exceeded', message: 'too many keys' } }),
      );
      const err = await rotationError(r.set(context(r, endpoint.origin), 'sk_new'));
      expect(err.code, String(status)).toBe('TARGET_REFUSED');
      expect(err.options.retryable).toBe(false);
      expect(err.message).toContain(`HTTP ${status}, quota_exceeded: too many keys`);
    }
  });

  it('a 422 at test is TEST_FAILED, retryable', async () => {
    const endpoint = await receiver(json(422, { error: { code: 'not_accepted', message: 'refused' } }));
    const r = rotator([generateWebhookSecret()]);
    const err = await rotationError(r.test(context(r, endpoint.origin), 'sk_new'));
    expect(err.code).toBe('TEST_FAILED');
    expect(err.options.retryable).toBe(true);
  });

  it('a redirect is not followed: TARGET_REFUSED, not retryable', async () => {
    const endpoint = await receiver(answer(307, '', { location: 'http://169.254.169.254/' }));
    const r = rotator([generateWebhookSecret()]);
    const err = await rotationError(r.create(context(r, endpoint.origin)));
    expect(err.code).toBe('TARGET_REFUSED');
    expect(err.options.retryable).toBe(false);
    expect(endpoint.received).toHaveLength(1);
  });

  it('an endpoint that never answers gives TARGET_UNREACHABLE, retryable, at the client timeout or the step deadline', async () => {
    const endpoint = await receiver(neverAnswer);
    const secrets = [generateWebhookSecret()];
    const timeout = rotator(secrets, { allowPrivate: true, timeoutMs: 500 });
    const err = await rotationError(timeout.set(context(timeout, endpoint.origin), 'sk_new'));
    expect(err.code).toBe('TARGET_UNREACHABLE');
    expect(err.options.retryable).toBe(true);

    const r = rotator(secrets);
    const abort = new AbortController();
    const running = rotationError(r.create(context(r, endpoint.origin, 'sk_old', 'api_key', abort.signal)));
    await waitUntil(async () => endpoint.received.length > 1, 'the request to arrive');
    abort.abort();
    const aborted = await running;
    expect(aborted.code).toBe('TARGET_UNREACHABLE');
    expect(aborted.options.retryable).toBe(true);
  });

  it('an endpoint that is down gives TARGET_UNREACHABLE, retryable', async () => {
    const r = rotator([generateWebhookSecret()]);
    const err = await rotationError(r.finish(context(r, `http://127.0.0.1:${await closedPort()}`), 'sk_new'));
    expect(err.code).toBe('TARGET_UNREACHABLE');
    expect(err.options.retryable).toBe(true);
  });

  it('without allowPrivate, a private URL is refused (URL_REFUSED, not retryable) and never called', async () => {
    const endpoint = await receiver(json(200, { value: 'sk_new' }));
    // A literal loopback address is refused before any connection...
    const strict = rotator([generateWebhookSecret()], {});
    const literal = await rotationError(
      strict.create(context(strict, `https://127.0.0.1:${endpoint.port}/`)),
    );
    expect(literal.code).toBe('URL_REFUSED');
    expect(literal.options.retryable).toBe(false);
    // ...and a public-looking name that resolves to it is refused at connect time.
    const toLoopback: LookupFunction = (_host, options, callback) => {
      if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    };
    const resolving = rotator([generateWebhookSecret()], { lookup: toLoopback });
    const named = await rotationError(
      resolving.create(context(resolving, `https://rotate.example.com:${endpoint.port}/`)),
    );
    expect(named.code).toBe('URL_REFUSED');
    expect(endpoint.received).toHaveLength(0);
  });

  it('Precondition: the endpoint answers create with a value.', async () => {
    const r = rotator([generateWebhookSecret()]);
    for (const body of ['{}', '{"value":null}', 'not json', '']) {
      const endpoint = await receiver(answer(200, body));
      const err = await rotationError(r.create(context(r, endpoint.origin)));
      expect(err.code, body).toBe('INVALID_RESPONSE');
      expect(err.options.retryable).toBe(false);
    }
  });

  it('Precondition: the credential has a signing secret.', async () => {
    const endpoint = await receiver();
    const none = rotator([]);
    expect((await rotationError(none.create(context(none, endpoint.origin)))).code).toBe('INVALID_VALUE');
    const malformed = `whsec_${'!'.repeat(40)}`;
    const bad = rotator([malformed]);
    const err = await rotationError(bad.create(context(bad, endpoint.origin)));
    expect(err.code).toBe('INVALID_VALUE');
    expectNoSecret(err, [malformed]);
    expect(endpoint.received).toHaveLength(0);
  });

  it('Precondition: set, test and finish are given the pending value.', async () => {
    const endpoint = await receiver();
    const r = rotator([generateWebhookSecret()]);
    for (const step of ['set', 'test', 'finish'] as const) {
      const err = await rotationError(r[step](context(r, endpoint.origin), undefined));
      expect(err.code).toBe('INVALID_VALUE');
    }
    expect(endpoint.received).toHaveLength(0);
  });

  it('no secret reaches any error: not the values, nor the signing secret, even when the endpoint echoes them', async () => {
    const canary = `CANARY${randomBytes(6).toString('hex')}`;
    const secret = generateWebhookSecret();
    const r = rotator([secret]);
    const current = `sk_old_${canary}`;
    const pending = `sk_new_${randomBytes(4).toString('hex')}`;
    // The endpoint puts the values it was sent, and a secret of its own, into its error.
    const echo =
      (status: number): Handler =>
      (req, res) => {
        const sent = JSON.parse(req.body) as WebhookRotationRequest;
        const text = `bad ${String(sent.current)} ${String(sent.pending)} ${canary} own-key=${canary.toLowerCase()}`;
        json(status, { error: { code: String(sent.pending ?? sent.current), message: text } })(req, res);
      };
    const secrets = [canary, canary.toLowerCase(), current, pending, secret];
    for (const status of [400, 422, 500]) {
      const endpoint = await receiver(echo(status));
      const ctx = context(r, `${endpoint.origin}/${canary}`, current);
      for (const err of [
        await rotationError(r.create(ctx)),
        await rotationError(r.set(ctx, pending)),
        await rotationError(r.test(ctx, pending)),
        await rotationError(r.finish(ctx, pending)),
      ]) {
        expectNoSecret(err, secrets);
      }
    }
    const down = context(r, `http://127.0.0.1:${await closedPort()}/${canary}`, current);
    expectNoSecret(await rotationError(r.set(down, pending)), secrets);
  });
});

describe('the sample endpoint (examples/webhook-rotator-endpoint.mjs)', () => {
  it('completes a rotation: the old key works until finish, then only the new one', async () => {
    const secret = generateWebhookSecret();
    const current = `sk_${randomBytes(16).toString('hex')}`;
    const endpoint = closeLater(await sampleEndpoint(secret, current));
    const r = rotator([secret]);
    const ctx = context(r, endpoint.url, current);
    // `test` asks the endpoint whether its SaaS accepts a key, so it doubles as the probe here.
    const accepts = (key: unknown) =>
      r.test(ctx, key).then(
        () => true,
        (err: { code?: string }) => (err.code === 'TEST_FAILED' ? false : Promise.reject(err)),
      );

    const pending = await r.create(ctx);
    expect(pending).toMatch(/^sk_[A-Za-z0-9_-]{32}$/);
    expect(await accepts(pending)).toBe(false);
    await r.set(ctx, pending);
    await r.set(ctx, pending);
    expect(await accepts(pending)).toBe(true);
    expect(await accepts(current)).toBe(true);
    await r.finish(ctx, pending);
    await r.finish(ctx, pending);
    expect(await accepts(pending)).toBe(true);
    expect(await accepts(current)).toBe(false);
  });

  it('refuses a request signed with another secret: TARGET_REFUSED, not retryable', async () => {
    const endpoint = closeLater(await sampleEndpoint(generateWebhookSecret()));
    const r = rotator([generateWebhookSecret()]);
    const err = await rotationError(r.create(context(r, endpoint.url)));
    expect(err.code).toBe('TARGET_REFUSED');
    expect(err.options.retryable).toBe(false);
    expect(err.message).toContain('HTTP 401, bad_signature');
  });
});

describe('webhook rotator settings', () => {
  it('take an https URL, and refuse one with a user name or password, 0.0.0.0, another scheme or none', () => {
    expect(webhookSettings.safeParse({ url: 'https://rotate.example.com/x' }).success).toBe(true);
    for (const bad of [
      {},
      { url: 'https://user:pw@rotate.example.com/' },
      { url: 'https://0.0.0.0/' },
      { url: 'ftp://rotate.example.com/' },
      { url: 'rotate.example.com' },
      { url: `https://rotate.example.com/${'x'.repeat(2048)}` },
      { url: 'https://rotate.example.com/', secretCredential: randomUUID() },
    ]) {
      expect(webhookSettings.safeParse(bad).success, JSON.stringify(bad).slice(0, 80)).toBe(false);
    }
  });
});

describe('sanitizedMessage', () => {
  it('takes out the given secrets and anything token-like, folds unprintable characters, and cuts to the limit', () => {
    expect(sanitizedMessage('key sk_live_abc is\nrevoked', ['sk_live_abc'])).toBe(
      'key [redacted] is revoked',
    );
    expect(sanitizedMessage('token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0 refused', [])).toBe(
      'token [redacted] refused',
    );
    expect(sanitizedMessage('quota exceeded\u0000\u001b[31m', [])).toBe('quota exceeded [31m');
    const long = sanitizedMessage('word '.repeat(100), []);
    expect(Array.from(long)).toHaveLength(MAX_ENDPOINT_MESSAGE);
    expect(long.endsWith('…')).toBe(true);
  });
});
