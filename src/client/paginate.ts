import type { ApiPage } from './api-types.js';

/**
 * Walks every page of a listing, one request at a time, yielding items in the server's order.
 *
 * @example
 * for await (const entry of paginate((cursor) => client.listAudit({ action: 'reveal', cursor }))) {
 *   console.log(entry.actor);
 * }
 */
export async function* paginate<T>(
  fetchPage: (cursor: string | undefined) => Promise<ApiPage<T>>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}
