import type { AuditSinkRecord } from '../core/ports.js';

/** Records as JSON Lines: one JSON object per line, each ended by `\n`. */
export function jsonLines(records: readonly AuditSinkRecord[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}
