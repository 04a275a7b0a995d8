import { z } from 'zod';
import type { AuditSubject, Refusal, RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { expiryAlerts, followVaultExpiryAlerts } from './expiry-alerts.js';
import { isUuid, newId } from './ids.js';
import { decodeNameCursor, encodeNameCursor, type PageOptions, pageOptions, toPage } from './pagination.js';
import type { Page, RequestContext, Vault } from './types.js';
import { defineUseCase, IN_PROCESS, runUseCase, type UseCase } from './use-case.js';
import { resourceName, text, uuid, versionNumber } from './validation.js';

const vaultId = { id: uuid };
const vaultInput = z.strictObject({
  name: resourceName,
  description: text(1000).optional(),
  maxVersions: z.number().int().min(1).max(100).default(10),
  expiryAlerts: expiryAlerts.optional(),
});
const updateInput = z
  .strictObject({ ...vaultId, expiryAlerts: expiryAlerts.nullable().optional() })
  .refine(({ id: _, ...p }) => Object.values(p).some((v) => v !== undefined), 'give at least expiryAlerts');

export interface CreateVaultInput {
  name: string;
  description?: string;
  /** Versions of each credential that keep their ciphertext. (Default: 10), 1–100. */
  maxVersions?: number;
  /**
   * The expiry alert windows of its credentials that set none (ISO 8601 durations, at most 10;
   * `[]` turns them off). (Default: `["P30D","P7D","P1D"]`)
   */
  expiryAlerts?: string[];
}

export interface VaultUpdate {
  /** New default expiry alert windows for its credentials; null: back to the system default. */
  expiryAlerts?: string[] | null;
}

const notFound = () => new RegistryError('NOT_FOUND', 'vault not found');
const byId = z.strictObject(vaultId);
const deleteInput = z.strictObject({ ...vaultId, force: z.boolean().default(false) });
const rewrapInput = z.strictObject({
  ...vaultId,
  batchSize: z.number().int().min(1).max(10_000).default(500),
  maxBatches: z.number().int().min(1).optional(),
});
const destroyKeyInput = z.strictObject({ ...vaultId, version: versionNumber });
const listInput = pageOptions
  .extend({
    /** Only the vault of this exact name. */
    name: resourceName.optional(),
    /** Only those whose name starts with this. */
    prefix: resourceName.optional(),
  })
  .strict();
/** One vault, by id or by its name (unique in the tenant). */
const byIdOrName = z
  .strictObject({ id: uuid.optional(), name: resourceName.optional() })
  .refine((v) => (v.id === undefined) !== (v.name === undefined), {
    message: 'give an id or a name, not both',
    path: ['id'],
  });

/** The vault and key version a raw input names, for the row of an attempt however it ends. */
const named = (raw: Readonly<Record<string, unknown>>): Partial<AuditSubject> => ({
  ...(isUuid(raw.id) ? { vaultId: raw.id } : {}),
  ...(typeof raw.version === 'number' && Number.isInteger(raw.version) ? { version: raw.version } : {}),
});

/** A use-case on one vault named by `id`, refused as missing outside the caller's vault scope. */
const onVault = { names: named, vault: (i: { id?: string | undefined }) => i.id, missing: notFound } as const;

/** Creates a vault and its first vault key (wrapped by the root key before the transaction opens). */
export const createVault = defineUseCase({
  action: 'vault_create',
  capability: 'vaults:create',
  input: vaultInput,
  logs: 'every attempt',
  prepare: async (_, { deps, tenantId }) => {
    const id = newId();
    const { record } = await deps.keyRing.createVaultKey({ tenantId, vaultId: id, vaultKeyVersion: 1 });
    return { id, record };
  },
  abandon: ({ id }, { deps, tenantId }) => deps.keyRing.forgetVault(tenantId, id),
  async body(op, v, { ctx, prepared: { id, record } }) {
    op.note({ vaultId: id });
    const vault = await op.tx.vaults.insert({
      id,
      name: v.name,
      description: v.description ?? null,
      maxVersions: v.maxVersions,
      expiryAlerts: v.expiryAlerts ?? null,
      createdBy: ctx.actor,
    });
    await op.tx.vaultKeys.insert(record);
    await op.granted();
    await op.also('key_create', { version: 1 });
    await op.emit('vault.created', { vaultId: id, name: vault.name });
    return vault;
  },
});

/**
 * One vault, by id or by name. A name is looked up in the tenant only, and a vault outside the
 * caller's vault scope answers as a missing one, whichever way it is named.
 */
export const getVault = defineUseCase({
  action: 'read',
  capability: 'vaults:read',
  input: byIdOrName,
  logs: 'refusals',
  ...onVault,
  async body(op, { id, name }): Promise<Vault | Refusal> {
    if (id !== undefined) return (await op.tx.vaults.find(id)) ?? op.refuse(notFound());
    const vault = await op.tx.vaults.findByName(name!);
    if (!vault) return op.refuse(notFound());
    op.note({ vaultId: vault.id });
    return (await op.outside(vault.id, notFound)) ?? vault;
  },
});

/**
 * Changes a vault's settings: its default expiry alerts, which every credential in it that sets none
 * of its own follows at once (their pending notices are replaced in the same transaction).
 */
export const updateVault = defineUseCase({
  action: 'vault_update',
  capability: 'vaults:write',
  input: updateInput,
  logs: 'every attempt',
  ...onVault,
  async body(op, { id, expiryAlerts }, { deps }): Promise<Vault | Refusal> {
    const before = await op.tx.vaults.lock(id);
    if (!before) return op.refuse(notFound());
    const vault = (await op.tx.vaults.update(id, { expiryAlerts }))!;
    await followVaultExpiryAlerts(op, deps, before, vault);
    await op.granted();
    await op.emit('vault.updated', { vaultId: id, name: vault.name });
    return vault;
  },
});

/** By name. A vault-scoped caller sees its one vault. */
export const listVaults = defineUseCase({
  action: 'read',
  capability: 'vaults:read',
  input: listInput,
  logs: 'refusals',
  async body(op, { limit, cursor, name, prefix }, { ctx }): Promise<Page<Vault>> {
    const filters = { ...(name !== undefined ? { name } : {}), ...(prefix !== undefined ? { prefix } : {}) };
    if (ctx.vaultScope) {
      const vault = cursor ? null : await op.tx.vaults.find(ctx.vaultScope);
      const kept =
        vault &&
        (name === undefined || vault.name === name) &&
        (prefix === undefined || vault.name.startsWith(prefix));
      return { items: kept ? [vault] : [], nextCursor: null };
    }
    return toPage(
      await op.tx.vaults.list(limit + 1, decodeNameCursor(cursor), filters),
      limit,
      encodeNameCursor,
    );
  },
});

/**
 * Deletes a vault with its keys: every ciphertext in it becomes unrecoverable (crypto-shredding).
 * A vault that still holds credentials (live or soft-deleted) is refused unless `force` is set.
 */
export const deleteVault = defineUseCase({
  action: 'vault_delete',
  capability: 'vaults:write',
  input: deleteInput,
  logs: 'every attempt',
  ...onVault,
  async body(op, { id, force }): Promise<undefined | Refusal> {
    const vault = await op.tx.vaults.find(id);
    if (!vault) return op.refuse(notFound());
    const held = await op.tx.credentials.idsInVault(id);
    if (held.length > 0 && !force) {
      return op.refuse(
        new RegistryError(
          'CONFLICT',
          `the vault holds ${held.length} credential(s); delete or purge them first, or pass force`,
        ),
      );
    }
    await op.tx.vaults.delete(id);
    await op.granted();
    await op.emit('vault.deleted', { vaultId: id, name: vault.name });
    await op.also('key_destroy', { version: vault.currentKeyVersion });
    // Each credential destroyed with the vault gets its own row, so its history ends visibly.
    for (const credentialId of held) await op.also('purge', { credentialId, reason: 'vault deleted' });
    return undefined;
  },
  after: (_, { id }, { deps, tenantId }) => deps.keyRing.forgetVault(tenantId, id),
});

/**
 * Makes a new vault-key version current: new values use it at once. Existing data keys stay under
 * the old version until `rewrap` moves them; nothing is decrypted either way.
 */
export const rotateVaultKey = defineUseCase({
  action: 'key_rotate',
  capability: 'keys:manage',
  input: byId,
  logs: 'every attempt',
  ...onVault,
  prepare: async ({ id }, { deps, tenantId }) => {
    const vault = await deps.store.withTenant(tenantId, (tx) => tx.vaults.find(id));
    if (!vault) return null; // refused in the body, where the row is written
    const context = { tenantId, vaultId: id, vaultKeyVersion: vault.currentKeyVersion + 1 };
    // The provider call, outside any transaction.
    return { from: vault.currentKeyVersion, record: (await deps.keyRing.createVaultKey(context)).record };
  },
  async body(op, { id }, { prepared }): Promise<{ version: number } | Refusal> {
    const locked = await op.tx.vaults.lock(id);
    if (!locked || !prepared) return op.refuse(notFound());
    if (locked.currentKeyVersion !== prepared.from) {
      return op.refuse(new RegistryError('CONFLICT', 'the vault key was rotated concurrently; retry'));
    }
    const next = prepared.record.vaultKeyVersion;
    await op.tx.vaultKeys.insert(prepared.record);
    await op.tx.vaults.setCurrentKeyVersion(id, next);
    await op.granted({ version: next });
    await op.emit('key.rotated', { vaultId: id, version: next });
    return { version: next };
  },
});

/**
 * One re-wrap batch: moves up to `batchSize` data keys still under older vault-key versions to the
 * current one, and logs it as one `key_rewrap` row. Returns how many moved.
 */
export const rewrapBatch = defineUseCase({
  action: 'key_rewrap',
  capability: 'keys:manage',
  input: rewrapInput,
  logs: 'refusals', // a batch that finds nothing to move is not an event
  ...onVault,
  async body(op, { id, batchSize }, { deps, tenantId }): Promise<number | Refusal> {
    const vault = await op.tx.vaults.find(id);
    if (!vault) return op.refuse(notFound());
    const rows = await op.tx.versions.claimToRewrap(id, vault.currentKeyVersion, batchSize);
    if (rows.length === 0) return 0;
    const to = op.key({ tenantId, vaultId: id, vaultKeyVersion: vault.currentKeyVersion });
    for (const row of rows) {
      const from = op.key({ tenantId, vaultId: id, vaultKeyVersion: row.vaultKeyVersion });
      const binding = { tenantId, vaultId: id, credentialId: row.credentialId, version: row.version };
      const blob = deps.envelope.rewrap(row.ciphertext, from, to, binding);
      await op.tx.versions.setCiphertext(row.credentialId, row.version, vault.currentKeyVersion, blob);
    }
    await op.granted({
      version: vault.currentKeyVersion,
      reason: `${rows.length} data keys re-wrapped to vault key version ${vault.currentKeyVersion}`,
    });
    return rows.length;
  },
});

export interface VaultKeyStatus {
  currentVersion: number;
  versions: Array<{ version: number; createdAt: Date; dataKeys: number }>;
}

/** Each vault-key version with how many data keys still use it: the progress of a re-wrap. */
export const getVaultKeyStatus = defineUseCase({
  action: 'read',
  capability: 'keys:manage',
  input: byId,
  logs: 'refusals',
  ...onVault,
  async body(op, { id }): Promise<VaultKeyStatus | Refusal> {
    const vault = await op.tx.vaults.find(id);
    if (!vault) return op.refuse(notFound());
    return { currentVersion: vault.currentKeyVersion, versions: await op.tx.vaultKeys.usage(id) };
  },
});

/**
 * Destroys an old vault-key version once no data key uses it. The current version cannot be
 * destroyed (delete the vault for that).
 */
export const destroyVaultKey = defineUseCase({
  action: 'key_destroy',
  capability: 'keys:manage',
  input: destroyKeyInput,
  logs: 'every attempt',
  ...onVault,
  async body(op, { id, version }): Promise<undefined | Refusal> {
    const vault = await op.tx.vaults.lock(id);
    if (!vault) return op.refuse(notFound());
    if (version === vault.currentKeyVersion) {
      return op.refuse(
        new RegistryError('CONFLICT', 'the current vault key cannot be destroyed; rotate first'),
      );
    }
    const inUse = (await op.tx.vaultKeys.usage(id)).find((v) => v.version === version);
    if (!inUse)
      return op.refuse(new RegistryError('NOT_FOUND', `vault key version ${version} does not exist`));
    if (inUse.dataKeys > 0) {
      return op.refuse(
        new RegistryError(
          'CONFLICT',
          `${inUse.dataKeys} data keys still use vault key version ${version}; rewrap first`,
        ),
      );
    }
    await op.tx.vaultKeys.delete(id, version, vault.currentKeyVersion);
    await op.granted();
    return undefined;
  },
  after: (_, { id }, { deps, tenantId }) => deps.keyRing.forgetVault(tenantId, id),
});

/**
 * Vaults of one tenant, as library calls: each has its own vault key, created with it and
 * destroyed with it. Each method runs one use-case above.
 */
export class VaultService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
    /** Told after a vault is deleted, e.g. to drop tokens limited to it from the auth cache. */
    private readonly onDeleted: (vaultId: string) => void = () => {},
  ) {}

  #run<S extends z.ZodType, P, O>(useCase: UseCase<S, P, O>, input: unknown, ctx: unknown): Promise<O> {
    return runUseCase(this.deps, this.tenantId, useCase, input, ctx);
  }

  /** @example const v = await t.vaults.create({ name: 'payments' }, { actor: 'alice' }); */
  create(input: CreateVaultInput, ctx: RequestContext): Promise<Vault> {
    return this.#run(createVault, input, ctx);
  }

  /** A vault-scoped caller is refused (and logged) for any other vault. */
  get(id: string, ctx: RequestContext = IN_PROCESS): Promise<Vault> {
    return this.#run(getVault, { id }, ctx);
  }

  /**
   * By its name in the tenant; answers exactly as `get` does (a vault outside the caller's scope
   * is missing). @example const v = await t.vaults.getByName('payments', { actor: 'alice' });
   */
  getByName(name: string, ctx: RequestContext = IN_PROCESS): Promise<Vault> {
    return this.#run(getVault, { name }, ctx);
  }

  /** By name; only the one of `name`, or those starting with `prefix`, when given. */
  list(
    options: PageOptions & { name?: string; prefix?: string } = {},
    ctx: RequestContext = IN_PROCESS,
  ): Promise<Page<Vault>> {
    return this.#run(listVaults, options, ctx);
  }

  /** @example await t.vaults.update(id, { expiryAlerts: ['P14D', 'P1D'] }, { actor: 'alice' }); */
  update(id: string, patch: VaultUpdate, ctx: RequestContext): Promise<Vault> {
    return this.#run(updateVault, { ...patch, id }, ctx);
  }

  async delete(id: string, options: { force?: boolean } = {}, ctx: RequestContext): Promise<void> {
    await this.#run(deleteVault, { ...options, id }, ctx);
    this.onDeleted(id);
  }

  rotateKey(id: string, ctx: RequestContext): Promise<{ version: number }> {
    return this.#run(rotateVaultKey, { id }, ctx);
  }

  /**
   * Moves data keys still under older vault-key versions to the current one, `batchSize` per
   * transaction. Resumable: each batch commits on its own, so a crash loses nothing and the next
   * call continues. Concurrent calls share the work (rows another one holds are skipped).
   * Stops after `maxBatches`, if given. Each batch is one `key_rewrap` row in the access log.
   */
  async rewrap(
    id: string,
    options: { batchSize?: number; maxBatches?: number },
    ctx: RequestContext,
  ): Promise<{ rewrapped: number; remaining: number }> {
    const input = { ...options, id };
    const { batchSize = 500, maxBatches } = options ?? {};
    let rewrapped = 0;
    // The first batch always runs: it is where the input is checked (and refused, with its row).
    for (let batch = 1; ; batch++) {
      const moved = await this.#run(rewrapBatch, input, ctx);
      rewrapped += moved;
      if (moved < batchSize || (maxBatches !== undefined && batch >= maxBatches)) break;
    }
    const usage = await this.keyStatus(id, ctx);
    return {
      rewrapped,
      remaining: usage.versions
        .filter((v) => v.version !== usage.currentVersion)
        .reduce((n, v) => n + v.dataKeys, 0),
    };
  }

  keyStatus(id: string, ctx: RequestContext = IN_PROCESS): Promise<VaultKeyStatus> {
    return this.#run(getVaultKeyStatus, { id }, ctx);
  }

  async destroyKeyVersion(id: string, version: number, ctx: RequestContext): Promise<void> {
    await this.#run(destroyVaultKey, { id, version }, ctx);
  }
}
