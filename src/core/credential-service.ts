import { z } from 'zod';
import {
  type AuditSubject,
  describeError,
  type Operation,
  Refusal,
  type RegistryDeps,
} from './audited-operation.js';
import { RegistryError } from './errors.js';
import { isUuid, newId } from './ids.js';
import { decodeNameCursor, encodeNameCursor, pageOptions, toPage } from './pagination.js';
import type { CredentialState, ValueBinding } from './ports.js';
import type {
  AccessAction,
  Credential,
  CredentialType,
  CredentialVersion,
  Page,
  RequestContext,
  RevealedCredential,
} from './types.js';
import { defineUseCase, IN_PROCESS, runUseCase, type UseCase, type UseCaseEnv } from './use-case.js';
import {
  credentialType,
  metadata,
  parseValue,
  resourceName,
  rotationSchedule,
  text,
  timestamp,
  uuid,
  versionNumber,
} from './validation.js';

const DAY_MS = 86_400_000;

const credentialId = { id: uuid };
const storeInput = z.strictObject({
  vaultId: uuid,
  name: resourceName,
  type: credentialType,
  value: z.unknown(),
  metadata: metadata.default({}),
  expiresAt: timestamp.optional(),
  rotationSchedule: rotationSchedule.optional(),
});
const revealInput = z.strictObject({
  ...credentialId,
  reason: text(1000).pipe(z.string().trim().min(1, 'a reason is required')),
  version: versionNumber.optional(),
});
const rotateInput = z.strictObject({
  ...credentialId,
  value: z.unknown(),
  expectedVersion: versionNumber.optional(),
  expiresAt: timestamp.nullable().optional(),
});
const updateInput = z
  .strictObject({
    ...credentialId,
    metadata: metadata.optional(),
    expiresAt: timestamp.nullable().optional(),
    rotationSchedule: rotationSchedule.nullable().optional(),
    active: z.boolean().optional(),
  })
  .refine(
    ({ id: _, ...p }) => Object.values(p).some((v) => v !== undefined),
    'give at least one of metadata, expiresAt, rotationSchedule, active',
  );
const deleteInput = z.strictObject({
  ...credentialId,
  recoveryWindowDays: z.number().int().min(1).max(30).default(7),
});
const byId = z.strictObject(credentialId);
const listInput = pageOptions.extend({ vaultId: uuid, includeDeleted: z.boolean().default(false) }).strict();

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

/** The credential, version and reason a raw input names, for the row of an attempt however it ends. */
const named = (raw: Readonly<Record<string, unknown>>): Partial<AuditSubject> => ({
  ...(isUuid(raw.id) ? { credentialId: raw.id } : {}),
  ...(isUuid(raw.vaultId) ? { vaultId: raw.vaultId } : {}),
  ...(typeof raw.reason === 'string' ? { reason: raw.reason.slice(0, 1000) } : {}),
});

/** Stores a new credential as version 1. */
export const storeCredential = defineUseCase({
  action: 'store',
  capability: 'credentials:write',
  input: storeInput,
  logs: 'every attempt',
  names: named,
  vault: (s) => s.vaultId,
  missing: vaultNotFound,
  async body(op, s, { deps, tenantId, ctx }) {
    const past = inThePast(deps, s.expiresAt);
    if (past) return op.refuse(past);
    let value: unknown;
    try {
      value = parseValue(s.type, s.value);
    } catch (err) {
      return op.refuse(err as RegistryError);
    }
    const found = await op.tx.vaults.findWithCurrentKey(s.vaultId);
    if (!found) return op.refuse(vaultNotFound());
    const id = newId();
    const blob = seal(deps, op, found.key, value, {
      tenantId,
      vaultId: s.vaultId,
      credentialId: id,
      version: 1,
    });
    const credential = await op.tx.credentials.insert({
      id,
      vaultId: s.vaultId,
      name: s.name,
      type: s.type,
      metadata: s.metadata,
      expiresAt: s.expiresAt ?? null,
      rotationSchedule: s.rotationSchedule ?? null,
      createdBy: ctx.actor,
    });
    await op.tx.versions.insert({
      credentialId: id,
      vaultId: s.vaultId,
      version: 1,
      vaultKeyVersion: found.key.vaultKeyVersion,
      ciphertext: blob,
      createdBy: ctx.actor,
    });
    await op.granted({ credentialId: id, version: 1 });
    return credential;
  },
});

/**
 * Returns a credential's value. The access-log row is written in the same transaction that reads
 * the ciphertext, and the value is returned only after that transaction commits.
 */
