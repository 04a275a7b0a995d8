import { z } from 'zod';
import {
  type AuditSubject,
  audited,
  auditFailure,
  outOfScope,
  type RegistryDeps,
  validated,
} from './audited-operation.js';
import { RegistryError } from './errors.js';
import { newId } from './ids.js';
import { decodeNameCursor, encodeNameCursor, type PageOptions, pageOptions, toPage } from './pagination.js';
import type { VaultKeyRecord } from './ports.js';
import type { Page, RequestContext, Vault } from './types.js';
import { parse, resourceName, text, uuid, versionNumber } from './validation.js';

const vaultInput = z.object({
  name: resourceName,
  description: text(1000).optional(),
  maxVersions: z.number().int().min(1).max(100).default(10),
});

export interface CreateVaultInput {
  name: string;
  description?: string;
  /** Versions of each credential that keep their ciphertext. (Default: 10), 1–100. */
  maxVersions?: number;
}

const notFound = () => new RegistryError('NOT_FOUND', 'vault not found');
const rewrapInput = z.object({
  batchSize: z.number().int().min(1).max(10_000).default(500),
  maxBatches: z.number().int().min(1).optional(),
});

/** Vaults of one tenant: each has its own vault key, created with it and destroyed with it. */
export class VaultService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
    /** Told after a vault is deleted, e.g. to drop tokens limited to it from the auth cache. */
    private readonly onDeleted: (vaultId: string) => void = () => {},
  ) {}

  /**
   * Creates a vault and its first vault key (wrapped by the root key before the transaction opens).
   * @example const v = await t.vaults.create({ name: 'payments' }, { actor: 'alice' });
   */
  async create(input: CreateVaultInput, ctx: RequestContext): Promise<Vault> {
    const subject = { action: 'vault_create' as const };
    const { ctx: c, input: v } = await validated(this.deps, this.tenantId, subject, ctx, () => {
      if (ctx?.vaultScope)
        throw new RegistryError('FORBIDDEN', 'a token limited to one vault cannot create vaults');
      return parse(vaultInput, input);
    });
    const id = newId();
    let record: VaultKeyRecord;
    try {
      ({ record } = await this.deps.keyRing.createVaultKey({
        tenantId: this.tenantId,
        vaultId: id,
        vaultKeyVersion: 1,
      }));
    } catch (err) {
      await auditFailure(this.deps, this.tenantId, c, { action: 'key_create', vaultId: id }, err);
      throw err;
    }
    try {
      return await audited(this.deps, this.tenantId, c, { ...subject, vaultId: id }, async (op) => {
        const vault = await op.tx.insertVault({
          id,
          name: v.name,
          description: v.description ?? null,
          maxVersions: v.maxVersions,
          createdBy: c.actor,
        });
        await op.tx.insertVaultKey(record);
        await op.granted();
        await op.also('key_create', { version: 1 });
        return vault;
      });
    } catch (err) {
      this.deps.keyRing.forgetVault(this.tenantId, id);
      throw err;
    }
  }

  /** With a context, a vault-scoped caller is refused (and logged) for any other vault. */
  async get(id: string, ctx?: RequestContext): Promise<Vault> {
    parse(uuid, id, 'id');
    const denied = ctx ? outOfScope(ctx, id, notFound) : null;
    if (denied && ctx) {
      await auditFailure(this.deps, this.tenantId, ctx, { action: 'read', vaultId: id }, denied);
      throw denied;
    }
    const vault = await this.deps.store.withTenant(this.tenantId, (tx) => tx.findVault(id));
    if (!vault) throw notFound();
    return vault;
  }

  /** By name. A vault-scoped caller sees its one vault. */
  async list(options: PageOptions = {}, ctx?: RequestContext): Promise<Page<Vault>> {
    const { limit, cursor } = parse(pageOptions, options);
    if (ctx?.vaultScope) {
      const scope = ctx.vaultScope;
      const vault = cursor
        ? null
        : await this.deps.store.withTenant(this.tenantId, (tx) => tx.findVault(scope));
      return { items: vault ? [vault] : [], nextCursor: null };
    }
    const rows = await this.deps.store.withTenant(this.tenantId, (tx) =>
      tx.listVaults(limit + 1, decodeNameCursor(cursor)),
    );
    return toPage(rows, limit, encodeNameCursor);
  }

  /**
   * Deletes a vault with its keys: every ciphertext in it becomes unrecoverable (crypto-shredding).
   * A vault that still holds credentials (live or soft-deleted) is refused unless `force` is set.
   */
  async delete(id: string, options: { force?: boolean } = {}, ctx: RequestContext): Promise<void> {
    const subject: AuditSubject = { action: 'vault_delete' };
    const { ctx: c } = await validated(this.deps, this.tenantId, subject, ctx, () => {
      subject.vaultId = parse(uuid, id, 'id');
    });
    await audited(this.deps, this.tenantId, c, subject, async (op) => {
      const denied = outOfScope(c, id, notFound);
      if (denied) return op.refuse(denied);
      const vault = await op.tx.findVault(id);
      if (!vault) return op.refuse(notFound());
      const held = await op.tx.credentialIdsInVault(id);
      if (held.length > 0 && !options?.force) {
        return op.refuse(
          new RegistryError(
            'CONFLICT',
            `the vault holds ${held.length} credential(s); delete or purge them first, or pass force`,
          ),
        );
      }
      await op.tx.deleteVault(id);
      await op.granted();
      await op.also('key_destroy', { version: vault.currentKeyVersion });
      // Each credential destroyed with the vault gets its own row, so its history ends visibly.
      for (const credentialId of held) await op.also('purge', { credentialId, reason: 'vault deleted' });
    });
    this.deps.keyRing.forgetVault(this.tenantId, id);
    this.onDeleted(id);
  }

  /**
   * Makes a new vault-key version current: new values use it at once. Existing data keys stay under
   * the old version until `rewrap` moves them; nothing is decrypted either way.
   */
  async rotateKey(id: string, ctx: RequestContext): Promise<{ version: number }> {
    const subject: AuditSubject = { action: 'key_rotate' };
    const { ctx: c } = await validated(this.deps, this.tenantId, subject, ctx, () => {
      subject.vaultId = parse(uuid, id, 'id');
    });
    const vault = await this.get(id, c);
    const next = vault.currentKeyVersion + 1;
    const context = { tenantId: this.tenantId, vaultId: id, vaultKeyVersion: next };
    let record: VaultKeyRecord;
    try {
      ({ record } = await this.deps.keyRing.createVaultKey(context)); // the provider call, outside any transaction
    } catch (err) {
      await auditFailure(this.deps, this.tenantId, c, subject, err);
      throw err;
    }
    return audited(this.deps, this.tenantId, c, subject, async (op) => {
      const locked = await op.tx.lockVault(id);
      if (!locked) return op.refuse(notFound());
      if (locked.currentKeyVersion !== vault.currentKeyVersion) {
        return op.refuse(new RegistryError('CONFLICT', 'the vault key was rotated concurrently; retry'));
      }
      await op.tx.insertVaultKey(record);
      await op.tx.setCurrentKeyVersion(id, next);
      await op.granted({ version: next });
      return { version: next };
    });
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
    const subject: AuditSubject = { action: 'key_rewrap' };
    const { ctx: c, input: o } = await validated(this.deps, this.tenantId, subject, ctx, () => {
      subject.vaultId = parse(uuid, id, 'id');
      return parse(rewrapInput, options ?? {});
    });
    let rewrapped = 0;
    for (let batch = 0; o.maxBatches === undefined || batch < o.maxBatches; batch++) {
      const moved = await audited(this.deps, this.tenantId, c, { ...subject }, async (op) => {
        const vault = await op.tx.findVault(id);
        if (!vault) return op.refuse(notFound());
        const denied = outOfScope(c, id, notFound);
        if (denied) return op.refuse(denied);
        const rows = await op.tx.claimVersionsToRewrap(id, vault.currentKeyVersion, o.batchSize);
        if (rows.length === 0) return 0;
        const to = op.key({ tenantId: this.tenantId, vaultId: id, vaultKeyVersion: vault.currentKeyVersion });
        for (const row of rows) {
          const from = op.key({ tenantId: this.tenantId, vaultId: id, vaultKeyVersion: row.vaultKeyVersion });
          const binding = {
            tenantId: this.tenantId,
            vaultId: id,
            credentialId: row.credentialId,
            version: row.version,
          };
          const blob = this.deps.envelope.rewrap(row.ciphertext, from, to, binding);
          await op.tx.setVersionCiphertext(row.credentialId, row.version, vault.currentKeyVersion, blob);
        }
        await op.granted({
          version: vault.currentKeyVersion,
          reason: `${rows.length} data keys re-wrapped to vault key version ${vault.currentKeyVersion}`,
        });
        return rows.length;
      });
      rewrapped += moved;
      if (moved < o.batchSize) break;
    }
    const usage = await this.keyStatus(id, c);
    return {
      rewrapped,
      remaining: usage.versions
        .filter((v) => v.version !== usage.currentVersion)
        .reduce((n, v) => n + v.dataKeys, 0),
    };
  }

  /** Each vault-key version with how many data keys still use it: the progress of a re-wrap. */
  async keyStatus(
    id: string,
    ctx?: RequestContext,
  ): Promise<{
    currentVersion: number;
    versions: Array<{ version: number; createdAt: Date; dataKeys: number }>;
  }> {
    const vault = await this.get(id, ctx);
    const versions = await this.deps.store.withTenant(this.tenantId, (tx) => tx.vaultKeyUsage(id));
    return { currentVersion: vault.currentKeyVersion, versions };
  }

  /**
   * Destroys an old vault-key version once no data key uses it. The current version cannot be
   * destroyed (delete the vault for that).
   */
  async destroyKeyVersion(id: string, version: number, ctx: RequestContext): Promise<void> {
    const subject: AuditSubject = { action: 'key_destroy' };
    const { ctx: c } = await validated(this.deps, this.tenantId, subject, ctx, () => {
      subject.vaultId = parse(uuid, id, 'id');
      subject.version = parse(versionNumber, version, 'version');
    });
    await audited(this.deps, this.tenantId, c, subject, async (op) => {
      const vault = await op.tx.lockVault(id);
      if (!vault) return op.refuse(notFound());
      const denied = outOfScope(c, id, notFound);
      if (denied) return op.refuse(denied);
      if (version === vault.currentKeyVersion) {
        return op.refuse(
          new RegistryError('CONFLICT', 'the current vault key cannot be destroyed; rotate first'),
        );
      }
      const inUse = (await op.tx.vaultKeyUsage(id)).find((v) => v.version === version);
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
      await op.tx.deleteVaultKey(id, version, vault.currentKeyVersion);
      await op.granted();
    });
    this.deps.keyRing.forgetVault(this.tenantId, id);
  }
}
