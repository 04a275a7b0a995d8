import { z } from 'zod';
import {
  type AuditSubject,
  audited,
  auditFailure,
  describeError,
  type Operation,
  outOfScope,
  Refusal,
  type RegistryDeps,
  validated,
} from './audited-operation.js';
import { RegistryError } from './errors.js';
import { isUuid, newId } from './ids.js';
import { decodeNameCursor, encodeNameCursor, pageOptions, toPage } from './pagination.js';
import type { CredentialState, ValueBinding } from './ports.js';
import type {
  Credential,
  CredentialType,
  CredentialVersion,
  Page,
  RequestContext,
  RevealedCredential,
} from './types.js';
import {
  credentialType,
  metadata,
  parse,
  parseValue,
  resourceName,
  rotationSchedule,
  text,
  timestamp,
  uuid,
  versionNumber,
} from './validation.js';

const DAY_MS = 86_400_000;

const storeInput = z.object({
  vaultId: uuid,
  name: resourceName,
  type: credentialType,
  value: z.unknown(),
  metadata: metadata.default({}),
  expiresAt: timestamp.optional(),
  rotationSchedule: rotationSchedule.optional(),
});
const revealInput = z.object({
  reason: text(1000).pipe(z.string().trim().min(1, 'a reason is required')),
  version: versionNumber.optional(),
});
const rotateInput = z.object({
  expectedVersion: versionNumber.optional(),
  expiresAt: timestamp.nullable().optional(),
});
const updateInput = z
  .strictObject({
    metadata: metadata.optional(),
    expiresAt: timestamp.nullable().optional(),
    rotationSchedule: rotationSchedule.nullable().optional(),
    active: z.boolean().optional(),
  })
  .refine(
    (p) => Object.values(p).some((v) => v !== undefined),
    'give at least one of metadata, expiresAt, rotationSchedule, active',
  );
const deleteInput = z.object({ recoveryWindowDays: z.number().int().min(1).max(30).default(7) });
const listInput = pageOptions.extend({ includeDeleted: z.boolean().default(false) });

export interface StoreCredentialInput {
  vaultId: string;
  /** Unique among the vault's live credentials; 1–100 letters, digits, `.`, `_`, `-`. */
  name: string;
  type: CredentialType;
  /** Checked against the type's schema; at most 64 KiB as JSON. */
  value: unknown;
  /** Stored in clear and returned by listings: never put secrets here. At most 8 KiB. */
  metadata?: Record<string, unknown>;
  expiresAt?: Date;
  /** ISO 8601 duration, e.g. `P90D`. */
  rotationSchedule?: string;
}

export interface RevealOptions extends RequestContext {
  /** Why the value is needed; required, recorded in the access log. */
  reason: string;
  /** A past version; the current one when absent. */
  version?: number;
}

export interface RotateOptions extends RequestContext {
  /** Check-and-set: refuse with VERSION_MISMATCH unless this is still the current version. */
  expectedVersion?: number;
  /** A new expiry for the credential (null clears it); unchanged when absent. */
  expiresAt?: Date | null;
}

export interface CredentialUpdate {
  metadata?: Record<string, unknown>;
  expiresAt?: Date | null;
  rotationSchedule?: string | null;
  /** false deactivates (every reveal and rotation refused), true reactivates. */
  active?: boolean;
}

const notFound = () => new RegistryError('NOT_FOUND', 'credential not found');
const vaultNotFound = () => new RegistryError('NOT_FOUND', 'vault not found');

/**
 * Credentials of one tenant: store, reveal, rotate, and their life cycle. Every attempt, allowed
 * or not, leaves a row in the access log; a value is returned only once its row is committed.
 */
