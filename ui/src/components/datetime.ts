/**
 * `<input type="datetime-local">` speaks local wall-clock time without an offset; the API wants an
 * ISO 8601 instant. These convert between the two in the browser's time zone.
 */

/** `2026-12-02T09:30` (local) → ISO instant; empty or unreadable → undefined. */
export function localToIso(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** ISO instant → `2026-12-02T09:30` (local), for a datetime-local input; '' when unreadable. */
export function isoToLocal(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
