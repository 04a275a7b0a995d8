import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/ports.js';
import { SafeHttpClient, type SafeHttpOptions } from '../../src/events/safe-http.js';
import { type DeliveryResult, type WebhookMessage, WebhookSender } from '../../src/events/webhook-sender.js';
import { generateWebhookSecret } from '../../src/events/webhook-signer.js';
import { HAS_OPENSSL, selfSignedCert } from '../helpers/self-signed-cert.js';
import {
  answer,
  closeAfterEach,
  closedPort,
  closeLater,
  endlessBody,
  type Handler,
  headerRecord,
  neverAnswer,
  type Received,
  receiver,
} from './receiver.js';

closeAfterEach();
/** A sender whose client may reach the receivers on 127.0.0.1, unless told otherwise. */
function sender(options: SafeHttpOptions = { allowPrivate: true }, clock?: Clock): WebhookSender {
  return new WebhookSender({ http: closeLater(new SafeHttpClient(options)), ...(clock ? { clock } : {}) });
}

const message = (data: unknown = { credentialId: 'cred_1', version: 2 }): WebhookMessage => ({
  id: 'msg_2hQk9',
  type: 'credential.rotated',
  timestamp: new Date('2030-05-06T07:08:09.010Z'),
  data,
});

/** What a receiver using the standardwebhooks library would accept, or its complaint. */
function verified(secret: string, req: Received): unknown {
  return new Webhook(secret).verify(req.body, headerRecord(req.headers));
}

