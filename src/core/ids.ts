import { v7 } from 'uuid';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Strict lower-case UUID check. The tenant id is interpolated into the transaction prelude (see
 * `db/tenant-store.ts`), so this regex is what keeps that statement injection-free.
 */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** Time-ordered ids (UUIDv7) keep primary-key indexes append-mostly and give keyset pagination a natural order. */
export function newId(): string {
  return v7();
}
