/**
 * A rotation endpoint for the `webhook` rotator inside the test process (node:http on 127.0.0.1):
 * it verifies every request with the `standardwebhooks` library against the secrets it is given
 * (what the registry showed once), plays the SaaS with a set of accepted keys, implements
 * create/set/test/finish as docs/rotation.md asks, and records each call. Closed after each test
 * (call `closeAfterEach()` in the test file).
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { WebhookRotationRequest } from '../../src/rotators/webhook.js';
import { headerRecord, type Received, receiver } from '../events/receiver.js';

/** One request the endpoint read. */
export interface RotationCall {
  step: string;
  /** Which of the endpoint's secrets verified it (its index), or null: refused with 401. */
  verifiedWith: number | null;
  /** How many signatures the request carried. */
  signatures: number;
}

/**
 * A rotation endpoint that trusts `secrets` (set it to what the registry showed; a request verifies
 * if one of its signatures matches one of them) and accepts `initialKey` at the start. Answers 401
 * `bad_signature` to a request that does not verify.
 */
export async function rotationEndpoint(initialKey: string) {
  const state = {
    secrets: [] as string[],
    accepted: new Set([initialKey]),
    calls: [] as RotationCall[],
  };
  const verify = (req: Received): { message: WebhookRotationRequest; index: number } | null => {
    for (const [index, secret] of state.secrets.entries()) {
      try {
        return { message: new Webhook(secret).verify(req.body, headerRecord(req.headers)) as never, index };
      } catch {
        // Not this secret: try the next one.
      }
    }
    return null;
  };
  const rx = await receiver((req, res) => {
    const reply = (status: number, body?: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(body ? JSON.stringify(body) : '');
    const signatures = String(req.headers['webhook-signature'] ?? '').split(' ').length;
    const verified = verify(req);
    const step = verified?.message.step ?? (JSON.parse(req.body) as { step: string }).step;
    state.calls.push({ step, verifiedWith: verified?.index ?? null, signatures });
    if (!verified)
      return reply(401, { error: { code: 'bad_signature', message: 'the signature does not verify' } });
    const { pending } = verified.message as { pending?: string };
    switch (step) {
      case 'create':
        return reply(200, { value: `sk_${randomBytes(18).toString('base64url')}` });
      case 'set':
        state.accepted.add(pending!);
        return reply(204);
      case 'test':
        return state.accepted.has(pending!) ? reply(204) : reply(422, { error: { code: 'not_accepted' } });
      case 'finish':
        for (const key of state.accepted) if (key !== pending) state.accepted.delete(key);
        return reply(204);
      default:
        return reply(400, { error: { code: 'unknown_step' } });
    }
  });
  return { ...state, url: `${rx.origin}/rotate` };
}