describe('WebhookSender.deliver', () => {
  it('POSTs the JSON payload with signature headers that Webhook.verify accepts', async () => {
    const secret = generateWebhookSecret();
    const r = await receiver(answer(204));
    const result = await sender().deliver({ url: `${r.origin}/hooks`, secrets: [secret] }, message());

    expect(result).toEqual({ ok: true, status: 204, durationMs: expect.any(Number) });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(r.received).toHaveLength(1);
    const [req] = r.received as [Received];
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/hooks');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['webhook-id']).toBe('msg_2hQk9');
    expect(Math.abs(Number(req.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(300);
    expect(verified(secret, req)).toEqual({
      type: 'credential.rotated',
      timestamp: '2030-05-06T07:08:09.010Z',
      data: { credentialId: 'cred_1', version: 2 },
    });
  });

  it('during a secret rotation, a receiver holding either the old or the new secret accepts the message', async () => {
    const [oldSecret, newSecret] = [generateWebhookSecret(), generateWebhookSecret()];
    const r = await receiver();
    const result = await sender().deliver({ url: r.origin, secrets: [newSecret, oldSecret] }, message());
    expect(result.ok).toBe(true);
    const [req] = r.received as [Received];
    expect(String(req.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verified(oldSecret, req)).toMatchObject({ type: 'credential.rotated' });
    expect(verified(newSecret, req)).toMatchObject({ type: 'credential.rotated' });
    expect(() => verified(generateWebhookSecret(), req)).toThrow('No matching signature found');
  });

  it('a retry carries the same webhook-id, signed afresh with the time of the attempt', async () => {
    const secret = generateWebhookSecret();
    const r = await receiver();
    const start = Date.now();
    let now = new Date(start - 120_000);
    const s = sender({ allowPrivate: true }, { now: () => now });
    await s.deliver({ url: r.origin, secrets: [secret] }, message());
    now = new Date(start);
    await s.deliver({ url: r.origin, secrets: [secret] }, message());

    const [first, second] = r.received as [Received, Received];
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.body).toBe(first.body);
    expect(first.headers['webhook-timestamp']).toBe(String(Math.floor((start - 120_000) / 1000)));
    expect(second.headers['webhook-timestamp']).toBe(String(Math.floor(start / 1000)));
    expect(second.headers['webhook-signature']).not.toBe(first.headers['webhook-signature']);
    expect(verified(secret, first)).toEqual(verified(secret, second));
  });

  it.each([200, 201, 202, 204, 299])('%i is ok', async (status) => {
    const r = await receiver(answer(status));
    expect(await sender().deliver({ url: r.origin, secrets: [generateWebhookSecret()] }, message())).toEqual({
      ok: true,
      status,
      durationMs: expect.any(Number),
    });
  });

  it.each([400, 401, 404, 410, 429, 500, 502, 503])(
    '%i is a failure with code HTTP_STATUS',
    async (status) => {
      const r = await receiver(answer(status, 'nope'));
      expect(
        await sender().deliver({ url: r.origin, secrets: [generateWebhookSecret()] }, message()),
      ).toEqual({
        ok: false,
        status,
        error: { code: 'HTTP_STATUS', message: `The receiver answered ${status}.` },
        durationMs: expect.any(Number),
      });
    },
  );

  it('a 3xx is a REDIRECT failure, and the redirect is not followed', async () => {
    const elsewhere = await receiver();
    const r = await receiver(answer(307, '', { location: elsewhere.origin }));
    const result = await sender().deliver({ url: r.origin, secrets: [generateWebhookSecret()] }, message());
    expect(result).toMatchObject({ ok: false, status: 307, error: { code: 'REDIRECT' } });
    expect(elsewhere.received).toHaveLength(0);
  });

  it('a receiver that went away becomes a result, not an exception', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/`;
    const result = await sender().deliver({ url, secrets: [generateWebhookSecret()] }, message());
    expect(result).toEqual({
      ok: false,
      error: { code: 'UNREACHABLE', message: 'Could not reach the receiver (ECONNREFUSED).' },
      durationMs: expect.any(Number),
    });
  });

  it('a slow receiver hits the timeout', async () => {
    const r = await receiver(neverAnswer);
    const result = await sender({ allowPrivate: true, timeoutMs: 2_000 }).deliver(
      { url: r.origin, secrets: [generateWebhookSecret()] },
      message(),
    );
    expect(result).toMatchObject({ ok: false, error: { code: 'TIMEOUT' } });
    expect(result.durationMs).toBeGreaterThanOrEqual(1_900);
    expect(r.received).toHaveLength(1);
  });

  it('a URL the policy refuses is a result, and nothing is sent', async () => {
    const r = await receiver();
    const result = await sender({}).deliver({ url: r.origin, secrets: [generateWebhookSecret()] }, message());
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'URL_REFUSED', message: 'The URL must use https.' },
    });
    expect(r.received).toHaveLength(0);
  });

  it('a 2xx with an oversized body is still ok: the body is cut, not waited for', async () => {
    const r = await receiver(endlessBody);
    const result = await sender().deliver({ url: r.origin, secrets: [generateWebhookSecret()] }, message());
    expect(result).toEqual({ ok: true, status: 200, durationMs: expect.any(Number) });
  });

  it('an aborted signal is a result with code ABORTED', async () => {
    const controller = new AbortController();
    const r = await receiver(() => controller.abort());
    const result = await sender().deliver({ url: r.origin, secrets: [generateWebhookSecret()] }, message(), {
      signal: controller.signal,
    });
    expect(result).toMatchObject({ ok: false, error: { code: 'ABORTED' } });
  });

  it('Precondition: at least one secret is given. (a caller mistake, so it throws)', async () => {
    await expect(
      sender().deliver({ url: 'https://hooks.example.com/', secrets: [] }, message()),
    ).rejects.toThrow('at least one secret');
  });

  describe.skipIf(!HAS_OPENSSL)('over https (self-signed certificate made with openssl)', () => {
    let tls: { key: string; cert: string };
    beforeAll(() => {
      tls = selfSignedCert();
    });

    it('delivers, and the receiver verifies the signature', async () => {
      const secret = generateWebhookSecret();
      const r = await receiver(answer(200), tls);
      const result = await sender({ allowPrivate: true, extraCaCertificates: [tls.cert] }).deliver(
        { url: `${r.origin}/tls`, secrets: [secret] },
        message(),
      );
      expect(result).toMatchObject({ ok: true, status: 200 });
      expect(verified(secret, r.received[0] as Received)).toMatchObject({ data: { credentialId: 'cred_1' } });
    });

    it('a receiver whose certificate is not trusted is UNREACHABLE', async () => {
      const r = await receiver(answer(200), tls);
      const result = await sender().deliver({ url: r.origin, secrets: [generateWebhookSecret()] }, message());
      expect(result).toMatchObject({ ok: false, error: { code: 'UNREACHABLE' } });
      expect(r.received).toHaveLength(0);
    });
  });

  describe('a secret value in the data never appears in a result', () => {
    const CANARY = 'canary-0d4c1e77-value';
    const data = { note: 'must not leak', value: CANARY };
    // Receivers that echo the request back every way they can.
    const echoes: Array<[string, Handler]> = [
      ['500 echoing the body', (req, res) => res.writeHead(500, { 'x-echo': req.body }).end(req.body)],
      ['404 echoing the body', (req, res) => res.writeHead(404).end(req.body)],
      [
        'a redirect to a URL holding it',
        (req, res) => res.writeHead(302, { location: `/${CANARY}` }).end(req.body),
      ],
      ['a 200 echoing a huge body', (req, res) => res.writeHead(200).end(req.body.repeat(5_000))],
      ['a dropped connection', (req, res) => res.write(req.body, () => res.socket?.destroy())],
      ['silence', neverAnswer],
    ];

    it.each(echoes)('%s', async (_name, handler) => {
      const r = await receiver(handler);
      const result: DeliveryResult = await sender({ allowPrivate: true, timeoutMs: 2_000 }).deliver(
        { url: `${r.origin}/in`, secrets: [generateWebhookSecret()] },
        message(data),
      );
      expect(r.received[0]?.body).toContain(CANARY);
      expect(JSON.stringify(result)).not.toContain(CANARY);
    });

    it('nor when the address is refused before sending', async () => {
      const result = await sender({}).deliver(
        { url: `https://127.0.0.1/${CANARY}`, secrets: [generateWebhookSecret()] },
        message(data),
      );
      expect(result.error?.code).toBe('URL_REFUSED');
      expect(JSON.stringify(result)).not.toContain(CANARY);
    });
  });
});
