// A sample endpoint for the registry's `webhook` rotator (docs/rotation.md, "The webhook rotator
// protocol"). It plays the SaaS itself with an in-memory list of accepted API keys; put calls to
// your provider's API in the four steps. Serve it behind TLS: the registry calls https URLs only.
//
//   WEBHOOK_SECRET=whsec_… PORT=8443 INITIAL_KEY=sk_… node examples/webhook-rotator-endpoint.mjs
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const webhook = new Webhook(process.env.WEBHOOK_SECRET); // the secret the registry showed once
const accepted = new Set(process.env.INITIAL_KEY ? [process.env.INITIAL_KEY] : []); // "the SaaS"
const refuse = (status, code, message) => ({ status, body: { error: { code, message } } });

// Each step may come again with the same values (the registry resumes after a crash): a repeat must succeed.
const steps = {
  // A new key, not yet accepted anywhere: the current one must keep working.
  create: () => ({ body: { value: `sk_${randomBytes(24).toString('base64url')}` } }),
  // Accept the new key; the old one keeps working until finish, so nothing breaks in between.
  set: ({ pending }) => void accepted.add(pending),
  // Prove the new key works; 422 tells the registry "not (yet)", and it tries again later.
  test: ({ pending }) =>
    accepted.has(pending) ? undefined : refuse(422, 'not_accepted', 'the new key is refused'),
  // Retire every other key, which also removes one a repeated create made.
  finish: ({ pending }) => accepted.forEach((key) => key !== pending && accepted.delete(key)),
};

function reply(res, out) {
  res.writeHead(out.status ?? (out.body ? 200 : 204), { 'content-type': 'application/json' });
  res.end(out.body ? JSON.stringify(out.body) : undefined);
}

// Listens on loopback, for a TLS-terminating proxy on the same host.
createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8').on('data', (chunk) => (raw += chunk));
  req.on('end', () => {
    let msg;
    try {
      msg = webhook.verify(raw, req.headers); // the signature, and a timestamp within 5 minutes
    } catch {
      return reply(res, refuse(401, 'bad_signature', 'the signature does not verify'));
    }
    const step = steps[msg.step];
    reply(res, step ? (step(msg) ?? {}) : refuse(400, 'unknown_step', 'no such step'));
  });
}).listen(Number(process.env.PORT ?? 8443), '127.0.0.1', () => console.log('rotation endpoint listening'));
