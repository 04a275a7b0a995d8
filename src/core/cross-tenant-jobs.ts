/**
 * The jobs that sweep every tenant: root-key rotation and its status, the maintenance pass and the
 * purge sweep. Each visits tenants one by one, in that tenant's own transactions, so no job holds
 * one transaction across tenants. `createRegistry` wires them into the `Registry`, which documents
 * what each one does.
 */
import {
  asRegistryError,
  audited,
  auditFailure,
  describeError,
  type RegistryDeps,
} from './audited-operation.js';
import { RegistryError } from './errors.js';
import type { TenantTx, VaultKeyRecord } from './ports.js';
import type { MaintenanceOptions, Registry, RootKeyUsage, TenantRegistry } from './registry.js';
import { dropRetiredSigningSecrets } from './rotation-signing-secrets.js';
import { ownKeyRecord } from './sealed-secret.js';
import type { TenantService } from './tenant-service.js';
import type { Page, RequestContext, Tenant } from './types.js';

/**
 * The rows with a root-wrapped key of their own (`sealed-secret.ts`), by what a root rotation's
 * access-log rows call them: webhook subscriptions, and the signing secrets of rotation endpoints.
 */
const OWN_KEYS = {
  webhook: (tx: TenantTx) => tx.webhooks,
  'signing secret': (tx: TenantTx) => tx.rotationSecrets,
  'audit signing key': (tx: TenantTx) => tx.auditLog,
} as const;
type OwnKeyOwner = keyof typeof OWN_KEYS;

/** A page of root-wrapped keys of one tenant: vault keys, or the keys of rows with one of their own. */
interface KeyPage {
  tenantId: string;
  records: VaultKeyRecord[];
  owner: 'vault' | OwnKeyOwner;
}

/** Tenants and vaults are listed this many at a time. */
const LIST_PAGE = 100;

const VAULT_KEY_PAGE = 200;

/** A root rotation stops when this many vault keys in a row cannot be moved (see `rotateRoot`). */
const REFUSALS_BEFORE_STOPPING = 10;

/** The `Registry` calls that sweep every tenant. */
export type CrossTenantJobs = Pick<Registry, 'rotateRoot' | 'rootKeyStatus' | 'runMaintenance' | 'purgeDue'>;

/** Every item of a cursor-paginated listing, one page fetched at a time, as the caller gets to it. */
async function* everyItem<T>(listPage: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const page = await listPage(cursor);
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/**
 * The cross-tenant jobs over `tenants`, each tenant reached through `forTenant` (for its use-cases)
 * or `deps.store.withTenant` (for its vault keys).
 */
export function crossTenantJobs(
  deps: RegistryDeps,
  tenants: Pick<TenantService, 'list'>,
  forTenant: (tenantId: string) => Pick<TenantRegistry, 'vaults' | 'credentials'>,
): CrossTenantJobs {
  const everyTenant = () => everyItem<Tenant>((cursor) => tenants.list({ limit: LIST_PAGE, cursor }));

  /**
   * Every tenant's webhook subscriptions' keys and signing secrets' keys (wrapped by the root key
   * as vault keys are, the row's id in the vault's place), then its vault keys, a page at a time,
   * each page read in its own tenant transaction. `owner` says which kind, which `replace` writes back.
   */
  async function* vaultKeyPages(): AsyncGenerator<KeyPage> {
    for await (const tenant of everyTenant()) {
      for (const owner of Object.keys(OWN_KEYS) as OwnKeyOwner[]) yield* ownKeyPages(tenant.id, owner);
      let after: VaultKeyRecord | undefined;
      for (;;) {
        const records = await deps.store.withTenant(tenant.id, (tx) =>
          tx.vaultKeys.list(VAULT_KEY_PAGE, after),
        );
        if (records.length === 0) break;
        yield { tenantId: tenant.id, records, owner: 'vault' };
        if (records.length < VAULT_KEY_PAGE) break; // a short page is the last: no empty query after it
        after = records.at(-1);
      }
    }
  }

  async function* ownKeyPages(tenantId: string, owner: OwnKeyOwner): AsyncGenerator<KeyPage> {
    let after: string | undefined;
    for (;;) {
      const keys = await deps.store.withTenant(tenantId, (tx) =>
        OWN_KEYS[owner](tx).listKeys(VAULT_KEY_PAGE, after),
      );
      if (keys.length === 0) return;
      yield { tenantId, records: keys.map((k) => ownKeyRecord(tenantId, k)), owner };
      if (keys.length < VAULT_KEY_PAGE) return;
      after = keys.at(-1)!.id;
    }
  }

  async function rotateRoot(ctx: RequestContext) {
    const isCurrent = await deps.keyRing.currentRootKeyTest();
    let rewrapped = 0;
    let failed = 0;
    let refusedInARow = 0;
    for await (const { tenantId, records, owner } of vaultKeyPages()) {
      for (const record of records) {
        if (isCurrent(record)) continue;
        const subject = {
          action: 'key_rotate' as const,
          ...(owner === 'vault' ? { vaultId: record.vaultId, version: record.vaultKeyVersion } : {}),
          reason: `root key rotation${owner === 'vault' ? '' : ` (${owner} ${record.vaultId})`}: ${record.wrapped.providerKeyId}`,
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
          const replaced =
            owner === 'vault'
              ? await op.tx.vaultKeys.replaceWrapping(record, wrapped)
              : await OWN_KEYS[owner](op.tx).replaceWrapping(record.vaultId, record.wrapped, wrapped);
          if (!replaced) return 0;
          await op.granted();
          return 1;
        });
        // The next use unwraps through the new wrapping, which proves it.
        deps.keyRing.forgetVault(tenantId, record.vaultId);
      }
    }
    return { rewrapped, failed };
  }

  async function rootKeyStatus() {
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
  }

  async function runMaintenance(options: MaintenanceOptions) {
    const ctx = { actor: 'system:maintenance' };
    const rotateAfterMs = (options.rotateAfterDays ?? 90) * 86_400_000;
    const report = { rotated: 0, rewrapped: 0, purged: 0 };
    for await (const tenant of everyTenant()) {
      const t = forTenant(tenant.id);
      for await (const vault of everyItem((cursor) => t.vaults.list({ limit: LIST_PAGE, cursor }))) {
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
          const behind = status.versions.some((v) => v.version !== status.currentVersion && v.dataKeys > 0);
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
      // Signing secrets past their overlap are never signed with again; their rows go too.
      await dropRetiredSigningSecrets(deps, tenant.id).catch((err: unknown) =>
        deps.logger.warn(
          { tenantId: tenant.id, error: describeError(err) },
          'dropping retired signing secrets failed',
        ),
      );
    }
    report.purged = await purgeDue();
    return report;
  }

  async function purgeDue() {
    let purged = 0;
    for await (const tenant of everyTenant()) {
      try {
        purged += await forTenant(tenant.id).credentials.purgeDue({ actor: 'system:purge' });
      } catch (err) {
        deps.logger.warn(
          { tenantId: tenant.id, error: describeError(err) },
          'purge sweep failed for a tenant',
        );
      }
    }
    return purged;
  }

  return { rotateRoot, rootKeyStatus, runMaintenance, purgeDue };
}