export const revealCredential = defineUseCase({
  action: 'reveal',
  capability: 'credentials:reveal',
  input: revealInput,
  logs: 'every attempt',
  names: named,
  async body(op, r, { deps, tenantId }): Promise<RevealedCredential | Refusal> {
    const found = await op.tx.credentials.findSealed(r.id, r.version);
    if (!found) return op.refuse(notFound());
    const { credential, version } = found;
    op.note({ vaultId: credential.vaultId, version: r.version ?? credential.currentVersion });
    const outside = await op.outside(credential.vaultId, notFound);
    if (outside) return outside;
    const unusable = unusableNow(deps, credential, { forReveal: true });
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
        deps.envelope.open(
          version.ciphertext,
          op.key({ tenantId, vaultId: credential.vaultId, vaultKeyVersion: version.vaultKeyVersion }),
          { tenantId, vaultId: credential.vaultId, credentialId: r.id, version: version.version },
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
      credentialId: r.id,
      name: credential.name,
      type: credential.type,
      version: version.version,
      value,
      expiresAt: credential.expiresAt,
    };
  },
});

/**
 * Adds a new version with a new value and makes it current. Concurrent rotations are serialized
 * on the credential's row, so each gets the next version number and none is lost.
 */
export const rotateCredential = defineUseCase({
  action: 'rotate',
  capability: 'credentials:write',
  input: rotateInput,
  logs: 'every attempt',
  names: named,
  async body(op, r, { deps, tenantId, ctx }): Promise<{ credential: Credential; version: number } | Refusal> {
    const past = inThePast(deps, r.expiresAt);
    if (past) return op.refuse(past);
    const found = await op.tx.credentials.findForRotation(r.id);
    if (!found) return op.refuse(notFound());
    const { credential } = found;
    op.note({ vaultId: credential.vaultId });
    const outside = await op.outside(credential.vaultId, notFound);
    if (outside) return outside;
    const unusable = unusableNow(deps, credential, { forReveal: false });
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
      value = parseValue(credential.type, r.value);
    } catch (err) {
      return op.refuse(err as RegistryError);
    }
    const next = credential.currentVersion + 1;
    const blob = seal(deps, op, found.key, value, {
      tenantId,
      vaultId: credential.vaultId,
      credentialId: r.id,
      version: next,
    });
    await op.tx.versions.insert({
      credentialId: r.id,
      vaultId: credential.vaultId,
      version: next,
      vaultKeyVersion: found.key.vaultKeyVersion,
      ciphertext: blob,
      createdBy: ctx.actor,
    });
    const updated = await op.tx.credentials.setCurrentVersion(r.id, next, r.expiresAt);
    if (next > found.maxVersions) await op.tx.versions.destroyThrough(r.id, next - found.maxVersions);
    await op.granted({ version: next });
    return { credential: updated, version: next };
  },
});

/** Metadata only; soft-deleted credentials are returned too, with `deletedAt` set. */
export const getCredential = defineUseCase({
  action: 'read',
  capability: 'credentials:read',
  input: byId,
  logs: 'refusals',
  names: named,
  async body(op, { id }): Promise<Credential | Refusal> {
    const credential = await op.tx.credentials.find(id);
    if (!credential) return op.refuse(notFound());
    return (await op.outside(credential.vaultId, notFound)) ?? credential;
  },
});

/** Metadata of a vault's credentials by name; never values. Soft-deleted ones only when asked. */
export const listCredentials = defineUseCase({
  action: 'read',
  capability: 'credentials:read',
  input: listInput,
  logs: 'refusals',
  names: named,
  vault: (l) => l.vaultId,
  missing: vaultNotFound,
  async body(op, { vaultId, limit, cursor, includeDeleted }): Promise<Page<Credential> | Refusal> {
    const after = decodeNameCursor(cursor);
    if (!(await op.tx.vaults.find(vaultId))) return op.refuse(vaultNotFound());
    return toPage(
      await op.tx.credentials.list(vaultId, limit + 1, after, includeDeleted),
      limit,
      encodeNameCursor,
    );
  },
});

/** Every version, newest first, with `destroyedAt` on those whose ciphertext retention removed. */
export const listVersions = defineUseCase({
  action: 'read',
  capability: 'credentials:read',
  input: byId,
  logs: 'refusals',
  names: named,
  async body(op, { id }): Promise<CredentialVersion[] | Refusal> {
    const credential = await op.tx.credentials.find(id);
    if (!credential) return op.refuse(notFound());
    return (await op.outside(credential.vaultId, notFound)) ?? op.tx.versions.list(id);
  },
});

/**
 * A change to one credential: locks its row, refuses outside the caller's scope, runs `change`, and
 * logs the outcome (`granted` unless `change` refused).
 */
