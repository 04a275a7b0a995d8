import type { z } from 'zod';
import {
  type AuditSealerState,
  type AuditSealOptions,
  type AuditSealRunReport,
  sealAuditLogs,
} from './audit-log.js';
import { AuditService } from './audit-service.js';
import { AuditSinkService } from './audit-sink-service.js';
import {
  type AuditSinkDeliveryOptions,
  type AuditSinkDeliveryReport,
  type AuditSinkHealth,
  type AuditSinkStatus,
  auditSinkStatus,
  deliverAuditSinks,
} from './audit-sinks.js';
import { auditFailure, type RegistryDeps } from './audited-operation.js';
import { type RotationRunReport, rotateDue } from './credential-rotation.js';
import { CredentialService } from './credential-service.js';
import { crossTenantJobs } from './cross-tenant-jobs.js';
import { RegistryError } from './errors.js';
import { type ExpiryAlertReport, sendExpiryAlerts } from './expiry-notices.js';
import { isUuid } from './ids.js';
import type { ScheduledJob } from './ports.js';
import { PrincipalService } from './principal-service.js';
import { TenantService } from './tenant-service.js';
import { Authenticator, type AuthenticatorOptions, TokenService } from './token-service.js';
import type { RequestContext } from './types.js';
import { type AnyUseCase, refuseUseCase, runUseCase, type UseCase } from './use-case.js';
import { VaultService } from './vault-service.js';
import {
  deliverDueWebhooks,
  type WebhookDeliveryOptions,
  type WebhookDeliveryReport,
} from './webhook-delivery.js';
import { WebhookService } from './webhook-service.js';

export interface MaintenanceOptions {
  /** Rotate a vault key once its current version is this old. (Default: 90; 0 disables) */
  rotateAfterDays?: number;
  /** Re-wrap batches per vault per pass, so one pass stays short. (Default: 10) */
  rewrapBatches?: number;
}

/** The longest lease a scheduled job may take: a day, like the longest maintenance interval. */
const MAX_LEASE_MS = 86_400_000;

export interface RootKeyUsage {
  provider: string;
  providerKeyId: string;
  /** Under the current root key (and its latest version): a root rotation leaves these alone. */
  current: boolean;
  vaultKeys: number;
}

export interface MaintenanceReport {
  rotated: number;
  rewrapped: number;
  purged: number;
}

/** Everything one tenant can do; get one with `registry.forTenant(tenantId)`. */
export interface TenantRegistry {
  readonly tenantId: string;
  readonly vaults: VaultService;
  readonly credentials: CredentialService;
  readonly principals: PrincipalService;
  readonly audit: AuditService;
  readonly tokens: TokenService;
  readonly webhooks: WebhookService;
  /** The tenant's own audit sinks (http collectors its admin added). */
  readonly auditSinks: AuditSinkService;
  /** Runs one use-case in this tenant (what every method above does): see `runUseCase`. */
  run<S extends z.ZodType, P, O>(useCase: UseCase<S, P, O>, input: unknown, ctx: RequestContext): Promise<O>;
  /**
   * Logs an attempt at `useCase` refused before it could run (input the HTTP layer could not
   * parse, say) and returns the error to answer: the caller's role and scope are checked first,
   * so a caller that may not use it at all is told that, and logged so (see `refuseUseCase`).
   */
  refuse(
    useCase: AnyUseCase,
    raw: unknown,
    ctx: RequestContext,
    error: RegistryError,
  ): Promise<RegistryError>;
  /**
   * Logs, in this tenant, its token's attempt at a platform-admin operation (`what` names it, e.g.
   * the route), and returns the FORBIDDEN to answer.
   */
  refusePlatformAccess(what: string, ctx: RequestContext): Promise<RegistryError>;
}

/**
 * The registry as a library: tenants at platform level, everything else per tenant.
 *
 * @example
 * const registry = createRegistry(deps);          // or `openRegistry(config)` from the package root
 * const acme = await registry.tenants.create({ name: 'acme' });
 * const t = registry.forTenant(acme.id);
 * const vault = await t.vaults.create({ name: 'payments' }, { actor: 'alice' });
 */
