import { AuditService } from './audit-service.js';
import {
  type AuditSubject,
  asRegistryError,
  audited,
  auditFailure,
  describeError,
  type RegistryDeps,
} from './audited-operation.js';
import { CredentialService } from './credential-service.js';
import { RegistryError } from './errors.js';
import { isUuid } from './ids.js';
import type { ScheduledJob, VaultKeyRecord } from './ports.js';
import { PrincipalService } from './principal-service.js';
import { TenantService } from './tenant-service.js';
import { Authenticator, type AuthenticatorOptions, TokenService } from './token-service.js';
import type { RequestContext } from './types.js';
import { VaultService } from './vault-service.js';

export interface MaintenanceOptions {
  /** Rotate a vault key once its current version is this old. (Default: 90; 0 disables) */
  rotateAfterDays?: number;
  /** Re-wrap batches per vault per pass, so one pass stays short. (Default: 10) */
  rewrapBatches?: number;
}

const VAULT_KEY_PAGE = 200;

/** The longest lease a scheduled job may take: a day, like the longest maintenance interval. */
const MAX_LEASE_MS = 86_400_000;

/** A root rotation stops when this many vault keys in a row cannot be moved (see `rotateRoot`). */
const REFUSALS_BEFORE_STOPPING = 10;

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
  /**
   * Logs an attempt refused before it reached a use-case (a role that does not allow it, input the
   * HTTP layer could not parse), with the outcome its error implies.
   */
  recordRefusal(subject: AuditSubject, ctx: RequestContext, error: RegistryError): Promise<void>;
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
      recordRefusal: (subject: AuditSubject, ctx: RequestContext, error: RegistryError) =>
        auditFailure(deps, tenantId, ctx, subject, error),
    });
  };
  /** Every tenant's vault keys, a page at a time, each page read in its own tenant transaction. */
  async function* vaultKeyPages(): AsyncGenerator<{ tenantId: string; records: VaultKeyRecord[] }> {
    let cursor: string | undefined;
    do {
      const page = await tenants.list({ limit: 100, cursor });
      for (const tenant of page.items) {
        let after: VaultKeyRecord | undefined;
        for (;;) {
          const records = await deps.store.withTenant(tenant.id, (tx) =>
            tx.listVaultKeys(VAULT_KEY_PAGE, after),
          );
          if (records.length === 0) break;
          yield { tenantId: tenant.id, records };
          if (records.length < VAULT_KEY_PAGE) break; // a short page is the last: no empty query after it
          after = records.at(-1);
        }
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  const registry: Registry = Object.freeze({
    tenants,
    authenticator,
    forTenant,
    async rotateRoot(ctx: RequestContext) {
      const isCurrent = await deps.keyRing.currentRootKeyTest();
      let rewrapped = 0;
      let failed = 0;
      let refusedInARow = 0;
      for await (const { tenantId, records } of vaultKeyPages()) {
        for (const record of records) {
          if (isCurrent(record)) continue;
          const subject = {
            action: 'key_rotate' as const,
            vaultId: record.vaultId,
            version: record.vaultKeyVersion,
            reason: `root key rotation: ${record.wrapped.providerKeyId}`,
          };
          let wrapped: VaultKeyRecord['wrapped'];
          try {
            wrapped = await deps.keyRing.rewrapUnderCurrentRoot(record); // provider calls, outside transactions
            refusedInARow = 0;
          } catch (err) {
            const failure = asRegistryError(err);
            await auditFailure(deps, tenantId, ctx, subject, failure);
            deps.logger.warn(
              {
                tenantId,
                vaultId: record.vaultId,
                version: record.vaultKeyVersion,
                error: describeError(failure),
              },
              'root rotation could not move a vault key',
            );
            // One key that cannot be opened must not hold up every key after it. An outage stops
            // the run (it resumes where it stopped), and so does a provider refusing key after key:
            // expired credentials or a missing permission, not bad keys.
            if (failure.code !== 'CRYPTO') throw failure;
            failed++;
            if (++refusedInARow >= REFUSALS_BEFORE_STOPPING) {
              throw new RegistryError(
                'CRYPTO',
                `root rotation stopped: ${refusedInARow} vault keys in a row could not be moved; the last: ${failure.message}`,
                { cause: failure },
              );
            }
            continue;
          }
          subject.reason += ` -> ${wrapped.providerKeyId}`;
          rewrapped += await audited(deps, tenantId, ctx, subject, async (op) => {
            // Another rotation got there first: nothing to do, nothing to log.
            if (!(await op.tx.replaceVaultKeyWrapping(record, wrapped))) return 0;
            await op.granted();
            return 1;
          });
          // The next use unwraps through the new wrapping, which proves it.
          deps.keyRing.forgetVault(tenantId, record.vaultId);
        }
      }
      return { rewrapped, failed };
    },
    async rootKeyStatus() {
      const isCurrent = await deps.keyRing.currentRootKeyTest();
      const groups = new Map<string, RootKeyUsage>();
      for await (const { records } of vaultKeyPages()) {
        for (const { wrapped, ...context } of records) {
          const current = isCurrent({ ...context, wrapped });
          const k = JSON.stringify([wrapped.provider, wrapped.providerKeyId, current]);
          const g = groups.get(k) ?? {
            provider: wrapped.provider,
            providerKeyId: wrapped.providerKeyId,
            current,
            vaultKeys: 0,
          };
          g.vaultKeys++;
          groups.set(k, g);
        }
      }
      const wrappedBy = [...groups.values()].sort((x, y) => Number(y.current) - Number(x.current));
      return { wrappedBy, remaining: wrappedBy.reduce((n, g) => n + (g.current ? 0 : g.vaultKeys), 0) };
    },
    async runMaintenance(options: MaintenanceOptions) {
      const ctx = { actor: 'system:maintenance' };
      const rotateAfterMs = (options.rotateAfterDays ?? 90) * 86_400_000;
      const report = { rotated: 0, rewrapped: 0, purged: 0 };
      let cursor: string | undefined;
      do {
        const page = await tenants.list({ limit: 100, cursor });
        for (const tenant of page.items) {
          const t = forTenant(tenant.id);
          let vaultCursor: string | undefined;
          do {
            const vaults = await t.vaults.list({ limit: 100, cursor: vaultCursor });
            for (const vault of vaults.items) {
              try {
                const status = await t.vaults.keyStatus(vault.id);
                const current = status.versions.find((v) => v.version === status.currentVersion);
                const rotate =
                  rotateAfterMs > 0 &&
                  current !== undefined &&
                  deps.clock.now().getTime() - current.createdAt.getTime() >= rotateAfterMs;
                if (rotate) {
                  await t.vaults.rotateKey(vault.id, ctx);
                  report.rotated++;
                }
                // Most vaults, most of the time, have nothing under an older key: skip the re-wrap's
                // transactions for them (the status above already says so).
                const behind = status.versions.some(
                  (v) => v.version !== status.currentVersion && v.dataKeys > 0,
                );
                if (rotate || behind) {
                  report.rewrapped += (
                    await t.vaults.rewrap(vault.id, { maxBatches: options.rewrapBatches ?? 10 }, ctx)
                  ).rewrapped;
                }
              } catch (err) {
                // One vault's trouble (a concurrent rotation, a provider outage) must not stop the pass.
                deps.logger.warn(
                  { tenantId: tenant.id, vaultId: vault.id, error: describeError(err) },
                  'vault key upkeep failed',
                );
              }
            }
            vaultCursor = vaults.nextCursor ?? undefined;
          } while (vaultCursor);
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      report.purged = await registry.purgeDue();
      return report;
    },
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
    async purgeDue() {
      let purged = 0;
      let cursor: string | undefined;
      do {
        const page = await tenants.list({ limit: 100, cursor });
        for (const tenant of page.items) {
          try {
            purged += await forTenant(tenant.id).credentials.purgeDue({ actor: 'system:purge' });
          } catch (err) {
            deps.logger.warn(
              { tenantId: tenant.id, error: describeError(err) },
              'purge sweep failed for a tenant',
            );
          }
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return purged;
    },
  });
  return registry;
}