function credentialChange<S extends z.ZodType<{ id: string }>>(
  action: AccessAction,
  input: S,
  change: (
    op: Operation,
    credential: Credential,
    input: z.output<S>,
    env: UseCaseEnv,
  ) => Promise<Credential | Refusal>,
) {
  return defineUseCase({
    action,
    capability: 'credentials:write',
    input,
    logs: 'every attempt',
    names: named,
    async body(op, i, env): Promise<Credential | Refusal> {
      const credential = await op.tx.credentials.find(i.id, { forUpdate: true });
      if (!credential) return op.refuse(notFound());
      op.note({ vaultId: credential.vaultId, version: credential.currentVersion });
      const outside = await op.outside(credential.vaultId, notFound);
      if (outside) return outside;
      const result = await change(op, credential, i, env);
      if (!(result instanceof Refusal)) await op.granted();
      return result;
    },
  });
}

/**
 * Changes metadata, expiry, rotation schedule (null clears the last two) and whether the credential
 * is active: all validated first, applied in one transaction.
 */
export const updateCredential = credentialChange(
  'update',
  updateInput,
  async (op, credential, p, { deps }) => {
    const past = inThePast(deps, p.expiresAt);
    if (past) return op.refuse(past);
    if (credential.deletedAt) return op.refuse(deleted(credential));
    const { id, active, ...fields } = p;
    return op.tx.credentials.update(id, { ...fields, ...(active !== undefined ? { isActive: active } : {}) });
  },
);

const setActive = (active: boolean) =>
  credentialChange(active ? 'reactivate' : 'deactivate', byId, async (op, credential, { id }) => {
    if (credential.deletedAt) return op.refuse(deleted(credential));
    return op.tx.credentials.update(id, { isActive: active });
  });
/** Refuses every reveal and rotation until reactivated. */
export const deactivateCredential = setActive(false);
export const reactivateCredential = setActive(true);

/** Soft delete: refused everywhere, restorable for `recoveryWindowDays` (Default: 7), then purged. */
export const deleteCredential = credentialChange(
  'delete',
  deleteInput,
  async (op, credential, d, { deps }) => {
    if (credential.deletedAt) return op.refuse(deleted(credential));
    const now = deps.clock.now();
    return op.tx.credentials.update(d.id, {
      deletedAt: now,
      purgeAfter: new Date(now.getTime() + d.recoveryWindowDays * DAY_MS),
    });
  },
);

/** Undoes a soft delete within the recovery window; refused if the name was reused meanwhile. */
export const restoreCredential = credentialChange(
  'restore',
  byId,
  async (op, credential, { id }, { deps }) => {
    if (!credential.deletedAt)
      return op.refuse(new RegistryError('CONFLICT', 'the credential is not deleted'));
    if (credential.purgeAfter && credential.purgeAfter <= deps.clock.now()) {
      return op.refuse(
        new RegistryError('NOT_FOUND', 'the recovery window has ended; the credential is being purged'),
      );
    }
    return op.tx.credentials.update(id, { deletedAt: null, purgeAfter: null });
  },
);

/** Irreversibly removes a soft-deleted credential and all its versions (and so its data keys). */
export const purgeCredential = credentialChange('purge', byId, async (op, credential, { id }) => {
  if (!credential.deletedAt) {
    return op.refuse(
      new RegistryError('CONFLICT', 'only a deleted credential can be purged; delete it first'),
    );
  }
  await op.tx.credentials.purge(id);
  return credential;
});

/**
 * Credentials of one tenant: store, reveal, rotate, and their life cycle, as library calls. Each
 * runs one use-case above: every attempt, allowed or not, leaves a row in the access log, and a
 * value is returned only once its row is committed.
 */
