/**
 * What `credreg migrate`, `init` and `serve` do: the only commands that open the store, load key
 * providers or start Fastify. `main.ts` imports this file only when one of them runs, so that
 * `credreg --version` and the remote commands never pay for those modules.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig, loadMigrationConfig } from '../config.js';
import { RegistryError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import { buildApp, closeGracefully } from '../http/app.js';
import { HttpMetrics } from '../http/metrics.js';
import { buildMetricsApp } from '../http/metrics-routes.js';
import { createLogger } from '../logger.js';
import { openRegistry, type RegistryHandle, runMigrations } from '../main.js';

/** `credreg migrate`: no root key is read, since migrating touches no secret. */
/** How much each of `credreg serve`'s background loops takes per tick; `npm run bench` measures these. */
export const SERVE_BATCHES = {
  webhookDelivery: 20,
  rotation: 10,
  expiryAlert: 50,
  auditSeal: 1000,
  auditSink: 500,
} as const;

export async function migrate(): Promise<void> {
  const config = loadMigrationConfig();
  const logger = createLogger(config.logLevel);
  await runMigrations(config, logger);
}

/** `credreg init`: migrates, and on an empty store creates and prints the platform-admin token. */
export async function init(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const registry = await openRegistry({ config, logger, migrate: true });
  try {
    if (!(await printBootstrapToken(registry))) process.stderr.write('credreg: already initialised\n');
  } finally {
    await registry.close();
  }
}

/** `credreg serve`: runs the HTTP service and its background loops until SIGTERM or SIGINT. */
export async function serve(opts: { migrate?: boolean }): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // The embedded store is private to this process, so it is migrated as it opens; a shared
  // PostgreSQL schema changes only when asked (`--migrate`, or `credreg migrate` as its owner).
  const migrate = opts.migrate === true || config.storage.kind === 'pglite';
  const registry = await openRegistry({ config, logger, migrate });
  await printBootstrapToken(registry);
  // One collector: a separate metrics listener reports the main app's requests.
  const metrics = new HttpMetrics(registry);
  const app = await buildApp(registry, {
    logger,
    http: config.http,
    metrics: { token: config.metrics.token, collector: metrics },
    consoleDir: config.http.consoleDir,
  });
  const metricsApp = config.metrics.listen ? await buildMetricsApp(metrics, { logger }) : undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return; // a second signal must not close twice
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await maintenance.stop();
    await webhookDelivery.stop();
    await rotations.stop();
    await expiryAlerts.stop();
    await auditSealer.stop();
    await auditSinks.stop();
    await closeGracefully(app); // answers new requests 503, lets in-flight ones finish, stops listening
    await metricsApp?.close(); // after the main app, so its last requests can still be scraped
    await registry.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  const maintenance = startMaintenance(registry, config, logger);
  const webhookDelivery = startBatchLoop(
    'webhook delivery',
    config.webhooks.intervalMs,
    SERVE_BATCHES.webhookDelivery,
    (batchSize) => registry.deliverWebhooks({ batchSize }),
    logger,
  );
  const rotations = startBatchLoop(
    'rotation',
    config.rotation.intervalMs,
    SERVE_BATCHES.rotation,
    (limit) => registry.rotateDue({ limit }),
    logger,
  );
  // The same scheduler's other half, on its interval: notices before and at credentials' expiry.
  const expiryAlerts = startBatchLoop(
    'expiry alert',
    config.rotation.intervalMs,
    SERVE_BATCHES.expiryAlert,
    async (limit) => ({ claimed: (await registry.sendExpiryAlerts({ limit })).found }),
    logger,
  );
  // After commit, on its own interval: reveals never wait for the tree (docs/audit.md).
  const auditSealer = startBatchLoop(
    'audit seal',
    config.audit.sealIntervalMs,
    SERVE_BATCHES.auditSeal,
    async (batchSize, signal) => {
      const report = await registry.sealAuditLogs({
        batchSize,
        checkpointIntervalMs: config.audit.checkpointIntervalMs,
        signal,
      });
      // A pass drains each tenant it finds: another at once only if it had to leave rows.
      return { claimed: report.sealed, more: report.more };
    },
    logger,
  );
  // After sealing, on its own interval: a sink that is down holds up only itself (docs/operations.md, "Sinks").
  const auditSinks = startBatchLoop(
    'audit sink',
    // Always on (unless 0): a tenant admin may add an http sink of its own at any time.
    config.audit.sinkIntervalMs ?? 1000,
    SERVE_BATCHES.auditSink,
    async (batchSize) => ({ claimed: (await registry.deliverAuditSinks({ batchSize })).delivered }),
    logger,
  );
  if (metricsApp && config.metrics.listen) {
    // Before the main listener: an address that cannot be bound stops the start-up before any traffic.
    const { host, port } = config.metrics.listen;
    const metricsAddress = await metricsApp.listen({ host, port }).catch((err: Error) => {
      throw new RegistryError('CONFIG', `CREDREG_METRICS_LISTEN=${host}:${port}: ${err.message}`);
    });
    logger.info({ address: metricsAddress }, `metrics served without a token on ${metricsAddress}/metrics`);
  }
  const address = await app.listen({ host: config.listen.host, port: config.listen.port });
  const where =
    config.storage.kind === 'pglite' ? `embedded store in ${config.storage.dataDir}` : 'PostgreSQL';
  logger.info({ backend: registry.backend, address }, `credreg listening on ${address} (${where})`);
  const consoleDir = config.http.consoleDir;
  if (consoleDir && existsSync(join(consoleDir, 'index.html'))) {
    logger.info({ address: `${address}/ui/` }, `web console at ${address}/ui/`);
  } else if (consoleDir) {
    logger.warn({ consoleDir }, `no web console: ${consoleDir} holds no build (run \`npm run build\`)`);
  }
}