export interface Registry {
  readonly tenants: TenantService;
  /** Verifies API tokens; bootstraps the first platform token. */
  readonly authenticator: Authenticator;
  forTenant(tenantId: string): TenantRegistry;
  /** Purges, in every tenant, soft-deleted credentials whose recovery window has ended. */
  purgeDue(): Promise<number>;
  /**
   * Re-wraps, in every tenant, each vault key not under the current root key (a retired key, another
   * provider, an older Transit version, a KMS key an alias no longer names) under the current one.
   * Data keys and values are not touched. Resumable: each vault key is replaced on its own,
   * compare-and-set, logged in its tenant, and its cached plaintext dropped. A vault key that cannot
   * be unwrapped (CRYPTO) is logged, counted in `failed` and skipped; an outage (UNAVAILABLE), or ten
   * refusals in a row (the provider refusing, not one bad key), stops the run.
   */
  rotateRoot(ctx: RequestContext): Promise<{ rewrapped: number; failed: number }>;
  /**
   * Which root keys wrap the store's vault keys, and how many are not under the current one: what a
   * root rotation has left to do. When `remaining` is 0, the previous provider can be removed.
   */
  rootKeyStatus(): Promise<{ wrappedBy: RootKeyUsage[]; remaining: number }>;
  /**
   * One pass of background upkeep over every tenant: rotates vault keys older than
   * `rotateAfterDays` (0: never), re-wraps up to `rewrapBatches` batches per vault, and purges
   * credentials past their recovery window. Safe to run on several instances at once; to run it
   * once per interval between them, run it only after `claimScheduledRun('maintenance', …)`.
   */
  runMaintenance(options: MaintenanceOptions): Promise<MaintenanceReport>;
  /**
   * Claims the next run of a scheduled job for `holder`, once across every instance sharing the
   * database: of any number of callers, exactly one gets the lease's end, the others null, and no
   * one gets it again until `leaseMs` have passed by the database's clock (instances' own clocks
   * may disagree). Nothing is held between calls, so a holder that dies mid-run just lets its lease
   * lapse. `holder` names the caller for operators (host and process); no decision depends on it.
   *
   * @example
   * // on every instance, every minute: the pass runs about once a minute in all
   * if (await registry.claimScheduledRun('maintenance', `${hostname()}:${process.pid}`, 59_000))
   *   await registry.runMaintenance({ rotateAfterDays: 90 });
   */
  claimScheduledRun(job: ScheduledJob, holder: string, leaseMs: number): Promise<Date | null>;
  /**
   * One tick of webhook delivery: claims the deliveries due across every tenant (at most
   * `batchSize`), attempts each in its tenant, and records what came of it: delivered, retried
   * later (the gateway's schedule), or given up, disabling a subscription after
   * `disableAfterFailures` given up in a row. Safe on any number of instances at once.
   */
  deliverWebhooks(options?: WebhookDeliveryOptions): Promise<WebhookDeliveryReport>;
  /**
   * Runs up to `limit` (Default: 20) rotations that are due, across every tenant, each once however
   * many instances call this at the same time (see `rotateDue` in credential-rotation.ts).
   */
  rotateDue(options?: { limit?: number }): Promise<RotationRunReport>;
  /**
   * Sends up to `limit` (Default: 100) expiry notices that are due by the registry's clock, across
   * every tenant: `credential.expiring` per alert window, `credential.expired` at expiry, each
   * exactly once however many instances call this at the same time (see `expiry-notices.ts`).
   */
  sendExpiryAlerts(options?: { limit?: number }): Promise<ExpiryAlertReport>;
  /**
   * One pass of the audit log's sealer: appends, for every tenant with new committed access-log
   * rows, up to `batchSize` of them to its Merkle tree, and signs a checkpoint where the newest is
   * older than `checkpointIntervalMs` (see audit-log.ts). Safe on any number of instances at once:
   * they never fork a tenant's tree.
   */
  sealAuditLogs(options?: AuditSealOptions): Promise<AuditSealRunReport>;
  /**
   * One pass of audit-sink delivery: for each configured sink and each tenant it is behind on, one
   * batch of sealed rows in leaf order (then the checkpoint they reach), the cursor moved once the
   * sink acknowledged (see audit-sinks.ts). A sink that fails waits out its retry delay. Safe on
   * any number of instances. Without sinks, does nothing.
   */
  deliverAuditSinks(options?: AuditSinkDeliveryOptions): Promise<AuditSinkDeliveryReport>;
  /** Each configured sink's health as this instance saw it, and its lag (sealed rows not yet acknowledged). */
  auditSinkStatus(): Promise<AuditSinkStatus[]>;
  /** Pending webhook deliveries across every tenant. */
  outboxDepth(): Promise<number>;
  /** Rotations due now and not yet claimed by a scheduler, across every tenant. */
  overdueRotations(): Promise<number>;
}

