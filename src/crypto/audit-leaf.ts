import type { AuditLeafEntry } from '../core/ports.js';
import { leafHash } from './merkle.js';

export type { AuditLeafEntry };

/**
 * The leaf of a tenant's audit log: one access-log row, in a canonical encoding that the sealer
 * hashes and any verifier recomputes from an export.
 *
 * The encoding is the row's fifteen fields as one JSON object, keys in the order below (sorted,
 * so it is also the RFC 8785 canonical form of such an object), no whitespace. Absent values are
 * `null`, never left out; `occurredAt` is the database's own instant to the microsecond
 * (`2026-12-03T08:35:38.123456Z`), `version` an integer or null, every other value a string or
 * null. The leaf hash is RFC 9162's: SHA-256(0x00 ‖ UTF-8 of that JSON).
 *
 * Changing any of this changes every leaf hash of every log: a new encoding needs a new export
 * format version, never an edit here.
 */

/** The fields of an {@link AuditLeafEntry}, in encoding order. */
export const AUDIT_LEAF_FIELDS = [
  'action',
  'actor',
  'clientRequestId',
  'credentialId',
  'errorCode',
  'id',
  'occurredAt',
  'outcome',
  'reason',
  'requestId',
  'sourceIp',
  'tenantId',
  'userAgent',
  'vaultId',
  'version',
] as const satisfies readonly (keyof AuditLeafEntry)[];

const REQUIRED = new Set<string>(['action', 'actor', 'id', 'occurredAt', 'outcome', 'tenantId']);

/** An export's entry that is not exactly an {@link AuditLeafEntry}. */
export class AuditLeafFormatError extends Error {
  override readonly name = 'AuditLeafFormatError';
}

/**
 * The entry as an {@link AuditLeafEntry}, checked: exactly the fifteen fields, each of its type.
 * Throws {@link AuditLeafFormatError} naming the first field that is wrong.
 */
export function toAuditLeafEntry(value: unknown): AuditLeafEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuditLeafFormatError('an entry must be a JSON object');
  }
  const record = value as Record<string, unknown>;
  const extra = Object.keys(record).find((k) => !(AUDIT_LEAF_FIELDS as readonly string[]).includes(k));
  if (extra !== undefined) throw new AuditLeafFormatError(`an entry has an unknown field "${extra}"`);
  for (const field of AUDIT_LEAF_FIELDS) {
    if (!(field in record)) throw new AuditLeafFormatError(`an entry has no "${field}"`);
    const v = record[field];
    const ok =
      field === 'version'
        ? v === null || Number.isSafeInteger(v)
        : typeof v === 'string' || (v === null && !REQUIRED.has(field));
    if (!ok) throw new AuditLeafFormatError(`an entry's "${field}" has the wrong type`);
  }
  return record as unknown as AuditLeafEntry;
}

/**
 * The canonical JSON of an entry (see the module comment).
 *
 * @example canonicalAuditLeaf(entry) // '{"action":"reveal","actor":"…",…,"version":3}'
 */
export function canonicalAuditLeaf(entry: AuditLeafEntry): string {
  let json = '{';
  for (let i = 0; i < AUDIT_LEAF_FIELDS.length; i++)
    json += KEY_PREFIXES[i]! + JSON.stringify(entry[AUDIT_LEAF_FIELDS[i]!]);
  return `${json}}`;
}

/** `"field":` for each field, comma-led after the first: made once, since every leaf repeats them. */
const KEY_PREFIXES = AUDIT_LEAF_FIELDS.map((f, i) => `${i === 0 ? '' : ','}${JSON.stringify(f)}:`);

/** RFC 9162 leaf hash of an entry's canonical JSON. */
export function auditLeafHash(entry: AuditLeafEntry): Buffer {
  return leafHash(Buffer.from(canonicalAuditLeaf(entry), 'utf8'));
}
