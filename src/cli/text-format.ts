/**
 * Plain-text output of the CLI: aligned tables for people, CSV rows for spreadsheets. Values come
 * from the server and may hold anything a caller typed (an audit reason, a name), so control
 * characters are shown escaped rather than sent to the terminal.
 */

/** One column of a table: its header and how to read its cell from a row. */
export interface Column<T> {
  header: string;
  cell: (row: T) => unknown;
}

/** A table with a header line and columns padded to their widest cell; `-` stands for no value. */
export function formatTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const grid = [
    columns.map((c) => c.header),
    ...rows.map((row) => columns.map((c) => cellText(c.cell(row)))),
  ];
  const widths = columns.map((_, i) => Math.max(...grid.map((line) => line[i]!.length)));
  return grid
    .map((line) =>
      line
        .map((text, i) => text.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Label–value lines, labels aligned: one resource, read top to bottom. */
export function formatRecord(fields: readonly (readonly [label: string, value: unknown])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${label.padEnd(width)}  ${cellText(value)}`.trimEnd()).join('\n');
}

/** One RFC 4180 line: fields quoted when they hold a comma, quote or line break; no value is empty. */
export function csvRow(values: readonly unknown[]): string {
  return values
    .map((value) => {
      const text = value === null || value === undefined ? '' : scalarText(value);
      return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
    })
    .join(',');
}

function cellText(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  const text = scalarText(value);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is matched
  return /[\u0000-\u001f\u007f-\u009f]/.test(text) ? JSON.stringify(text).slice(1, -1) : text;
}

function scalarText(value: unknown): string {
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
