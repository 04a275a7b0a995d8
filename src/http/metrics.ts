import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RotationObserver } from '../core/rotation-observer.js';

/** Source of the key-ring counters, read at scrape time. */
export interface KeyCacheStats {
  keyRingStats(): { hits: number; misses: number; providerCalls: number };
  /** Webhook deliveries by outcome, when the registry delivers them. */
  webhookStats?(): Readonly<Record<string, number>>;
  /** Pending webhook deliveries across tenants (one indexed count per scrape). */
  outboxDepth?(): Promise<number>;
  /** Subscribes to rotation runs as they end (see `RegistryHandle.onRotation`). */
  onRotation?(observer: RotationObserver): unknown;
  /** Rotations due and not yet claimed, across tenants (one indexed count per scrape). */
  overdueRotations?(): Promise<number>;
  /** Each audit sink's health and lag (sealed rows not yet acknowledged), when sinks are configured. */
  auditSinkStatus?(): Promise<ReadonlyArray<{ sink: string; up: boolean; lag: number }>>;
}

/**
 * Buckets of `credreg_rotation_lag_seconds`: from a scheduler tick (10 s by default) to a day
 * (the longest retry backoff), so a lag that grows shows in which band it is.
 */
const ROTATION_LAG_BUCKETS = [1, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400];

/**
 * Prometheus metrics of one service instance. Labels are route patterns and codes, never ids or
 * anything a caller typed, so a label can neither leak a secret nor grow without bound.
 */
export class HttpMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'credreg_http_requests_total',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'credreg_http_request_duration_seconds',
    help: 'HTTP request latency by route pattern',
    labelNames: ['route', 'method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly reveals = new Counter({
    name: 'credreg_reveals_total',
    help: "Reveal attempts by outcome, in the access log's words (granted, invalid, denied, not_found, …)",
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly denials = new Counter({
    name: 'credreg_denials_total',
    help: 'Requests refused for authentication (401) or authorization (403)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly auditWriteFailures = new Counter({
    name: 'credreg_audit_write_failures_total',
    help: 'Operations refused because their access-log row could not be written',
    registers: [this.registry],
  });

  constructor(keys: KeyCacheStats) {
    // Counters whose count lives in the key ring: read at scrape time.
    const counted = (
      name: string,
      help: string,
      pick: (s: ReturnType<KeyCacheStats['keyRingStats']>) => number,
    ) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(pick(keys.keyRingStats()));
        },
      });
    counted('credreg_vault_key_cache_hits_total', 'Vault-key cache hits', (s) => s.hits);
    counted('credreg_vault_key_cache_misses_total', 'Vault-key cache misses', (s) => s.misses);
    counted('credreg_root_key_calls_total', 'Root key provider calls', (s) => s.providerCalls);
    const { webhookStats, outboxDepth, overdueRotations, auditSinkStatus } = keys;
    if (webhookStats) {
      new Counter({
        name: 'credreg_webhook_deliveries_total',
        help: 'Webhook delivery attempts by outcome (delivered, retried, failed) and subscriptions disabled',
        labelNames: ['outcome'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [outcome, n] of Object.entries(webhookStats.call(keys))) this.inc({ outcome }, n);
        },
      });
    }
    if (outboxDepth) {
      new Gauge({
        name: 'credreg_webhook_outbox_depth',
        help: 'Webhook deliveries pending, across every tenant',
        registers: [this.registry],
        async collect() {
          try {
            this.set(await outboxDepth.call(keys));
          } catch {
            // A scrape must not fail because the database is away; readiness reports that.
          }
        },
      });
    }
    if (keys.onRotation) {
      // Observed as each run ends rather than read at scrape: a histogram needs each observation.
      const rotations = new Counter({
        name: 'credreg_rotations_total',
        help: 'Rotation runs by rotator type and outcome (rotated, failed, needs_reauthorization, conflict, refused, error)',
        labelNames: ['rotator', 'outcome'] as const,
        registers: [this.registry],
      });
      const lag = new Histogram({
        name: 'credreg_rotation_lag_seconds',
        help: 'Scheduled rotations: seconds from the due time to the run start',
        labelNames: ['rotator'] as const,
        buckets: ROTATION_LAG_BUCKETS,
        registers: [this.registry],
      });
      keys.onRotation(({ rotator, outcome, lagSeconds }) => {
        rotations.inc({ rotator, outcome });
        if (lagSeconds !== undefined) lag.observe({ rotator }, lagSeconds);
      });
    }
    if (overdueRotations) {
      new Gauge({
        name: 'credreg_rotations_overdue',
        help: 'Rotations due and not yet claimed by a scheduler, across every tenant',
        registers: [this.registry],
        async collect() {
          try {
            this.set(await overdueRotations.call(keys));
          } catch {
            // As for the outbox depth: readiness reports the database, not the scrape.
          }
        },
      });
    }
    if (auditSinkStatus) {
      // Labelled by the operator's sink names: few, and configured, never typed by a caller.
      new Gauge({
        name: 'credreg_audit_sink_lag',
        help: 'Sealed access-log rows an audit sink has not acknowledged yet, summed over its tenants',
        labelNames: ['sink'] as const,
        registers: [this.registry],
        async collect() {
          try {
            this.reset();
            for (const s of await auditSinkStatus.call(keys)) this.set({ sink: s.sink }, s.lag);
          } catch {
            // As for the outbox depth: readiness reports the database, not the scrape.
          }
        },
      });
      new Gauge({
        name: 'credreg_audit_sink_up',
        help: 'Whether an audit sink is taking batches: 0 after 5 failed sends in a row, until one succeeds',
        labelNames: ['sink'] as const,
        registers: [this.registry],
        async collect() {
          try {
            this.reset();
            for (const s of await auditSinkStatus.call(keys)) this.set({ sink: s.sink }, s.up ? 1 : 0);
          } catch {
            // The same.
          }
        },
      });
    }
  }
}
