import type { WrappedKey } from '../ports.js';

/**
 * An access-log row as the tenant's Merkle log hashes it (docs/audit.md, "Leaf"): all its fields,
 * `occurredAt` as the database's instant to the microsecond, absent values null.
 */
export interface AuditLeafEntry {
  action: string;
  actor: string;
  clientRequestId: string | null;
  credentialId: string | null;
  errorCode: string | null;
  id: string;
  occurredAt: string;
  outcome: string;
  reason: string | null;
  requestId: string | null;
  sourceIp: string | null;
  tenantId: string;
  userAgent: string | null;
  vaultId: string | null;
  version: number | null;
}

/** The tree of one tenant, as the sealer left it. */
export interface AuditTreeState {
  treeSize: number;
  /** The roots of the tree's perfect subtrees, largest first (`rangeNodes(0, treeSize)` order). */
  frontier: Uint8Array[];
  rootHash: Uint8Array;
  /** Where the sealer stands in the access log: handed back to {@link AuditLogRepository.appendLeaves}. */
  position: SealPosition;
  sealedAt: Date;
}

/**
 * Where the sealer stands in a tenant's access log, in the database's transaction ids (decimal).
 * Rows are sealed by (transaction id, row id); a row written by a transaction still running when
 * the sealer read past it is sealed once that transaction has ended (migration 0013).
 */
export interface SealPosition {
  /** The low-water mark: every transaction below it had ended at the last pass ('0' at first). */
  sealedBelow: string;
  /**
   * The largest key read in seal order; null while the sealer probes each row against the leaves
   * (a tree sealed before migration 0013 reads so from the mark, a restored one from the start).
   */
  after: { xid: string; id: string } | null;
  /** Transactions below `after` that were still running at the last pass: their rows come later. */
  pending: string[];
  /**
   * While set, rows of transactions below it may be leaves already though read past the key (the
   * key came out of a probing walk, whose reads had been checked against the leaves), so they are
   * checked too; null once `after` and every pending transaction are past it.
   */
  probeBelow: string | null;
}

/** One stored node of the tree: level 0 is a leaf, level l ≥ 1 the perfect subtree of 2^l leaves. */
export interface AuditNode {
  level: number;
  index: number;
  hash: Uint8Array;
}

/** A leaf, with the row it was sealed from as the database holds it now (null once it is gone). */
export interface AuditLeafRow {
  leafIndex: number;
  leafHash: Uint8Array;
  entry: AuditLeafEntry | null;
}

/** A checkpoint key of the tenant's: its public half, and its private half sealed under a key of its own. */
export interface AuditSigningKeyRecord {
  id: string;
  publicKeyPem: string;
  wrappedKey: WrappedKey;
  privateKeyCiphertext: Uint8Array;
  validFrom: Date;
  validTo: Date | null;
}

/** A signed checkpoint as stored. */
export interface StoredCheckpoint {
  treeSize: number;
  rootHash: Uint8Array;
  keyId: string;
  signedAt: Date;
  /** The signed note, the text a verifier reads. */
  note: string;
}

/** The tenant's Merkle log over its access log (the `audit_*` tables). */
export interface AuditLogRepository {
  /**
   * The tree's state, locked for this transaction (made at size 0 if the tenant has none yet).
   * When another transaction holds it (sealing), waits for it with `wait`, else answers null.
   */
  lockState(emptyRoot: Uint8Array, wait: boolean): Promise<AuditTreeState | null>;
  /** The tree's state as last committed, unlocked; null before the first seal. */
  state(): Promise<AuditTreeState | null>;
  /**
   * Appends up to `limit` committed rows past `position` that are not leaves yet to the tree's
   * leaves, in seal order, from leaf index `firstIndex`; answers their leaf hashes (made by the
   * database, of the row as it holds it: docs/audit.md, "Leaf") in that order, and the position
   * after them. A transaction's rows that come in late (it was running at the last pass) are taken
   * whole, past the limit if need be. If the database's transaction counter is behind `position`
   * (a restore into another cluster), the position cannot be this cluster's, so the rows are read
   * from the start, those already leaves left out, on each pass until the counter has passed
   * them: `restarted` says so on the first. The caller holds the
   * state's lock, and moves the state with {@link appendNodes} in the same transaction.
   */
  appendLeaves(
    position: SealPosition,
    limit: number,
    firstIndex: number,
  ): Promise<{ leafHashes: Uint8Array[]; position: SealPosition; restarted: boolean }>;
  /** Moves the position alone (no row to seal); the caller holds the state's lock. */
  movePosition(position: SealPosition): Promise<void>;
  /** Appends the nodes the new leaves completed, and moves the state; the caller holds its lock. */
  appendNodes(nodes: AuditNode[], state: Omit<AuditTreeState, 'sealedAt'>): Promise<void>;
  /** The stored nodes asked for, by level and index (level 0: leaves); those missing are left out. */
  nodes(refs: ReadonlyArray<{ level: number; index: number }>): Promise<AuditNode[]>;
  /** Leaves `from` to `to` − 1 in order, each with its row as the database holds it now. */
  leaves(from: number, to: number): Promise<AuditLeafRow[]>;
  /** The current signing key, if any. */
  currentSigningKey(): Promise<AuditSigningKeyRecord | null>;
  /** Every signing key, oldest first. */
  signingKeys(): Promise<AuditSigningKeyRecord[]>;
  /** Ends the current key's validity at `at`; false if `id` is not the current key (replaced meanwhile). */
  retireSigningKey(id: string, at: Date): Promise<boolean>;
  /** Adds a key as the current one; false if another is current (made meanwhile): nothing written. */
  insertSigningKey(key: AuditSigningKeyRecord): Promise<boolean>;
  /** The newest checkpoint (the largest tree, then the latest signed), if any. */
  latestCheckpoint(): Promise<StoredCheckpoint | null>;
  /** Stores a checkpoint; one of the same size and key already there is kept (false). */
  insertCheckpoint(cp: StoredCheckpoint): Promise<boolean>;
  /** Signing keys' ids and wrapped keys, by id after the one given: for a root rotation. */
  listKeys(limit: number, afterId?: string): Promise<Array<{ id: string; wrappedKey: WrappedKey }>>;
  /** Replaces a signing key's wrapping if it is still the one read (compare-and-set). */
  replaceWrapping(id: string, from: WrappedKey, to: WrappedKey): Promise<boolean>;
}
