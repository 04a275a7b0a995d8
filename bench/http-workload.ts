/**
 * Reveals through the real HTTP service on loopback: Fastify, bearer-token auth, role check, JSON,
 * against the same registry the library cells use. The client is node:http with a keep-alive
 * agent: it shares the process (and the two cores) with the server, so it should cost little.
 */
import { Agent, request } from 'node:http';
import { buildApp, closeGracefully } from '../src/http/app.js';
import type { RegistryHandle } from '../src/main.js';
import type { Workload } from './workload.js';
import { pick } from './workload.js';

export async function startHttpReveal(
  registry: RegistryHandle,
  workload: Workload,
): Promise<{ reveal: () => Promise<unknown>; close: () => Promise<void> }> {
  const t = registry.forTenant(workload.tenantId);
  const principal = await t.principals.create({ name: 'bench-http', kind: 'service' }, { actor: 'bench' });
  const { token } = await t.tokens.create({ principalId: principal.id, role: 'reader' }, { actor: 'bench' });
  const app = await buildApp(registry, {
    http: { trustedProxies: [], bodyLimit: 256 * 1024, rateLimitPerMinute: 100_000_000 },
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const { hostname, port } = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const body = JSON.stringify({ reason: 'bench' });
  const headers = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  };
  const reveal = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          agent,
          hostname,
          port,
          method: 'POST',
          path: `/v1/credentials/${pick(workload.credentialIds)}/reveal`,
          headers,
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`HTTP reveal answered ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return {
    reveal,
    async close() {
      agent.destroy();
      await closeGracefully(app, { graceMs: 0, timeoutMs: 1000 });
    },
  };
}
