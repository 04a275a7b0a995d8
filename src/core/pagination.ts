import { z } from 'zod';
import { RegistryError } from './errors.js';
import { isUuid } from './ids.js';
import { storable } from './validation.js';

/** Page sizes: (Default: 100), at most 1000. */
export const pageOptions = z.object({
  limit: z.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(500).optional(),
});
export type PageOptions = z.input<typeof pageOptions>;

interface NameCursor {
  name: string;
  id: string;
}

const badCursor = () =>
  new RegistryError('VALIDATION', 'cursor is not valid; pass back a nextCursor from the previous page');

/** Cursors are opaque to callers: base64url of the last item's sort key. */
export function encodeNameCursor(last: NameCursor): string {
  return Buffer.from(JSON.stringify([last.name, last.id])).toString('base64url');
}

export function decodeNameCursor(cursor: string | undefined): NameCursor | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [name, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    // A cursor is caller input too: a name with U+0000 in it would reach SQL and fail there.
    if (typeof name === 'string' && name.length <= 100 && storable(name) && isUuid(id)) return { name, id };
  } catch {
    // fall through
  }
  throw badCursor();
}

export function encodeIdCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

export function decodeIdCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) throw badCursor();
  return id;
}

/** Fetches `limit + 1` rows to know whether another page exists without a count. */
export function toPage<T>(
  rows: T[],
  limit: number,
  cursorOf: (last: T) => string,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? cursorOf(items.at(-1)!) : null };
}
