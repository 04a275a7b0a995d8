import type { AuditLeafEntry } from './audit-log-repository.js';

/** Where one sink stands in one tenant's log (the `audit_sink_cursors` row). */
export interface AuditSinkCursor {
  /** Every leaf below this index has been acknowledged by the sink. */
  deliveredBelow: number;
  /** The tree size of the last checkpoint the sink acknowledged; null before the first. */
  checkpointSize: number | null;
}

/** A sealed leaf with its row, in leaf order; `entry` is null if the row is gone from the table. */
export interface AuditSinkLeaf {
  leafIndex: number;
  leafHash: Uint8Array;
  logId: string;
  entry: AuditLeafEntry | null;
}

/** An http sink a tenant's admin added for the tenant's own rows. */
export interface TenantAuditSink {
  id: string;
  tenantId: string;
  url: string;
  createdBy: string;
  createdAt: Date;
}

/** The tenant's side of audit sinks: its own sinks, the cursors, and the leaves to send. */
export interface AuditSinkRepository {
  /** Adds one of the tenant's own sinks. */
  addSink(sink: { id: string; url: string; createdBy: string }): Promise<TenantAuditSink>;
  /** The tenant's own sinks, oldest first. */
  listSinks(): Promise<TenantAuditSink[]>;
  findSink(id: string): Promise<TenantAuditSink | null>;
  /** False if there was none of that id. Its cursor stays (a sink of a new id starts over). */
  deleteSink(id: string): Promise<boolean>;
  /**
   * Claims the sink's next batch in this tenant for `leaseMs` by the database's clock (the cursor
   * row is made at 0 on first use): answers the cursor to one caller until the lease lapses or
   * `advance`/`release` ends it, null to the others.
   */
  claim(sink: string, leaseMs: number): Promise<AuditSinkCursor | null>;
  /** Up to `limit` leaves from index `from`, in leaf order, each with its row as stored now. */
  leaves(from: number, limit: number): Promise<AuditSinkLeaf[]>;
  /**
   * Moves the cursor from `from` to `to` and ends the lease, if the cursor still is `from`
   * (compare-and-set); false if another instance moved it meanwhile: nothing written.
   */
  advance(sink: string, from: AuditSinkCursor, to: AuditSinkCursor): Promise<boolean>;
  /** Ends the lease without moving the cursor: the batch was not acknowledged. */
  release(sink: string): Promise<void>;
}
