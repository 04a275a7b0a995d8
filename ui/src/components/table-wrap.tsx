import type { ComponentChildren } from 'preact';

/**
 * A table's box, scrolled sideways on a narrow screen: a named region that takes the focus, so a
 * keyboard can scroll it too (the page itself never scrolls sideways).
 */
export function TableWrap({
  label,
  wide = false,
  children,
}: {
  label: string;
  /** A table of many columns: kept at a readable width, scrolled rather than squeezed. */
  wide?: boolean;
  children: ComponentChildren;
}) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1).
    <section class={wide ? 'table-wrap table-wrap-min' : 'table-wrap'} aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}
