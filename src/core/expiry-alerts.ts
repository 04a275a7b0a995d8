/**
 * Expiry alerts: which notices a credential's expiry makes, and keeping them in step with it.
 *
 * Glossary
 * - **alert window**: an ISO 8601 duration before `expiresAt` (`P7D`: a week before) at which
 *   `credential.expiring` is sent, once. A credential's windows are its own `expiryAlerts`, else its
 *   vault's, else {@link DEFAULT_EXPIRY_ALERTS}; `[]` turns them off.
 * - **notice**: one event still to send, a row of the `expiry_notices` queue: a window's
 *   `credential.expiring`, or `credential.expired` at `expiresAt` itself (window {@link EXPIRED}).
 * - **announced**: the narrowest window already sent for the credential's current expiry
 *   (`lastExpiryAlert`). Windows at least as wide are never scheduled again for that expiry, so
 *   rescheduling (new alerts, a vault default changed, a restore) never sends one twice.
 *
 * Every change that moves a credential's expiry, its windows or its life cycle replaces its notices
 * in the same transaction, holding the credential's row lock (`followExpiry`). Sending them is
 * `expiry-notices.ts`.
 */
import { z } from 'zod';
import type { Operation, RegistryDeps } from './audited-operation.js';
import type { ExpiryNotice } from './ports.js';
import { type Credential, DEFAULT_EXPIRY_ALERTS, type Vault } from './types.js';

/** The window of the notice sent at `expiresAt` itself (`credential.expired`). */
export const EXPIRED = 'expired';
/** At most this many windows per credential or vault. */
export const MAX_EXPIRY_ALERTS = 10;

const MINUTE_MS = 60_000;
const MAX_WINDOW_MS = 3650 * 86_400_000;
const WINDOW_RE = /^P(?:(\d{1,6})W|(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,6})M)?)?)$/;

/**
 * A window's length in ms: 0 for {@link EXPIRED}, NaN for anything that is not a window.
 * @example windowMs('P1DT12H'); // 129600000
 */
export function windowMs(window: string): number {
  if (window === EXPIRED) return 0;
  const m = WINDOW_RE.exec(window);
  if (!m || window === 'P' || window.endsWith('T')) return Number.NaN;
  const [, w, d, h, min] = m;
  return (
    Number(w ?? 0) * 7 * 86_400_000 +
    Number(d ?? 0) * 86_400_000 +
    Number(h ?? 0) * 3_600_000 +
    Number(min ?? 0) * MINUTE_MS
  );
}

/** One alert window as a caller gives it. */
export const expiryWindow = z.string().refine((w) => {
  const ms = windowMs(w);
  return ms >= MINUTE_MS && ms <= MAX_WINDOW_MS;
}, 'must be an ISO 8601 duration in weeks, days, hours or minutes (e.g. "P7D", "PT12H"), from 1 minute to 10 years');

/** A credential's or vault's alert windows: at most ten, each once (`P7D` and `P1W` are one window). */
export const expiryAlerts = z
  .array(expiryWindow)
  .max(MAX_EXPIRY_ALERTS, `must hold at most ${MAX_EXPIRY_ALERTS} windows`)
  .superRefine((windows, ctx) => {
    const seen = new Map<number, string>();
    windows.forEach((w, i) => {
      const ms = windowMs(w);
      if (Number.isNaN(ms)) return;
      const earlier = seen.get(ms);
      if (earlier === undefined) seen.set(ms, w);
      else
        ctx.addIssue({ code: 'custom', path: [i], message: `repeats the window ${earlier}: give each once` });
    });
  });

/** Whether two lists hold the same windows, in whatever order and spelling. */
export function sameWindows(a: readonly string[], b: readonly string[]): boolean {
  const key = (ws: readonly string[]) => [...new Set(ws.map(windowMs))].sort((x, y) => x - y).join(',');
  return key(a) === key(b);
}

