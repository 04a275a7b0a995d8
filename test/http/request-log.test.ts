/** What the request log keeps of a request: never a query value, where a token may have been put. */
import { expect, it } from 'vitest';
import { redactQuery } from '../../src/logger.js';
import { describeEachBackend } from '../helpers/backends.js';
import { captureLogs } from '../helpers/logs.js';
import { seedTenant, startServer } from './helpers.js';

it('redactQuery replaces every query value and keeps the keys and the path', () => {
  expect(redactQuery('/v1/vaults')).toBe('/v1/vaults');
  expect(redactQuery('/v1/vaults?token=crt.a.b.c&limit=5&flag')).toBe(
    '/v1/vaults?token=[redacted]&limit=[redacted]&flag',
  );
});

describeEachBackend('the request log', (backend) => {
  it('a token sent in a query string is not written to the log, though the request is', async () => {
    const captured = captureLogs('info');
    const s = await startServer(backend, { logger: captured.logger });
    const seed = await seedTenant(s, 'q');
    const token = seed.tokens.reader;
    const secretPart = token.split('.').at(-1)!;
    const r = await s.call('GET', `/v1/vaults?access_token=${encodeURIComponent(token)}&limit=5`, {
      token,
    });
    expect(r.status).toBeLessThan(500);
    const text = captured.text();
    expect(text).toMatch(/"url":"\/v1\/vaults\?access_token=\[redacted\]&limit=\[redacted\]"/);
    expect(text).not.toContain(secretPart);
    await s.stop();
  });
});
