import type { AccessAction, AccessLogEntry, AccessOutcome } from '../types.js';

/** A row to append; the store adds its id, tenant and time (and, when read, the actor's name). */
export type AccessLogInsert = Omit<AccessLogEntry, 'id' | 'tenantId' | 'occurredAt' | 'actorName'>;

export interface AccessLogQuery {
  credentialId?: string;
  vaultId?: string;
  actor?: string;
  action?: AccessAction;
  outcome?: AccessOutcome;
  /** Inclusive lower bound on `occurredAt`. */
  from?: Date;
  /** Exclusive upper bound on `occurredAt`. */
  to?: Date;
  limit: number;
  /** Only entries older than this id (ids are time-ordered). */
  beforeId?: string;
}

/** The tenant's access log (`credential_access_log`): appended to, never changed. */
export interface AccessLogRepository {
  /**
   * Fails with the store's own `RegistryError` (INTERNAL for a row the database refused,
   * UNAVAILABLE when it is away): the core acts on the difference.
   */
  append(entry: AccessLogInsert): Promise<void>;
  /** Newest first, each with the name of the principal it names as its actor, if any. */
  query(q: AccessLogQuery): Promise<AccessLogEntry[]>;
}