/**
 * The notices an expiry makes, at `now`: one per window still ahead, at `expiresAt − window`, and
 * `expired` at `expiresAt`. Of the windows already past (including `expired` when the credential
 * has expired), only the narrowest is kept, due now: a credential stored a day before it expires
 * is told "one day" once, not "thirty days", "seven days" and "one day" at the same moment.
 * Windows at least as wide as `announced` were sent for this expiry already and are left out.
 *
 * @example
 * // expires in 10 days, default windows: P30D now (it is past), P7D in 3 days, P1D in 9, expired in 10
 * planExpiryNotices({ expiresAt, windows: ['P30D', 'P7D', 'P1D'], announced: null, now });
 */
export function planExpiryNotices(p: {
  expiresAt: Date | null;
  windows: readonly string[];
  announced: string | null;
  now: Date;
}): ExpiryNotice[] {
  if (!p.expiresAt) return [];
  const announcedMs = p.announced === null ? Number.NaN : windowMs(p.announced);
  const done = Number.isNaN(announcedMs) ? Number.POSITIVE_INFINITY : announcedMs;
  const byLength = new Map<number, string>([[0, EXPIRED]]);
  for (const w of p.windows) {
    const ms = windowMs(w);
    if (ms > 0 && !byLength.has(ms)) byLength.set(ms, w);
  }
  const widestFirst = [...byLength].filter(([ms]) => ms < done).sort(([a], [b]) => b - a);
  const notices: ExpiryNotice[] = [];
  let narrowestPast: string | null = null;
  for (const [ms, window] of widestFirst) {
    const dueAt = new Date(p.expiresAt.getTime() - ms);
    if (dueAt <= p.now) narrowestPast = window;
    else notices.push({ window, dueAt });
  }
  if (narrowestPast !== null) notices.unshift({ window: narrowestPast, dueAt: p.now });
  return notices;
}

/** The notices a credential should have pending now: none while it is deleted. */
export function noticesFor(c: Credential, now: Date): ExpiryNotice[] {
  if (c.deletedAt) return [];
  return planExpiryNotices({
    expiresAt: c.expiresAt,
    windows: c.effectiveExpiryAlerts,
    announced: c.lastExpiryAlert,
    now,
  });
}

/** Replaces the pending notices of each credential (locked by the caller) with what it should have now. */
export async function scheduleExpiryNotices(
  op: Operation,
  deps: RegistryDeps,
  credentials: readonly Credential[],
): Promise<void> {
  if (credentials.length === 0) return;
  const now = deps.clock.now();
  await op.tx.expiryNotices.replace(
    credentials.map((c) => ({ credentialId: c.id, notices: noticesFor(c, now) })),
  );
}

/**
 * After a change to a locked credential (`before` → `after`): when its expiry, its windows in effect
 * or whether it is deleted changed, its notices are replaced. A new expiry starts afresh, so what
 * was announced for the old one is forgotten. Returns the credential as it now stands.
 */
export async function followExpiry(
  op: Operation,
  deps: RegistryDeps,
  before: Credential,
  after: Credential,
): Promise<Credential> {
  const moved = before.expiresAt?.getTime() !== after.expiresAt?.getTime();
  const rewindowed = !sameWindows(before.effectiveExpiryAlerts, after.effectiveExpiryAlerts);
  const revived = (before.deletedAt === null) !== (after.deletedAt === null);
  if (!moved && !rewindowed && !revived) return after;
  let current = after;
  if (moved && after.lastExpiryAlert !== null) {
    await op.tx.credentials.setLastExpiryAlert(after.id, null);
    current = { ...after, lastExpiryAlert: null };
  }
  await scheduleExpiryNotices(op, deps, [current]);
  return current;
}

/**
 * After a vault's default windows changed (`before` → `after`, the vault locked): every live
 * credential in it that expires and inherits them gets its notices replaced, locked in id order.
 */
export async function followVaultExpiryAlerts(
  op: Operation,
  deps: RegistryDeps,
  before: Vault,
  after: Vault,
): Promise<number> {
  const windows = (v: Vault) => v.expiryAlerts ?? DEFAULT_EXPIRY_ALERTS;
  if (sameWindows(windows(before), windows(after))) return 0;
  const inheriting = await op.tx.credentials.lockInheritingExpiryAlerts(after.id);
  await scheduleExpiryNotices(op, deps, inheriting);
  return inheriting.length;
}