export class CredentialService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
  ) {}

  /**
   * Stores a new credential as version 1.
   * @example
   * const c = await t.credentials.store(
   *   { vaultId, name: 'stripe', type: 'api_key', value: 'sk_live_…' },
   *   { actor: 'alice' },
   * );
   */
  async store(input: StoreCredentialInput, ctx: RequestContext): Promise<Credential> {
    const subject: AuditSubject = { action: 'store' };
    const { ctx: c, input: s } = await validated(this.deps, this.tenantId, subject, ctx, () => {
      if (isUuid(input?.vaultId)) subject.vaultId = input.vaultId;
      const parsed = parse(storeInput, input);
      this.#checkFuture(parsed.expiresAt, 'expiresAt');
      return { ...parsed, value: parseValue(parsed.type, parsed.value) };
    });
    return audited(this.deps, this.tenantId, c, subject, async (op) => {
      const denied = outOfScope(c, s.vaultId, vaultNotFound);
      if (denied) return op.refuse(denied);
      const found = await op.tx.findVaultWithCurrentKey(s.vaultId);
      if (!found) return op.refuse(vaultNotFound());
      const id = newId();
      const blob = this.#seal(op, found.key, s.value, { vaultId: s.vaultId, credentialId: id, version: 1 });
      const credential = await op.tx.insertCredential({
        id,
        vaultId: s.vaultId,
        name: s.name,
        type: s.type,
        metadata: s.metadata,
        expiresAt: s.expiresAt ?? null,
        rotationSchedule: s.rotationSchedule ?? null,
        createdBy: c.actor,
      });
      await op.tx.insertVersion({
        credentialId: id,
        vaultId: s.vaultId,
        version: 1,
        vaultKeyVersion: found.key.vaultKeyVersion,
        ciphertext: blob,
        createdBy: c.actor,
      });
      await op.granted({ credentialId: id, version: 1 });
      return credential;
    });
  }

  /**
   * Returns a credential's value. The access-log row is written in the same transaction that reads
   * the ciphertext, and the value is returned only after that transaction commits.
   * @example const { value } = await t.credentials.reveal(id, { actor: 'billing-job', reason: 'nightly invoice run' });
   */
  async reveal(id: string, options: RevealOptions): Promise<RevealedCredential> {
    const subject: AuditSubject = { action: 'reveal' };
    const { ctx: c, input: r } = await validated(this.deps, this.tenantId, subject, options, () => {
      subject.credentialId = parse(uuid, id, 'id');
      if (typeof options?.reason === 'string') subject.reason = options.reason.slice(0, 1000);
      return parse(revealInput, options);
    });
    subject.reason = r.reason;
    return audited(this.deps, this.tenantId, c, subject, async (op) => {
      const found = await op.tx.findSealed(id, r.version);
      if (!found) return op.refuse(notFound());
      const { credential, version } = found;
      op.note({ vaultId: credential.vaultId, version: r.version ?? credential.currentVersion });
      const denied = outOfScope(c, credential.vaultId, notFound);
      if (denied) return op.refuse(denied);
      const unusable = this.#unusable(credential, { forReveal: true });
      if (unusable) return op.refuse(unusable);
      if (!version) return op.refuse(new RegistryError('NOT_FOUND', `version ${r.version} does not exist`));
      if (!version.ciphertext) {
        return op.refuse(
          new RegistryError('NOT_FOUND', `version ${version.version} was destroyed by the retention policy`),
        );
      }
      let plaintext: Buffer;
      try {
        plaintext = Buffer.from(
          this.deps.envelope.open(
            version.ciphertext,
            op.key({
              tenantId: this.tenantId,
              vaultId: credential.vaultId,
              vaultKeyVersion: version.vaultKeyVersion,
            }),
            this.#binding(credential.vaultId, id, version.version),
          ),
        );
      } catch (err) {
        if (err instanceof RegistryError && err.code === 'CRYPTO') return op.refuse(err);
        throw err;
      }
      const value: unknown = JSON.parse(plaintext.toString('utf8'));
      plaintext.fill(0);
      await op.granted();
      return {
        credentialId: id,
        name: credential.name,
        type: credential.type,
        version: version.version,
        value,
        expiresAt: credential.expiresAt,
      };
    });
  }

  /**
   * Adds a new version with a new value and makes it current. Concurrent rotations are serialized
   * on the credential's row, so each gets the next version number and none is lost.
   */
  async rotate(
    id: string,
    newValue: unknown,
    options: RotateOptions,
  ): Promise<{ credential: Credential; version: number }> {
    const subject: AuditSubject = { action: 'rotate' };
    const { ctx: c, input: r } = await validated(this.deps, this.tenantId, subject, options, () => {
      subject.credentialId = parse(uuid, id, 'id');
      const parsed = parse(rotateInput, options);
      this.#checkFuture(parsed.expiresAt, 'expiresAt');
      return parsed;
    });
    return audited(this.deps, this.tenantId, c, subject, async (op) => {
      const found = await op.tx.findForRotation(id);
      if (!found) return op.refuse(notFound());
      const { credential } = found;
      op.note({ vaultId: credential.vaultId });
      const denied = outOfScope(c, credential.vaultId, notFound);
      if (denied) return op.refuse(denied);
      const unusable = this.#unusable(credential, { forReveal: false });
      if (unusable) return op.refuse(unusable);
      if (r.expectedVersion !== undefined && r.expectedVersion !== credential.currentVersion) {
        return op.refuse(
          new RegistryError(
            'VERSION_MISMATCH',
            `expected version ${r.expectedVersion}, but the current version is ${credential.currentVersion}`,
          ),
          { version: credential.currentVersion },
        );
      }
      let value: unknown;
      try {
        value = parseValue(credential.type, newValue);
      } catch (err) {
        return op.refuse(err as RegistryError);
      }
      const next = credential.currentVersion + 1;
      const blob = this.#seal(op, found.key, value, {
        vaultId: credential.vaultId,
        credentialId: id,
        version: next,
      });
      await op.tx.insertVersion({
        credentialId: id,
        vaultId: credential.vaultId,
        version: next,
        vaultKeyVersion: found.key.vaultKeyVersion,
        ciphertext: blob,
        createdBy: c.actor,
      });
      const updated = await op.tx.setCurrentVersion(id, next, r.expiresAt);
      if (next > found.maxVersions) await op.tx.destroyVersionsThrough(id, next - found.maxVersions);
      await op.granted({ version: next });
      return { credential: updated, version: next };
    });
  }

  /**
   * Metadata only; soft-deleted credentials are returned too, with `deletedAt` set. With a context,
   * a vault-scoped caller is refused (and logged) outside its vault.
   */
  async get(id: string, ctx?: RequestContext): Promise<Credential> {
    parse(uuid, id, 'id');
    const credential = await this.deps.store.withTenant(this.tenantId, (tx) => tx.findCredential(id));
    if (!credential) throw notFound();
    await this.#checkScope(ctx, credential.vaultId, id);
    return credential;
  }

  /** Metadata of a vault's credentials by name; never values. Soft-deleted ones only when asked. */
  async list(
    vaultId: string,
    options: { limit?: number; cursor?: string; includeDeleted?: boolean } = {},
    ctx?: RequestContext,
  ): Promise<Page<Credential>> {
    parse(uuid, vaultId, 'vaultId');
    const { limit, cursor, includeDeleted } = parse(listInput, options);
    const after = decodeNameCursor(cursor);
    await this.#checkScope(ctx, vaultId, null);
    const rows = await this.deps.store.withTenant(this.tenantId, async (tx) => {
      if (!(await tx.findVault(vaultId))) throw vaultNotFound();
      return tx.listCredentials(vaultId, limit + 1, after, includeDeleted);
    });
    return toPage(rows, limit, encodeNameCursor);
  }

  /** Every version, newest first, with `destroyedAt` on those whose ciphertext retention removed. */
  async listVersions(id: string, ctx?: RequestContext): Promise<CredentialVersion[]> {
    parse(uuid, id, 'id');
    const found = await this.deps.store.withTenant(this.tenantId, async (tx) => {
      const credential = await tx.findCredential(id);
      return credential ? { credential, versions: await tx.listVersions(id) } : null;
    });
    if (!found) throw notFound();
    await this.#checkScope(ctx, found.credential.vaultId, id);
    return found.versions;
  }

  /** Refuses (as not found), and logs as denied, a read outside a vault-scoped caller's vault. */
  async #checkScope(
    ctx: RequestContext | undefined,
    vaultId: string,
    credentialId: string | null,
  ): Promise<void> {
    const denied = ctx ? outOfScope(ctx, vaultId, credentialId ? notFound : vaultNotFound) : null;
    if (!denied || !ctx) return;
    await auditFailure(this.deps, this.tenantId, ctx, { action: 'read', vaultId, credentialId }, denied);
    throw denied;
  }

  /**
   * Changes metadata, expiry, rotation schedule (null clears the last two) and whether the credential
   * is active: all validated first, applied in one transaction.
   */
  async update(id: string, patch: CredentialUpdate, ctx: RequestContext): Promise<Credential> {
    const subject: AuditSubject = { action: 'update' };
    const { ctx: c, input: p } = await validated(this.deps, this.tenantId, subject, ctx, () => {
      subject.credentialId = parse(uuid, id, 'id');
      const parsed = parse(updateInput, patch);
      this.#checkFuture(parsed.expiresAt, 'expiresAt');
      return parsed;
    });
    return this.#change(id, c, subject, async (op, credential) => {
      if (credential.deletedAt) return op.refuse(deleted(credential));
      const { active, ...fields } = p;
      return op.tx.updateCredential(id, { ...fields, ...(active !== undefined ? { isActive: active } : {}) });
    });
  }

  /** Refuses every reveal and rotation until reactivated. */
  async deactivate(id: string, ctx: RequestContext): Promise<Credential> {
    return this.#setActive(id, false, ctx);
  }

  async reactivate(id: string, ctx: RequestContext): Promise<Credential> {
    return this.#setActive(id, true, ctx);
  }

  /** Soft delete: refused everywhere, restorable for `recoveryWindowDays` (Default: 7), then purged. */
  async delete(
    id: string,
    options: { recoveryWindowDays?: number },
    ctx: RequestContext,
  ): Promise<Credential> {
    const subject: AuditSubject = { action: 'delete' };
    const { ctx: c, input: d } = await validated(this.deps, this.tenantId, subject, ctx, () => {
      subject.credentialId = parse(uuid, id, 'id');
      return parse(deleteInput, options ?? {});
    });
    return this.#change(id, c, subject, async (op, credential) => {
      if (credential.deletedAt) return op.refuse(deleted(credential));
      const now = this.deps.clock.now();
      return op.tx.updateCredential(id, {
        deletedAt: now,
        purgeAfter: new Date(now.getTime() + d.recoveryWindowDays * DAY_MS),
      });
    });
  }

  /** Undoes a soft delete within the recovery window; refused if the name was reused meanwhile. */
  async restore(id: string, ctx: RequestContext): Promise<Credential> {
    const subject: AuditSubject = { action: 'restore' };
    const { ctx: c } = await validated(this.deps, this.tenantId, subject, ctx, () => {
      subject.credentialId = parse(uuid, id, 'id');
    });
    return this.#change(id, c, subject, async (op, credential) => {
      if (!credential.deletedAt)
        return op.refuse(new RegistryError('CONFLICT', 'the credential is not deleted'));
      if (credential.purgeAfter && credential.purgeAfter <= this.deps.clock.now()) {
        return op.refuse(
          new RegistryError('NOT_FOUND', 'the recovery window has ended; the credential is being purged'),
        );
      }
      return op.tx.updateCredential(id, { deletedAt: null, purgeAfter: null });
    });
  }

  /** Irreversibly removes a soft-deleted credential and all its versions (and so its data keys). */
  async purge(id: string, ctx: RequestContext): Promise<void> {
    const subject: AuditSubject = { action: 'purge' };
    const { ctx: c } = await validated(this.deps, this.tenantId, subject, ctx, () => {
      subject.credentialId = parse(uuid, id, 'id');
    });
    await this.#change(id, c, subject, async (op, credential) => {
      if (!credential.deletedAt) {
        return op.refuse(
          new RegistryError('CONFLICT', 'only a deleted credential can be purged; delete it first'),
        );
      }
      await op.tx.purgeCredential(id);
      return credential;
    });
  }

  /**
   * Purges every soft-deleted credential whose recovery window has ended; returns how many. One
   * failure (say, a credential restored meanwhile) is logged and skipped, not fatal to the sweep.
   */
  async purgeDue(ctx: RequestContext, batch = 100): Promise<number> {
    let purged = 0;
    for (;;) {
      const due = await this.deps.store.withTenant(this.tenantId, (tx) =>
        tx.listPurgeDue(this.deps.clock.now(), batch),
      );
      let progress = 0;
      for (const credential of due) {
        try {
          await this.purge(credential.id, ctx);
          progress++;
        } catch (err) {
          this.deps.logger.warn(
            { tenantId: this.tenantId, credentialId: credential.id, error: describeError(err) },
            'could not purge a credential past its recovery window; will retry on the next sweep',
          );
        }
      }
      purged += progress;
      if (due.length < batch || progress === 0) return purged;
    }
  }

  /** Locks the credential, runs `change`, and logs the outcome (`granted` unless `change` refused). */
  #change<T>(
    id: string,
    ctx: RequestContext,
    subject: AuditSubject,
    change: (op: Operation, credential: Credential) => Promise<T | Refusal>,
  ): Promise<T> {
    return audited(this.deps, this.tenantId, ctx, subject, async (op) => {
      const credential = await op.tx.findCredential(id, { forUpdate: true });
      if (!credential) return op.refuse(notFound());
      op.note({ vaultId: credential.vaultId, version: credential.currentVersion });
      const denied = outOfScope(ctx, credential.vaultId, notFound);
      if (denied) return op.refuse(denied);
      const result = await change(op, credential);
      if (!(result instanceof Refusal)) await op.granted();
      return result;
    });
  }

  async #setActive(id: string, active: boolean, ctx: RequestContext): Promise<Credential> {
    const subject: AuditSubject = { action: active ? 'reactivate' : 'deactivate' };
    const { ctx: c } = await validated(this.deps, this.tenantId, subject, ctx, () => {
      subject.credentialId = parse(uuid, id, 'id');
    });
    return this.#change(id, c, subject, async (op, credential) => {
      if (credential.deletedAt) return op.refuse(deleted(credential));
      return op.tx.updateCredential(id, { isActive: active });
    });
  }

  /** Why a credential cannot be used now, or null. Rotation is the cure for expiry, so it may proceed. */
  #unusable(credential: CredentialState, { forReveal }: { forReveal: boolean }): RegistryError | null {
    if (credential.deletedAt) return deleted(credential);
    if (!credential.isActive)
      return new RegistryError('INACTIVE', 'the credential is deactivated; reactivate it first');
    if (forReveal && credential.expiresAt && credential.expiresAt <= this.deps.clock.now()) {
      return new RegistryError(
        'EXPIRED',
        `the credential expired at ${credential.expiresAt.toISOString()}; rotate it`,
      );
    }
    return null;
  }

  #checkFuture(date: Date | null | undefined, path: string): void {
    if (date && date <= this.deps.clock.now()) {
      throw new RegistryError('VALIDATION', `invalid input: ${path} must be in the future`, {
        issues: [{ path, problem: 'must be in the future' }],
      });
    }
  }

  #binding(vaultId: string, credentialId: string, version: number): ValueBinding {
    return { tenantId: this.tenantId, vaultId, credentialId, version };
  }

  #seal(
    op: Operation,
    keyRecord: Parameters<Operation['key']>[0],
    value: unknown,
    at: { vaultId: string; credentialId: string; version: number },
  ): Uint8Array {
    const plaintext = Buffer.from(JSON.stringify(value), 'utf8');
    try {
      return this.deps.envelope.seal(
        plaintext,
        op.key(keyRecord),
        this.#binding(at.vaultId, at.credentialId, at.version),
      );
    } finally {
      plaintext.fill(0);
    }
  }
}

function deleted(credential: CredentialState): RegistryError {
  return new RegistryError(
    'DELETED',
    `the credential is deleted; it can be restored until ${credential.purgeAfter?.toISOString() ?? 'it is purged'}`,
  );
}
