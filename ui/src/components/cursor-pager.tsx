/** Cursor pagination of a listing: the cursors of the pages before this one, "Previous" and "Next". */
import { useState } from 'preact/hooks';
import { Button } from './ui.js';

export interface CursorPages {
  /** The cursor of the page shown (undefined: the first). */
  cursor: string | undefined;
  /** 1 for the first page. */
  number: number;
  next(cursor: string): void;
  previous(): void;
}

/**
 * Starts again at the first page whenever a value of `resetOn` changes (a new search): the
 * cursors kept belong to the values they were got with.
 */
export function useCursorPages(resetOn: readonly unknown[]): CursorPages {
  const key = JSON.stringify(resetOn);
  const [state, setState] = useState<{ key: string; stack: string[] }>({ key, stack: [] });
  const stack = state.key === key ? state.stack : [];
  return {
    cursor: stack.at(-1),
    number: stack.length + 1,
    next: (c) => setState({ key, stack: [...stack, c] }),
    previous: () => setState({ key, stack: stack.slice(0, -1) }),
  };
}

/** "Previous" and "Next", when there is more than one page. */
export function Pager({ pages, next }: { pages: CursorPages; next: string | null }) {
  if (pages.number === 1 && !next) return null;
  return (
    <nav class="actions pager" aria-label="Pages">
      <Button onClick={pages.previous} disabled={pages.number === 1}>
        Previous page
      </Button>
      <span class="muted">Page {pages.number}</span>
      <Button onClick={() => next && pages.next(next)} disabled={!next}>
        Next page
      </Button>
    </nav>
  );
}