/**
 * On an empty store, creates the platform-admin token and prints it on stderr, once: only its hash
 * is kept, so this is the one time anyone sees it.
 */
async function printBootstrapToken(registry: RegistryHandle): Promise<boolean> {
  const token = await registry.authenticator.bootstrap();
  if (!token) return false;
  process.stderr.write(
    `credreg: created the platform admin token (shown once, store it now; only its hash is kept): ${token}\n`,
  );
  return true;
}

/**
 * Background upkeep on a timer: vault-key rotation on schedule, re-wrap in bounded batches, purge.
 * Every instance ticks, but only the one that claims the interval's lease in the database runs the
 * pass: instances sharing a database run it once per interval between them, not once each. One
 * pass at a time per instance; a pass that outlasts its lease may overlap the next one elsewhere,
 * which upkeep tolerates (rotation is compare-and-set, re-wrap skips rows another holds).
 */
function startMaintenance(registry: RegistryHandle, config: Readonly<Config>, logger: Logger) {
  const { intervalMs } = config.maintenance;
  // The lease is the interval less a little slack. The instance that ran the last pass ticks again
  // one interval later; a few ms of timer or network jitter must not let that tick find its own
  // lease still held and so skip a whole interval when it is the only instance.
  const leaseMs = intervalMs - Math.min(1000, Math.floor(intervalMs / 10));
  // Who ran a pass, for operators; cut to what the lease keeps, or every claim would be refused.
  const holder = `${hostname()}:${process.pid}`.slice(0, 200);
  let running: Promise<unknown> | undefined;
  const tick = () => {
    if (running) return;
    running = registry
      .claimScheduledRun('maintenance', holder, leaseMs)
      .then(async (claimed) => {
        if (claimed === null) return; // another instance has this interval: the usual case, nothing to say
        const report = await registry.runMaintenance({
          rotateAfterDays: config.maintenance.rotateVaultKeysAfterDays,
        });
        if (report.rotated || report.rewrapped || report.purged)
          logger.info({ ...report }, 'maintenance pass');
      })
      .catch((err: unknown) => logger.warn({ error: (err as Error).message }, 'maintenance pass failed'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = intervalMs > 0 ? setInterval(tick, intervalMs) : undefined;
  timer?.unref();
  return {
    async stop() {
      if (timer) clearInterval(timer);
      await running;
    },
  };
}

/**
 * Runs `batch` every `intervalMs` (0: never): webhook deliveries, due rotations, expiry alerts, the
 * audit sealer and sinks. No lease is needed: each batch claims (or takes) its own rows, so
 * instances share the work. A batch that came back full (or says there is `more`) runs again at
 * once (up to 50 in a row), so a backlog drains faster than one batch per interval.
 */
function startBatchLoop(
  what: string,
  intervalMs: number,
  batchSize: number,
  batch: (batchSize: number, signal: AbortSignal) => Promise<{ claimed: number; more?: boolean }>,
  logger: Logger,
) {
  let running: Promise<unknown> | undefined;
  // Aborted by stop(): a batch that can end early (a sealer pass) does, so shutdown waits for less.
  const stopping = new AbortController();
  const drain = async () => {
    for (let rounds = 0; rounds < 50 && !stopping.signal.aborted; rounds++) {
      const report = await batch(batchSize, stopping.signal);
      if (!(report.more ?? report.claimed >= batchSize)) return;
    }
  };
  const tick = () => {
    if (running || stopping.signal.aborted) return;
    running = drain()
      .catch((err: unknown) => logger.warn({ error: (err as Error).message }, `${what} tick failed`))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = intervalMs > 0 ? setInterval(tick, intervalMs) : undefined;
  timer?.unref();
  return {
    async stop() {
      stopping.abort();
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
