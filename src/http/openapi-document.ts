import type { RegistryHandle } from '../main.js';
import { buildApp } from './app.js';

/**
 * The OpenAPI document, without a server or a database: the app is built on a registry that is
 * never called (documenting a route runs none of its handlers), then closed.
 *
 * @example
 * const doc = await openApiDocument();
 * process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
 */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const unused = {
    keyRingStats: () => ({ hits: 0, misses: 0, providerCalls: 0 }),
  } as unknown as RegistryHandle;
  const app = await buildApp(unused, {
    http: { trustedProxies: [], bodyLimit: 1024, rateLimitPerMinute: 1 },
  });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}
