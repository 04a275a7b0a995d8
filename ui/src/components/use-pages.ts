import { type Inputs, useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ApiPage } from '../../../src/client/index.js';

export interface Pages<T> {
  /** Every item loaded so far, in the server's order. */
  items: T[];
  error: unknown;
  loading: boolean;
  /** Whether the server has another page (`nextCursor`). */
  more: boolean;
  /** Loads the next page and appends it. */
  loadMore(): void;
  /** Starts again from the first page (after a change). */
  reload(): void;
}

/**
 * A listing read one page at a time ("Load more"): the first page now and whenever `inputs`
 * change; a page that arrives after a newer load started is dropped.
 */
export function usePages<T>(
  fetchPage: (cursor: string | undefined) => Promise<ApiPage<T>>,
  inputs: Inputs,
): Pages<T> {
  const [state, setState] = useState<{ items: T[]; cursor: string | null; error: unknown; loading: boolean }>(
    {
      items: [],
      cursor: null,
      error: undefined,
      loading: true,
    },
  );
  const generation = useRef(0);
  const cursor = useRef<string | null>(null);

  const load = useCallback((from: string | undefined) => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    fetchPage(from).then(
      (page) => {
        if (mine !== generation.current) return;
        cursor.current = page.nextCursor;
        setState((s) => ({
          items: from === undefined ? page.items : [...s.items, ...page.items],
          cursor: page.nextCursor,
          error: undefined,
          loading: false,
        }));
      },
      (error) => mine === generation.current && setState((s) => ({ ...s, error, loading: false })),
    );
  }, inputs);

  useEffect(() => {
    load(undefined);
    return () => {
      generation.current++;
    };
  }, [load]);

  return {
    items: state.items,
    error: state.error,
    loading: state.loading,
    more: state.cursor !== null,
    loadMore: () => cursor.current !== null && load(cursor.current),
    reload: () => load(undefined),
  };
}