export class CredentialService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
  ) {}

  #run<S extends z.ZodType, P, O>(useCase: UseCase<S, P, O>, input: unknown, ctx: unknown): Promise<O> {
    return runUseCase(this.deps, this.tenantId, useCase, input, ctx);
  }

  /**
   * Stores a new credential as version 1.
   * @example
   * const c = await t.credentials.store(
   *   { vaultId, name: 'stripe', type: 'api_key', value: 'sk_live_…' },
   *   { actor: 'alice' },
   * );
   */
  store(input: StoreCredentialInput, ctx: RequestContext): Promise<Credential> {
    return this.#run(storeCredential, input, ctx);
  }

  /**
   * Returns a credential's value, once its access-log row is committed.
   * @example const { value } = await t.credentials.reveal(id, { actor: 'billing-job', reason: 'nightly invoice run' });
   */
  reveal(id: string, options: RevealOptions): Promise<RevealedCredential> {
    const { reason, version, ...ctx } = options ?? ({} as RevealOptions);
    return this.#run(revealCredential, { id, reason, ...(version !== undefined ? { version } : {}) }, ctx);
  }

  /** Adds a new version with a new value and makes it current. */
  rotate(
    id: string,
    newValue: unknown,
    options: RotateOptions,
  ): Promise<{ credential: Credential; version: number }> {
    const { expectedVersion, expiresAt, ...ctx } = options ?? ({} as RotateOptions);
    return this.#run(
      rotateCredential,
      {
        id,
        value: newValue,
        ...(expectedVersion !== undefined ? { expectedVersion } : {}),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
      },
      ctx,
    );
  }

  /** Metadata only. A vault-scoped caller is refused (and logged) outside its vault. */
  get(id: string, ctx: RequestContext = IN_PROCESS): Promise<Credential> {
    return this.#run(getCredential, { id }, ctx);
  }

  list(
    vaultId: string,
    options: { limit?: number; cursor?: string; includeDeleted?: boolean } = {},
    ctx: RequestContext = IN_PROCESS,
  ): Promise<Page<Credential>> {
    return this.#run(listCredentials, { ...options, vaultId }, ctx);
  }

  listVersions(id: string, ctx: RequestContext = IN_PROCESS): Promise<CredentialVersion[]> {
    return this.#run(listVersions, { id }, ctx);
  }

  update(id: string, patch: CredentialUpdate, ctx: RequestContext): Promise<Credential> {
    return this.#run(updateCredential, { ...patch, id }, ctx);
  }

  deactivate(id: string, ctx: RequestContext): Promise<Credential> {
    return this.#run(deactivateCredential, { id }, ctx);
  }

  reactivate(id: string, ctx: RequestContext): Promise<Credential> {
    return this.#run(reactivateCredential, { id }, ctx);
  }

  delete(id: string, options: { recoveryWindowDays?: number }, ctx: RequestContext): Promise<Credential> {
    return this.#run(deleteCredential, { ...options, id }, ctx);
  }

  restore(id: string, ctx: RequestContext): Promise<Credential> {
    return this.#run(restoreCredential, { id }, ctx);
  }

  async purge(id: string, ctx: RequestContext): Promise<void> {
    await this.#run(purgeCredential, { id }, ctx);
  }

  /**
   * Purges every soft-deleted credential whose recovery window has ended; returns how many. One
   * failure (say, a credential restored meanwhile) is logged and skipped, not fatal to the sweep.
   */
  async purgeDue(ctx: RequestContext, batch = 100): Promise<number> {
    let purged = 0;
    for (;;) {
      const due = await this.deps.store.withTenant(this.tenantId, (tx) =>
        tx.credentials.listPurgeDue(this.deps.clock.now(), batch),
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
}

/** Why a credential cannot be used now, or null. Rotation is the cure for expiry, so it may proceed. */
function unusableNow(
  deps: RegistryDeps,
  credential: CredentialState,
  { forReveal }: { forReveal: boolean },
): RegistryError | null {
  if (credential.deletedAt) return deleted(credential);
  if (!credential.isActive)
    return new RegistryError('INACTIVE', 'the credential is deactivated; reactivate it first');
  if (forReveal && credential.expiresAt && credential.expiresAt <= deps.clock.now()) {
    return new RegistryError(
      'EXPIRED',
      `the credential expired at ${credential.expiresAt.toISOString()}; rotate it`,
    );
  }
  return null;
}

/** A new expiry must lie ahead (by the registry's clock, so this is checked in the use-case, not the schema). */
function inThePast(deps: RegistryDeps, date: Date | null | undefined): RegistryError | null {
  if (!date || date > deps.clock.now()) return null;
  return new RegistryError('VALIDATION', 'invalid input: expiresAt must be in the future', {
    issues: [{ path: 'expiresAt', problem: 'must be in the future' }],
  });
}

function seal(
  deps: RegistryDeps,
  op: Operation,
  keyRecord: Parameters<Operation['key']>[0],
  value: unknown,
  binding: ValueBinding,
): Uint8Array {
  const plaintext = Buffer.from(JSON.stringify(value), 'utf8');
  try {
    return deps.envelope.seal(plaintext, op.key(keyRecord), binding);
  } finally {
    plaintext.fill(0);
  }
}

function deleted(credential: CredentialState): RegistryError {
  return new RegistryError(
    'DELETED',
    `the credential is deleted; it can be restored until ${credential.purgeAfter?.toISOString() ?? 'it is purged'}`,
  );
}
