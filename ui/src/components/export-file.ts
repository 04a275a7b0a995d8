/**
 * Files the console builds in the browser from what it already read (an access-log export): no
 * server round trip, and nothing but the rows the filter matched.
 */

/** One JSON object a line, `\n`-terminated (JSON Lines). */
export function toJsonl(rows: readonly object[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/**
 * RFC 4180 CSV: a header row of `columns`, CRLF line ends, and a field quoted (its quotes doubled)
 * whenever it holds a comma, a quote, a line break or edge spaces. `null`/`undefined` are empty.
 * CSV is for spreadsheets, and a reason or a user agent is whatever a caller typed: a field that a
 * spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'`, as
 * OWASP advises against CSV injection. JSONL is the exact record.
 */
export function toCsv<T extends object>(rows: readonly T[], columns: readonly (keyof T & string)[]): string {
  const line = (fields: readonly unknown[]) => fields.map(csvField).join(',');
  return [line(columns), ...rows.map((r) => line(columns.map((c) => r[c])))].map((l) => `${l}\r\n`).join('');
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const raw =
    typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  const text = /^[=+\-@\t\r]/.test(raw) ? `'${raw}` : raw;
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Hands `text` to the browser as a download named `filename` (a Blob URL, revoked once used). */
export function downloadText(filename: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // Chromium starts the download from the click; the URL is kept a moment for slower browsers.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
