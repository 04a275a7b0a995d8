/**
 * Webhook delivery throughput: `events` test events enqueued for one subscription (setup), then
 * delivery ticks one after another, as `credreg serve` runs them while batches come back full,
 * until the outbox is empty. Every delivery is a real signed POST through the SSRF-guarded client
 * to a node:http receiver in this process on loopback (the bench registry allows private URLs),
 * which answers 204 at once: so this is the registry's share (claim, two tenant transactions, the
 * subscription key, signing, one HTTP round trip), not a receiver's.
 */

import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SERVE_BATCHES } from '../src/cli/server-commands.js';
import { inParallel } from './scheduler-workload.js';
import type { BenchTarget } from './targets.js';

/** `credreg serve`'s delivery batch, attempted concurrently within a tick. */
const BATCH = SERVE_BATCHES.webhookDelivery;
const ctx = { actor: 'bench' };

export interface WebhookResult {
  events: number;
  batch: number;
  /** Wall time from the first tick to an empty outbox. */
  seconds: number;
  deliveriesPerSec: number;
}

export async function measureWebhookDelivery(
  target: BenchTarget,
  options: { events: number; signal: AbortSignal },
  progress: (message: string) => void,
): Promise<WebhookResult> {
  const { registry, backend } = target;
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    const tenant = await registry.tenants.create({ name: 'bench-webhooks' });
    const t = registry.forTenant(tenant.id);
    const { subscription } = await t.webhooks.create({ url: `http://127.0.0.1:${port}/hook` }, ctx);
    await inParallel(options.events, 32, () => t.webhooks.test(subscription.id, ctx));
    const depth = await registry.outboxDepth();
    if (depth !== options.events) {
      throw new Error(`expected ${options.events} pending deliveries before the run, found ${depth}`);
    }
    progress(`${backend}: webhooks: ${depth} deliveries pending`);

    const t0 = performance.now();
    let delivered = 0;
    for (;;) {
      options.signal.throwIfAborted();
      const r = await registry.deliverWebhooks({ batchSize: BATCH });
      delivered += r.delivered;
      if (r.retried || r.failed)
        throw new Error(`webhook delivery to the local receiver failed: ${JSON.stringify(r)}`);
      if (r.claimed === 0) break;
    }
    const seconds = (performance.now() - t0) / 1000;
    if (delivered !== options.events || received !== options.events) {
      throw new Error(
        `delivered ${delivered} and received ${received} of ${options.events} webhook deliveries`,
      );
    }
    progress(`${backend}: webhooks: ${delivered} delivered in ${seconds.toFixed(2)} s`);
    return { events: options.events, batch: BATCH, seconds, deliveriesPerSec: delivered / seconds };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}
