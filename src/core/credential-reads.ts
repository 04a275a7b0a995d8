/** Metadata reads of credentials: never a value; their refusals are logged, their successes not. */
import { z } from 'zod';
import type { Refusal } from './audited-operation.js';
import {
  credentialId,
  credentialRef,
  named,
  notFound,
  oneRef,
  resolveRef,
  stagesOf,
  vaultNotFound,
} from './credential-rules.js';
import { decodeNameCursor, encodeNameCursor, pageOptions, toPage } from './pagination.js';
import { nextRotationAt } from './rotation-settings.js';
import { type Credential, type ListedVersion, type Page, VERSION_STAGES } from './types.js';
import { defineUseCase } from './use-case.js';
import { resourceName, rotationSchedule, uuid } from './validation.js';

export const byId = z.strictObject(credentialId);
/** One credential, by id or by path. */
const byRef = oneRef(z.strictObject(credentialRef));
const listInput = pageOptions
  .extend({
    vaultId: uuid,
    includeDeleted: z.boolean().default(false),
    /** Only those expiring within this ISO 8601 duration from now (expired ones included). */
    expiringWithin: rotationSchedule.optional(),
    /** Only those whose rotation is due now (or overdue). */
    rotationDue: z.boolean().optional(),
    /** Only the one of this exact name (soft-deleted ones of it too with `includeDeleted`). */
    name: resourceName.optional(),
    /** Only those whose name starts with this. */
    prefix: resourceName.optional(),
  })
  .strict();

/**
 * Metadata only; by id, soft-deleted credentials are returned too, with `deletedAt` set (a path
 * names a live one).
 */
export const getCredential = defineUseCase({
  action: 'read',
  capability: 'credentials:read',
  input: byRef,
  logs: 'refusals',
  names: named,
  async body(op, ref): Promise<Credential | Refusal> {
    const id = await resolveRef(op, ref);
    if (typeof id !== 'string') return id;
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
  async body(op, l, { deps }): Promise<Page<Credential> | Refusal> {
    const { vaultId, limit, cursor, includeDeleted } = l;
    const after = decodeNameCursor(cursor);
    if (!(await op.tx.vaults.find(vaultId))) return op.refuse(vaultNotFound());
    const now = deps.clock.now();
    const filters = {
      ...(l.expiringWithin ? { expiresBefore: nextRotationAt(l.expiringWithin, now)! } : {}),
      ...(l.rotationDue ? { rotationDueBy: now } : {}),
      ...(l.name !== undefined ? { name: l.name } : {}),
      ...(l.prefix !== undefined ? { prefix: l.prefix } : {}),
    };
    return toPage(
      await op.tx.credentials.list(vaultId, limit + 1, after, includeDeleted, filters),
      limit,
      encodeNameCursor,
    );
  },
});

/** Every version, newest first, with `destroyedAt` on those whose ciphertext retention removed. */
export const listVersions = defineUseCase({
  action: 'read',
  capability: 'credentials:read',
  input: byRef,
  logs: 'refusals',
  names: named,
  async body(op, ref): Promise<ListedVersion[] | Refusal> {
    const id = await resolveRef(op, ref);
    if (typeof id !== 'string') return id;
    const found = await op.tx.credentials.findSealed(id);
    if (!found) return op.refuse(notFound());
    const { credential } = found;
    const outside = await op.outside(credential.vaultId, notFound);
    if (outside) return outside;
    const staged = stagesOf(credential);
    return (await op.tx.versions.list(id)).map((v) => ({
      ...v,
      stages: VERSION_STAGES.filter((stage) => staged[stage] === v.version),
    }));
  },
});