export function createRegistry(deps: RegistryDeps, options: AuthenticatorOptions = {}): Registry {
  const tenants = new TenantService(deps);
  const authenticator = new Authenticator(deps, options);
  const forTenant = (tenantId: string): TenantRegistry => {
    /* Precondition: a tenant is named, by a well-formed id. */
    if (!isUuid(tenantId)) throw new RegistryError('TENANT_REQUIRED', 'a valid tenant id is required');
    return Object.freeze({
      tenantId,
      vaults: new VaultService(deps, tenantId, (vaultId) => authenticator.forgetVault(tenantId, vaultId)),
      credentials: new CredentialService(deps, tenantId),
      principals: new PrincipalService(deps, tenantId),
      audit: new AuditService(deps, tenantId),
      tokens: new TokenService(deps, tenantId, (id) => authenticator.forget(id)),
      webhooks: new WebhookService(deps, tenantId),
      auditSinks: new AuditSinkService(deps, tenantId),
      run: <S extends z.ZodType, P, O>(useCase: UseCase<S, P, O>, input: unknown, ctx: RequestContext) =>
        runUseCase(deps, tenantId, useCase, input, ctx),
      refuse: (useCase: AnyUseCase, raw: unknown, ctx: RequestContext, error: RegistryError) =>
        refuseUseCase(deps, tenantId, useCase, raw, ctx, error),
      async refusePlatformAccess(what: string, ctx: RequestContext) {
        const denied = new RegistryError('FORBIDDEN', 'this needs a platform-admin token');
        await auditFailure(deps, tenantId, ctx, { action: 'platform_access', reason: what }, denied);
        return denied;
      },
    });
  };
  const sealer: AuditSealerState = { unsigned: new Set() };
  const sinkHealth: AuditSinkHealth = new Map();
  const sinks = deps.auditSinks ?? { sinks: [], retryDelayMs: () => 0 };
  return Object.freeze({
    tenants,
    authenticator,
    forTenant,
    ...crossTenantJobs(deps, tenants, forTenant),
    deliverWebhooks: (options?: WebhookDeliveryOptions) => deliverDueWebhooks(deps, options),
    rotateDue: (options?: { limit?: number }) => rotateDue(deps, options),
    sendExpiryAlerts: (options?: { limit?: number }) => sendExpiryAlerts(deps, options),
    sealAuditLogs: (options?: AuditSealOptions) => sealAuditLogs(deps, sealer, options),
    deliverAuditSinks: (options?: AuditSinkDeliveryOptions) =>
      deliverAuditSinks(deps, sinks, sinkHealth, options),
    auditSinkStatus: () => auditSinkStatus(deps, sinks, sinkHealth),
    outboxDepth: () => deps.store.withPlatform((tx) => tx.countPendingDeliveries()),
    overdueRotations: () => deps.store.withPlatform((tx) => tx.countDueRotations()),
    async claimScheduledRun(job: ScheduledJob, holder: string, leaseMs: number) {
      /* Precondition: the lease is a whole number of milliseconds, from 1 to a day. */
      if (!Number.isInteger(leaseMs) || leaseMs < 1 || leaseMs > MAX_LEASE_MS) {
        throw new RegistryError('VALIDATION', 'a job lease must be a whole number of ms from 1 to 86400000');
      }
      /* Precondition: the holder is named, in at most 200 characters. */
      if (holder.length < 1 || holder.length > 200) {
        throw new RegistryError('VALIDATION', 'a job lease holder must be 1 to 200 characters');
      }
      return deps.store.withPlatform((tx) => tx.claimJobRun(job, holder, leaseMs));
    },
  });
}
