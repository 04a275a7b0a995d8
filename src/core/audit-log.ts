/**
 * The tamper-evident audit log (docs/audit.md): each tenant's access log is also the leaves of an
 * RFC 9162 Merkle tree, with signed checkpoints of its root.
 *
 * Glossary
 * - **leaf**: one access-log row, hashed over all its fields (`crypto/audit-leaf.ts`; the database
 *   makes the hash as it reads the row, see `AuditLogRepository.appendLeaves`).
 * - **sealer**: appends committed rows to their tenant's tree, after their commit, in seal order
 *   (the writing transaction's id, then the row's id; see migration 0011). A reveal never waits
 *   for it: the row is written in the reveal's transaction, the tree catches up after.
 * - **checkpoint**: the tree's size and root at a time, signed with the tenant's Ed25519 key.
 *   Anyone holding one can check, with the export and no server, that the log it covers is whole
 *   and unchanged, and that a later one only grew from it.
 * - **signing key**: per tenant; its private half is sealed under a key of its own, which the
 *   root key provider wraps as it wraps a vault key. Rotated keys stay listed, so old checkpoints
 *   still verify.
 */
import type { RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { newId } from './ids.js';
import type {
  AuditSigningKeyRecord,
  SealPosition,
  StoredCheckpoint,
  TenantTx,
  ValueBinding,
} from './ports.js';
import { openSecret, ownKeyContext, ownKeyRecord } from './sealed-secret.js';

/** The log's name in its checkpoints, and its signing key's name: one per tenant. */
export const auditLogOrigin = (tenantId: string) => `credreg/audit/${tenantId}`;

/** Rows sealed in one transaction, by default. */
export const DEFAULT_SEAL_BATCH = 1000;

const samePosition = (a: SealPosition, b: SealPosition) =>
  a.sealedBelow === b.sealedBelow &&
  a.after?.xid === b.after?.xid &&
  a.after?.id === b.after?.id &&
  a.pending.join() === b.pending.join() &&
  a.probeBelow === b.probeBelow;

/** What a signing key's private half is sealed to: the tenant and the key's own id. */
const signingKeyBinding = (tenantId: string, keyId: string): ValueBinding => ({
  tenantId,
  vaultId: keyId,
  credentialId: keyId,
  version: 1,
});

export interface SealReport {
  /** Rows appended to the tree. */
  sealed: number;
  /** The tree's size after. */
  treeSize: number;
  /** Whether another instance held the tree, so this one left it alone. */
  busy: boolean;
}

/**
 * Appends up to `batchSize` rows of the tenant's access log to its tree, in one transaction: the
 * leaves, the nodes they completed and the tree's new state commit together or not at all, so a
 * sealer that dies mid-batch leaves the tree as it was, and the next one takes the same rows. The
 * state row is locked for the batch; an instance that finds it locked skips the tenant.
 */
export async function sealTenantLog(
  deps: Pick<RegistryDeps, 'store' | 'auditLog' | 'logger'>,
  tenantId: string,
  options: { batchSize?: number; wait?: boolean } = {},
): Promise<SealReport> {
  const crypto = deps.auditLog;
  const batchSize = options.batchSize ?? DEFAULT_SEAL_BATCH;
  return deps.store.withTenant(tenantId, async (tx) => {
    const state = await tx.auditLog.lockState(crypto.emptyRoot, options.wait ?? false);
    if (!state) return { sealed: 0, treeSize: 0, busy: true };
    const { leafHashes, position, restarted } = await tx.auditLog.appendLeaves(
      state.position,
      batchSize,
      state.treeSize,
    );
    if (restarted) {
      deps.logger.warn(
        { tenantId, treeSize: state.treeSize },
        'audit log: the database is behind the sealer (restored into another cluster?): rows are read from the start again',
      );
    }
    if (leafHashes.length === 0) {
      if (!samePosition(position, state.position)) await tx.auditLog.movePosition(position);
      return { sealed: 0, treeSize: state.treeSize, busy: false };
    }
    const tree = crypto.resume(state.treeSize, state.frontier);
    const nodes = [];
    for (const leafHash of leafHashes) nodes.push(...tree.append(leafHash));
    await tx.auditLog.appendNodes(nodes, {
      treeSize: tree.size,
      frontier: tree.frontier(),
      rootHash: tree.root(),
      position,
    });
    return { sealed: leafHashes.length, treeSize: tree.size, busy: false };
  });
}

/**
 * Seals every row of the tenant whose transaction has ended, batch after batch, waiting for
 * another instance's batch rather than skipping the tenant.
 */
async function sealAll(deps: RegistryDeps, tenantId: string) {
  for (;;) {
    const report = await sealTenantLog(deps, tenantId, { wait: true });
    if (report.sealed < DEFAULT_SEAL_BATCH) return;
  }
}

/**
 * The tenant's current signing key, made on first use: an Ed25519 key pair whose private half is
 * sealed under a fresh key of its own, wrapped by the root key provider (a provider call, outside
 * any transaction). Two instances making one at once keep the first committed.
 */
export async function currentSigningKey(
  deps: RegistryDeps,
  tenantId: string,
): Promise<AuditSigningKeyRecord> {
  const existing = await deps.store.withTenant(tenantId, (tx) => tx.auditLog.currentSigningKey());
  if (existing) return existing;
  const made = await makeSigningKey(deps, tenantId);
  await deps.store.withTenant(tenantId, (tx) => tx.auditLog.insertSigningKey(made));
  const current = await deps.store.withTenant(tenantId, (tx) => tx.auditLog.currentSigningKey());
  if (!current) throw new RegistryError('INTERNAL', 'the audit signing key was not stored');
  return current;
}

/** A new signing key, made outside any transaction (the root key provider wraps its own key). */
export async function makeSigningKey(deps: RegistryDeps, tenantId: string): Promise<AuditSigningKeyRecord> {
  const id = newId();
  const { record } = await deps.keyRing.createVaultKey(ownKeyContext(tenantId, id));
  const key = await deps.keyRing.unwrap(record);
  const pair = deps.auditLog.generateSigningKey();
  const plaintext = Buffer.from(pair.privateKeyPem, 'utf8');
  try {
    return {
      id,
      publicKeyPem: pair.publicKeyPem,
      wrappedKey: record.wrapped,
      privateKeyCiphertext: deps.envelope.seal(plaintext, key, signingKeyBinding(tenantId, id)),
      validFrom: deps.clock.now(),
      validTo: null,
    };
  } finally {
    plaintext.fill(0);
    (key.material as Buffer).fill(0);
  }
}

/**
 * Signs a checkpoint of the tenant's tree as it stands, unless the newest checkpoint already
 * covers it, or (with `minIntervalMs`) was signed less than that long ago. The signature is made
 * outside any transaction (the key may need the root key provider); the checkpoint is stored, and
 * `audit.checkpoint` sent to the tenant's webhooks, in the transaction after. Answers the newest
 * checkpoint, whether this call signed it, and whether it covers
 * the tree as sealed (false when the interval held a new one back).
 */
export async function signCheckpoint(
  deps: RegistryDeps,
  tenantId: string,
  options: { minIntervalMs?: number } = {},
): Promise<{ checkpoint: StoredCheckpoint; signed: boolean; covered: boolean }> {
  const { state, latest } = await deps.store.withTenant(tenantId, async (tx) => ({
    state: await tx.auditLog.state(),
    latest: await tx.auditLog.latestCheckpoint(),
  }));
  // A log nothing was sealed in yet is the empty tree, which has a checkpoint too.
  const treeSize = state?.treeSize ?? 0;
  const rootHash = state?.rootHash ?? deps.auditLog.emptyRoot;
  if (latest && latest.treeSize >= treeSize) return { checkpoint: latest, signed: false, covered: true };
  const now = deps.clock.now();
  if (latest && options.minIntervalMs && now.getTime() - latest.signedAt.getTime() < options.minIntervalMs) {
    return { checkpoint: latest, signed: false, covered: false };
  }
  const key = await currentSigningKey(deps, tenantId);
  const privateKeyPem = await openSecret(
    deps,
    ownKeyRecord(tenantId, key),
    key.privateKeyCiphertext,
    signingKeyBinding(tenantId, key.id),
  );
  // Millisecond precision, as the checkpoint's time line has it: the stored time is the signed one.
  const signedAt = new Date(now.getTime());
  const note = deps.auditLog.signCheckpoint(
    { origin: auditLogOrigin(tenantId), treeSize, rootHash, time: signedAt },
    privateKeyPem,
  );
  const checkpoint: StoredCheckpoint = {
    treeSize,
    rootHash,
    keyId: key.id,
    signedAt,
    note,
  };
  // Another instance may have signed this size meanwhile: then its checkpoint is the one stored
  // and sent, and only a checkpoint newer than every stored one is sent to witnesses.
  const stored = await deps.store.withTenant(tenantId, async (tx) => {
    const newest = await tx.auditLog.latestCheckpoint();
    if (newest && newest.treeSize >= checkpoint.treeSize) return newest;
    if (!(await tx.auditLog.insertCheckpoint(checkpoint))) return tx.auditLog.latestCheckpoint();
    await emitCheckpoint(tx, checkpoint, deps.clock.now());
    return checkpoint;
  });
  return { checkpoint: stored ?? checkpoint, signed: stored === checkpoint, covered: true };
}

/** `audit.checkpoint` to the tenant's webhooks: witnesses keep them, and can prove a fork later. */
async function emitCheckpoint(tx: TenantTx, cp: StoredCheckpoint, at: Date) {
  await tx.events.append({
    id: newId(),
    type: 'audit.checkpoint',
    data: {
      tenantId: tx.tenantId,
      treeSize: cp.treeSize,
      rootHash: Buffer.from(cp.rootHash).toString('base64'),
      keyId: cp.keyId,
      checkpoint: cp.note,
    },
    createdAt: at,
  });
}

/**
 * Seals everything the tenant's log has to seal, then signs a checkpoint of it if the newest one
 * does not cover it: what `GET /v1/audit/checkpoint` answers, so a checkpoint asked for covers
 * every row committed before the question.
 */
export async function freshCheckpoint(deps: RegistryDeps, tenantId: string): Promise<StoredCheckpoint> {
  await sealAll(deps, tenantId);
  return (await signCheckpoint(deps, tenantId)).checkpoint;
}

export interface AuditSealOptions {
  /** Rows per transaction. (Default: 1000) */
  batchSize?: number;
  /**
   * Batches a tenant may take in one pass before the next tenant has its turn; a deeper backlog
   * (a restored log, a long outage) drains over the passes after. (Default: 20)
   */
  batchesPerTenant?: number;
  /** Tenants per pass; the rest wait for the next. (Default: 500) */
  maxTenants?: number;
  /** A tenant's checkpoint is signed at most this often while its log grows. (Default: 60000) */
  checkpointIntervalMs?: number;
  /**
   * Once aborted, the pass ends after the batch in flight (`more` then says rows may be left):
   * a shutdown waits for one batch, not for a pass over every tenant's backlog.
   */
  signal?: AbortSignal;
}

/** What one registry's sealer remembers between passes. */
export interface AuditSealerState {
  /** Tenants whose tree grew since their last checkpoint: signed when the interval allows. */
  unsigned: Set<string>;
  /** The last tenant of a full page: the next pass goes on after it. */
  after?: string;
}

export interface AuditSealRunReport {
  tenants: number;
  sealed: number;
  checkpoints: number;
  /** Whether rows were left that another pass can take at once: more tenants, or a tenant's backlog. */
  more: boolean;
}

/**
 * One pass of the sealer over every tenant with rows to seal: batches for each until one comes
 * back short (or the tenant has had its share), then a checkpoint where the last is older than the
 * interval. A busy tenant is drained by its own batches, not by passes: finding the tenants costs
 * a few index probes each, of every tenant, so a pass per batch would pay that for every batch of
 * one busy log. Safe on any number of instances: a tenant's tree is appended to under its lock, so
 * two instances never fork it. Tenants whose growth was not signed yet (the interval) are
 * remembered in `state` and signed on a later pass.
 */
export async function sealAuditLogs(
  deps: RegistryDeps,
  state: AuditSealerState,
  options: AuditSealOptions = {},
): Promise<AuditSealRunReport> {
  const batchSize = options.batchSize ?? DEFAULT_SEAL_BATCH;
  const checkpointIntervalMs = options.checkpointIntervalMs ?? 60_000;
  const maxTenants = options.maxTenants ?? 500;
  // At least one batch, whatever was asked: the loop below stops at the share, never before it.
  const batchesPerTenant = Math.max(1, Math.floor(options.batchesPerTenant ?? 20));
  const pending = state.unsigned;
  // Tenants by id from where the last pass stopped, so busy low ids cannot starve the others.
  const tenants = await deps.store.withPlatform((tx) => tx.tenantsWithUnsealedRows(maxTenants, state.after));
  state.after = tenants.length < maxTenants ? undefined : tenants.at(-1);
  const report: AuditSealRunReport = {
    tenants: tenants.length,
    sealed: 0,
    checkpoints: 0,
    more: state.after !== undefined,
  };
  const aborted = () => options.signal?.aborted === true;
  for (const tenantId of tenants) {
    if (aborted()) return { ...report, more: true };
    try {
      for (let batch = 1; ; batch++) {
        const sealed = await sealTenantLog(deps, tenantId, { batchSize });
        report.sealed += sealed.sealed;
        if (sealed.sealed > 0) pending.add(tenantId);
        if (sealed.sealed < batchSize) break;
        if (batch >= batchesPerTenant || aborted()) {
          report.more = true;
          break;
        }
      }
    } catch (err) {
      // One tenant's failure (its database rows, say) must not hold up the others.
      deps.logger.error({ tenantId, err: (err as Error).message }, 'audit log: sealing failed');
    }
  }
  // Stopping: the checkpoints wait for the next pass, here or on another instance.
  if (aborted()) return report;
  for (const tenantId of [...pending]) {
    try {
      const { signed, covered } = await signCheckpoint(deps, tenantId, {
        minIntervalMs: checkpointIntervalMs,
      });
      if (signed) report.checkpoints++;
      if (covered) pending.delete(tenantId);
    } catch (err) {
      // The key provider may be away: the tree is sealed; its checkpoint waits for the next pass.
      deps.logger.warn({ tenantId, err: (err as Error).message }, 'audit log: signing a checkpoint failed');
    }
  }
  return report;
}
