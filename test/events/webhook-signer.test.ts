import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  checkWebhookSecret,
  generateWebhookSecret,
  type SignatureHeaders,
  signWebhook,
} from '../../src/events/webhook-signer.js';

const verify = (secret: string, payload: string, headers: SignatureHeaders) =>
  new Webhook(secret).verify(payload, { ...headers });

describe('generateWebhookSecret', () => {
  it('makes whsec_ + base64 of 32 random bytes, different every time', () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(checkWebhookSecret(a)).toBeNull();
    expect(a).not.toBe(b);
  });
});

describe('checkWebhookSecret', () => {
  it.each([
    ['no prefix', Buffer.alloc(32, 1).toString('base64'), 'must start with whsec_'],
    ['not base64', 'whsec_not*base64', 'must be whsec_ followed by base64'],
    ['too short', `whsec_${Buffer.alloc(16, 1).toString('base64')}`, 'must encode 24 to 64 bytes'],
    ['too long', `whsec_${Buffer.alloc(65, 1).toString('base64')}`, 'must encode 24 to 64 bytes'],
  ])('refuses a secret with %s, without quoting it', (_name, secret, reason) => {
    expect(checkWebhookSecret(secret)).toBe(reason);
  });
});

describe('signWebhook', () => {
  it('reproduces the Standard Webhooks specification test vector', () => {
    const headers = signWebhook({
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: new Date(1614265330 * 1000),
      payload: '{"test": 2432232314}',
      secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    });
    expect(headers).toEqual({
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  it('signs with every active secret, space-separated, and each verifies with Webhook.verify', () => {
    const [oldSecret, newSecret, unrelated] = [
      generateWebhookSecret(),
      generateWebhookSecret(),
      generateWebhookSecret(),
    ];
    const payload = JSON.stringify({ type: 'credential.rotated', data: { id: 'c1' } });
    const headers = signWebhook({
      id: 'msg_1',
      timestamp: new Date(),
      payload,
      secrets: [newSecret, oldSecret],
    });
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}= v1,[A-Za-z0-9+/]{43}=$/);
    expect(verify(oldSecret, payload, headers)).toEqual(JSON.parse(payload));
    expect(verify(newSecret, payload, headers)).toEqual(JSON.parse(payload));
    expect(() => verify(unrelated, payload, headers)).toThrow('No matching signature found');
    expect(() => verify(newSecret, `${payload} `, headers)).toThrow('No matching signature found');
  });

  it('puts the signing time in webhook-timestamp, in Unix seconds', () => {
    const headers = signWebhook({
      id: 'msg_1',
      timestamp: new Date('2030-01-02T03:04:05.678Z'),
      payload: '{}',
      secrets: [generateWebhookSecret()],
    });
    expect(headers['webhook-timestamp']).toBe(String(Date.UTC(2030, 0, 2, 3, 4, 5) / 1000));
  });

  it('Precondition: at least one secret is given.', () => {
    expect(() => signWebhook({ id: 'msg_1', timestamp: new Date(), payload: '{}', secrets: [] })).toThrow(
      'at least one secret',
    );
  });

  it.each(['', 'msg 1', 'msg_1\r\nx-injected: 1', 'é', 'm'.repeat(256)])(
    'Precondition: the message id is 1 to 255 printable ASCII characters without spaces. (%j)',
    (id) => {
      expect(() =>
        signWebhook({ id, timestamp: new Date(), payload: '{}', secrets: [generateWebhookSecret()] }),
      ).toThrow('webhook message id');
    },
  );

  it('Precondition: every secret is whsec_ + base64 of 24 to 64 bytes.', () => {
    const notASecret = 'whsec_dG9vc2hvcnQ=';
    const call = () =>
      signWebhook({
        id: 'msg_1',
        timestamp: new Date(),
        payload: '{}',
        secrets: [generateWebhookSecret(), notASecret],
      });
    expect(call).toThrow('webhook secret #2 must encode 24 to 64 bytes');
    try {
      call();
    } catch (err) {
      expect(String(err)).not.toContain(notASecret.slice(6));
    }
  });
});
