/**
 * Sending due expiry notices (`credential.expiring`, `credential.expired`): the platform role finds
 * what is due across every tenant by the queue's index, then each credential's notices are taken and
 * sent in its own tenant, as the runtime role, in one transaction: the notice is deleted there and
 * its event written to the outbox there, so it is sent exactly once however many instances sweep at
 * the same time (the second one waits on the credential's row lock, then finds nothing to take).
 */
import { describeError, type RegistryDeps } from './audited-operation.js';
import { byId } from './credential-reads.js';
import { named } from './credential-rules.js';
import { RegistryError } from './errors.js';
import { credentialEventData } from './events.js';
import { EXPIRED, windowMs } from './expiry-alerts.js';
import type { RequestContext } from './types.js';
import { defineUseCase, runUseCase } from './use-case.js';

/** Who sends expiry notices, in the access log (a failed attempt) and the outbox. */
const SCHEDULER: RequestContext = Object.freeze({ actor: 'system:scheduler' });
/** A send that failed is tried again this much later, so it never holds up the notices behind it. */
const RETRY_MS = 60_000;

/** What one send came to: the window announced (null: nothing), and how many due notices it took. */
interface Sent {
  window: string | null;
  taken: number;
}

/**
 * Takes a credential's due notices and sends the narrowest of them (several are due at once only
 * when the sweep fell behind: the wider ones are passed over, as when they are scheduled), then
 * records it as announced. Its successes are its events; its failures are logged.
 */
export const sendExpiryNotice = defineUseCase({
  action: 'expiry_alert',
  capability: 'credentials:write',
  input: byId,
  logs: 'refusals',
  names: named,
  async body(op, { id }, { deps }): Promise<Sent> {
    // The credential's lock first, as every writer of its notices takes it: no deadlock with them.
    const credential = await op.tx.credentials.find(id, { forUpdate: true });
    if (!credential) return { window: null, taken: 0 }; // purged: its notices went with it
    op.note({ vaultId: credential.vaultId, version: credential.currentVersion });
    const taken = await op.tx.expiryNotices.takeDue(id, deps.clock.now());
    // Deleting a credential or clearing its expiry removes its notices; a stray one is dropped.
    if (taken.length === 0 || credential.deletedAt || !credential.expiresAt)
      return { window: null, taken: taken.length };
    const narrowest = taken.reduce((a, b) => (windowMs(b.window) < windowMs(a.window) ? b : a)).window;
    const last = credential.lastExpiryAlert;
    if (last === null || !(windowMs(last) <= windowMs(narrowest)))
      await op.tx.credentials.setLastExpiryAlert(id, narrowest);
    const data = { ...credentialEventData(credential), expiresAt: credential.expiresAt.toISOString() };
    if (narrowest === EXPIRED) await op.emit('credential.expired', data);
    else await op.emit('credential.expiring', { ...data, window: narrowest });
    return { window: narrowest, taken: taken.length };
  },
});

export interface ExpiryAlertReport {
  /** Due notices this call found. */
  found: number;
  /** Events sent (`credential.expiring` or `credential.expired`). */
  sent: number;
  /** Found but not sent: sent by another instance meanwhile, replaced, or passed over for a narrower one. */
  skipped: number;
  /** Found, and their send failed: tried again a minute later. */
  failed: number;
}

/**
 * Sends up to `limit` (Default: 100) due expiry notices across every tenant, each exactly once
 * however many instances call this at the same time. Due is by the registry's clock.
 */
export async function sendExpiryAlerts(
  deps: RegistryDeps,
  { limit = 100 }: { limit?: number } = {},
): Promise<ExpiryAlertReport> {
  /* Precondition: the limit is a whole number from 1 to 1000. */
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new RegistryError('VALIDATION', 'the expiry alert limit must be a whole number from 1 to 1000');
  }
  const now = deps.clock.now();
  const due = await deps.store.withPlatform((tx) => tx.findDueExpiryNotices(now, limit));
  const report: ExpiryAlertReport = { found: due.length, sent: 0, skipped: 0, failed: 0 };
  // One send per credential, in the order its first notice came due: it takes all that are due.
  const perCredential = new Map<string, { tenantId: string; credentialId: string; found: number }>();
  for (const n of due) {
    const key = `${n.tenantId}/${n.credentialId}`;
    const entry = perCredential.get(key) ?? { tenantId: n.tenantId, credentialId: n.credentialId, found: 0 };
    entry.found++;
    perCredential.set(key, entry);
  }
  for (const { tenantId, credentialId, found } of perCredential.values()) {
    try {
      const sent = await runUseCase(deps, tenantId, sendExpiryNotice, { id: credentialId }, SCHEDULER);
      const n = sent.window ? 1 : 0;
      report.sent += n;
      report.skipped += Math.max(0, found - n);
    } catch (err) {
      report.failed += found;
      deps.logger.warn(
        { tenantId, credentialId, error: describeError(err) },
        'an expiry notice could not be sent; it is tried again in a minute',
      );
      try {
        const until = new Date(deps.clock.now().getTime() + RETRY_MS);
        await deps.store.withTenant(tenantId, (tx) => tx.expiryNotices.postpone(credentialId, now, until));
      } catch {
        // The database is away: the next sweep finds the notice due again.
      }
    }
  }
  return report;
}
