/**
 * A notice still to send about a credential's expiry: `credential.expiring` for an alert window (an
 * ISO 8601 duration), or `credential.expired` for the window `expired` (see `expiry-alerts.ts`).
 */
export interface ExpiryNotice {
  window: string;
  /** When it is due, by the registry's clock. */
  dueAt: Date;
}

/**
 * The tenant's expiry notices (`expiry_notices`), the sweep's queue. Written only by a transaction
 * that holds the credential's row lock, so a credential's notices change one writer at a time.
 */
export interface ExpiryNoticeRepository {
  /** Replaces each credential's pending notices with those given (none: it has no more). */
  replace(plans: ReadonlyArray<{ credentialId: string; notices: readonly ExpiryNotice[] }>): Promise<void>;
  /**
   * Removes the credential's notices due at `now` and answers them: whoever gets a notice sends it,
   * and a concurrent caller waits for this transaction and then finds none.
   */
  takeDue(credentialId: string, now: Date): Promise<ExpiryNotice[]>;
  /** Moves the credential's notices due at `now` to `until` (after a send that failed). */
  postpone(credentialId: string, now: Date, until: Date): Promise<void>;
}

/** A due notice as the platform role finds it: its tenant, credential, window and time, nothing else. */
export interface DueExpiryNotice extends ExpiryNotice {
  tenantId: string;
  credentialId: string;
}

/** The platform role's side of the expiry sweep: due notices across tenants, read only. */
export interface ExpiryNoticeQueue {
  /** Up to `limit` notices due at `now` (the registry's clock), across every tenant, oldest first. */
  findDueExpiryNotices(now: Date, limit: number): Promise<DueExpiryNotice[]>;
}
