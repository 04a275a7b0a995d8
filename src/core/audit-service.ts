import { z } from 'zod';
import { auditLogOrigin, currentSigningKey, freshCheckpoint, makeSigningKey } from './audit-log.js';
import { outOfScope, type Refusal, type RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { isUuid } from './ids.js';
import { decodeIdCursor, encodeIdCursor, pageOptions, toPage } from './pagination.js';
import type {
  AccessLogQuery,
  AuditLeafEntry,
  AuditLogCrypto,
  AuditLogRepository,
  StoredCheckpoint,
} from './ports.js';
import type { AccessLogEntry, Page, RequestContext } from './types.js';
import { defineUseCase, IN_PROCESS, runUseCase } from './use-case.js';
import { accessAction, accessOutcome, text, timestamp, uuid } from './validation.js';

const auditQuery = pageOptions
  .extend({
    credentialId: uuid.optional(),
    vaultId: uuid.optional(),
    actor: text(200).pipe(z.string().min(1)).optional(),
    action: accessAction.optional(),
    outcome: accessOutcome.optional(),
    from: timestamp.optional(),
    to: timestamp.optional(),
  })
  .strict();

/** The store's query, with an opaque cursor for paging. */
export type AccessLogFilter = Omit<AccessLogQuery, 'limit' | 'beforeId'> & {
  /** (Default: 100), at most 1000. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
};

/** The access log of one tenant, newest first. A vault-scoped caller reads its vault's entries only. */
export const queryAccessLog = defineUseCase({
  action: 'audit_read',
  capability: 'audit:read',
  input: auditQuery,
  logs: 'refusals',
  names: (raw) => ({
    ...(isUuid(raw.vaultId) ? { vaultId: raw.vaultId } : {}),
    ...(isUuid(raw.credentialId) ? { credentialId: raw.credentialId } : {}),
  }),
  async body(op, { cursor, ...q }, { ctx }): Promise<Page<AccessLogEntry>> {
    if (ctx.vaultScope) {
      if (q.vaultId && q.vaultId !== ctx.vaultScope) {
        // What a filter on a vault without entries answers: an empty page. Only the log says why.
        await op.refuse(outOfScope(ctx, q.vaultId, () => new RegistryError('NOT_FOUND', 'vault not found'))!);
        return { items: [], nextCursor: null };
      }
      q.vaultId = ctx.vaultScope;
    }
    const rows = await op.tx.accessLog.query({ ...q, limit: q.limit + 1, beforeId: decodeIdCursor(cursor) });
    return toPage(rows, q.limit, (e) => encodeIdCursor(e.id));
  },
});

const nothing = z.object({}).strict();
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** The tenant's checkpoint keys, current and retired: what verifies its checkpoints. */
export interface AuditKeys {
  /** The key name in every checkpoint signature, and the checkpoints' origin line. */
  origin: string;
  keys: Array<{ id: string; publicKeyPem: string; validFrom: Date; validTo?: Date }>;
}

/** A signed tree head of the tenant's log. */
export interface AuditCheckpoint {
  treeSize: number;
  /** Base64. */
  rootHash: string;
  keyId: string;
  signedAt: Date;
  /** The signed note (C2SP tlog-checkpoint): what `credreg audit verify` reads. */
  checkpoint: string;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

const toAuditCheckpoint = (cp: StoredCheckpoint): AuditCheckpoint => ({
  treeSize: cp.treeSize,
  rootHash: b64(cp.rootHash),
  keyId: cp.keyId,
  signedAt: cp.signedAt,
  checkpoint: cp.note,
});

/**
 * The tree is the tenant's whole log, whose rows name every vault: a vault-scoped token may not
 * read it, nor make the sealer sign for it.
 */
const wholeTenantOnly = () =>
  new RegistryError('FORBIDDEN', "the audit log's tree needs a token for the whole tenant");

/** The tree as last sealed: proofs are answered for sizes up to it. */
async function sealedSize(log: AuditLogRepository): Promise<number> {
  return (await log.state())?.treeSize ?? 0;
}

const notSealed = (treeSize: number, sealed: number) =>
  new RegistryError(
    'VALIDATION',
    `treeSize ${treeSize} is past the log's ${sealed} sealed entries; take the size from a checkpoint`,
  );

/** The proofs of a plan each, made from the tree's stored nodes, read in one query. */
async function proofs(
  crypto: AuditLogCrypto,
  log: AuditLogRepository,
  plans: ReturnType<AuditLogCrypto['inclusionPlan']>[],
) {
  const nodes = await log.nodes(crypto.planNodes(plans));
  return crypto.proofs(plans, nodes).map((proof) => proof.map(b64));
}

/** The tenant's checkpoint keys; its first key is made on first use. */
export const listAuditKeys = defineUseCase({
  action: 'audit_read',
  capability: 'audit:read',
  input: nothing,
  logs: 'refusals',
  prepare: async (_input, { deps, tenantId }) => {
    await currentSigningKey(deps, tenantId);
  },
  async body(op, _input, { tenantId }): Promise<AuditKeys> {
    const keys = await op.tx.auditLog.signingKeys();
    return {
      origin: auditLogOrigin(tenantId),
      keys: keys.map((k) => ({
        id: k.id,
        publicKeyPem: k.publicKeyPem,
        validFrom: k.validFrom,
        ...(k.validTo ? { validTo: k.validTo } : {}),
      })),
    };
  },
});

/**
 * Replaces the tenant's checkpoint key: the current one's validity ends now, and a new one signs
 * every checkpoint after. Checkpoints signed before still verify with the old key, which stays
 * listed. The new key is made (and its own key wrapped by the root key provider) outside the
 * transaction; a concurrent rotation is refused as a conflict.
 */
export const rotateAuditKey = defineUseCase({
  action: 'key_rotate',
  capability: 'keys:manage',
  input: nothing,
  logs: 'every attempt',
  prepare: async (_input, { deps, tenantId }) => ({
    from: (await currentSigningKey(deps, tenantId)).id,
    next: await makeSigningKey(deps, tenantId),
  }),
  async body(
    op,
    _input,
    { deps, prepared: { from, next } },
  ): Promise<{ id: string; validFrom: Date } | Refusal> {
    op.note({ reason: `audit signing key ${next.id}` });
    const now = deps.clock.now();
    if (!(await op.tx.auditLog.retireSigningKey(from, now))) {
      return op.refuse(
        new RegistryError('CONFLICT', 'the audit signing key was rotated concurrently; retry'),
      );
    }
    await op.tx.auditLog.insertSigningKey({ ...next, validFrom: now });
    await op.granted();
    return { id: next.id, validFrom: now };
  },
  abandon: ({ next }, { deps, tenantId }) => deps.keyRing.forgetVault(tenantId, next.id),
});

/**
 * A signed checkpoint covering every row committed before the call: the log is sealed up to now
 * first, and a new checkpoint signed if the newest does not cover it.
 */
export const getAuditCheckpoint = defineUseCase({
  action: 'audit_read',
  capability: 'audit:read',
  input: nothing,
  logs: 'refusals',
  prepare: async (_input, { deps, tenantId, ctx }) =>
    ctx.vaultScope ? null : freshCheckpoint(deps, tenantId),
  async body(op, _input, { prepared }): Promise<AuditCheckpoint | Refusal> {
    return prepared ? toAuditCheckpoint(prepared) : op.refuse(wholeTenantOnly());
  },
});

export interface AuditInclusionProof {
  leafIndex: number;
  treeSize: number;
  /** Base64, as sealed. */
  leafHash: string;
  /** RFC 9162 inclusion proof, lowest level first, base64. */
  proof: string[];
}

/** The inclusion proof of one leaf in the tree of `treeSize` leaves (RFC 9162 §2.1.3). */
export const getAuditProof = defineUseCase({
  action: 'audit_read',
  capability: 'audit:read',
  input: z.object({ index: count, treeSize: count }).strict(),
  logs: 'refusals',
  async body(op, { index, treeSize }, { deps, ctx }): Promise<AuditInclusionProof | Refusal> {
    if (ctx.vaultScope) return op.refuse(wholeTenantOnly());
    const sealed = await sealedSize(op.tx.auditLog);
    if (treeSize > sealed) return op.refuse(notSealed(treeSize, sealed));
    if (index >= treeSize) {
      return op.refuse(new RegistryError('VALIDATION', `index must be below treeSize (${treeSize})`));
    }
    const [leaf] = await op.tx.auditLog.nodes([{ level: 0, index }]);
    const [proof] = await proofs(deps.auditLog, op.tx.auditLog, [
      deps.auditLog.inclusionPlan(index, treeSize),
    ]);
    return { leafIndex: index, treeSize, leafHash: b64(leaf!.hash), proof: proof! };
  },
});

export interface AuditConsistencyProof {
  from: number;
  to: number;
  /** RFC 9162 consistency proof, base64; empty when `from` is 0 or equals `to`. */
  proof: string[];
}

/** The proof that the tree of `to` leaves extends the tree of `from` (RFC 9162 §2.1.4). */
export const getAuditConsistency = defineUseCase({
  action: 'audit_read',
  capability: 'audit:read',
  input: z.object({ from: count, to: count }).strict(),
  logs: 'refusals',
  async body(op, { from, to }, { deps, ctx }): Promise<AuditConsistencyProof | Refusal> {
    if (ctx.vaultScope) return op.refuse(wholeTenantOnly());
    const sealed = await sealedSize(op.tx.auditLog);
    if (to > sealed) return op.refuse(notSealed(to, sealed));
    if (from > to) return op.refuse(new RegistryError('VALIDATION', 'from must not be past to'));
    if (from === 0 || from === to) return { from, to, proof: [] };
    const [proof] = await proofs(deps.auditLog, op.tx.auditLog, [deps.auditLog.consistencyPlan(from, to)]);
    return { from, to, proof: proof! };
  },
});

export interface AuditLeaf {
  leafIndex: number;
  /** Base64, as sealed. */
  leafHash: string;
  /** The row as the database holds it now; null when it is gone. */
  entry: AuditLeafEntry | null;
  /** Inclusion proof in the tree of the page's `treeSize`, when asked for. */
  proof?: string[];
}

/** Leaves of the tree of `treeSize` leaves, from `from`, with their rows (and proofs): the export. */
export const listAuditLeaves = defineUseCase({
  action: 'audit_read',
  capability: 'audit:read',
  input: z
    .object({
      treeSize: count,
      from: count.default(0),
      limit: z.number().int().min(1).max(1000).default(1000),
      proofs: z.boolean().default(false),
    })
    .strict(),
  logs: 'refusals',
  async body(
    op,
    { treeSize, from, limit, proofs: withProofs },
    { deps, ctx },
  ): Promise<{ treeSize: number; items: AuditLeaf[] } | Refusal> {
    if (ctx.vaultScope) return op.refuse(wholeTenantOnly());
    const sealed = await sealedSize(op.tx.auditLog);
    if (treeSize > sealed) return op.refuse(notSealed(treeSize, sealed));
    const to = Math.min(treeSize, from + limit);
    const leaves = from >= to ? [] : await op.tx.auditLog.leaves(from, to);
    const leafProofs = withProofs
      ? await proofs(
          deps.auditLog,
          op.tx.auditLog,
          leaves.map((l) => deps.auditLog.inclusionPlan(l.leafIndex, treeSize)),
        )
      : [];
    return {
      treeSize,
      items: leaves.map((l, i) => ({
        leafIndex: l.leafIndex,
        leafHash: b64(l.leafHash),
        entry: l.entry,
        ...(withProofs ? { proof: leafProofs[i]! } : {}),
      })),
    };
  },
});

/** Reading the access log of one tenant, as library calls. Nothing here can change it. */
export class AuditService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
  ) {}

  /**
   * @example const { items } = await t.audit.query({ credentialId, outcome: 'denied', limit: 50 });
   */
  query(filter: AccessLogFilter = {}, ctx: RequestContext = IN_PROCESS): Promise<Page<AccessLogEntry>> {
    return runUseCase(this.deps, this.tenantId, queryAccessLog, filter, ctx);
  }

  /** The checkpoint keys, current and retired (the first is made on first use). */
  keys(ctx: RequestContext = IN_PROCESS): Promise<AuditKeys> {
    return runUseCase(this.deps, this.tenantId, listAuditKeys, {}, ctx);
  }

  /** Replaces the checkpoint key; the old one stays listed, so what it signed still verifies. */
  rotateKey(ctx: RequestContext): Promise<{ id: string; validFrom: Date }> {
    return runUseCase(this.deps, this.tenantId, rotateAuditKey, {}, ctx);
  }

  /**
   * A signed checkpoint covering every row committed before the call.
   *
   * @example const { checkpoint } = await t.audit.checkpoint(); // the note `credreg audit verify` reads
   */
  checkpoint(ctx: RequestContext = IN_PROCESS): Promise<AuditCheckpoint> {
    return runUseCase(this.deps, this.tenantId, getAuditCheckpoint, {}, ctx);
  }

  /** The inclusion proof of leaf `index` in the tree of `treeSize` leaves. */
  proof(
    input: { index: number; treeSize: number },
    ctx: RequestContext = IN_PROCESS,
  ): Promise<AuditInclusionProof> {
    return runUseCase(this.deps, this.tenantId, getAuditProof, input, ctx);
  }

  /** The proof that the tree of `to` leaves only extends the tree of `from`. */
  consistency(
    input: { from: number; to: number },
    ctx: RequestContext = IN_PROCESS,
  ): Promise<AuditConsistencyProof> {
    return runUseCase(this.deps, this.tenantId, getAuditConsistency, input, ctx);
  }

  /** A page of the log's leaves with their rows, and with `proofs` each one's inclusion proof. */
  leaves(
    input: { treeSize: number; from?: number; limit?: number; proofs?: boolean },
    ctx: RequestContext = IN_PROCESS,
  ): Promise<{ treeSize: number; items: AuditLeaf[] }> {
    return runUseCase(this.deps, this.tenantId, listAuditLeaves, input, ctx);
  }
}
