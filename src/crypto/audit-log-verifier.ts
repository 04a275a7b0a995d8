import type { KeyObject } from 'node:crypto';
import { type AuditLeafEntry, AuditLeafFormatError, auditLeafHash, toAuditLeafEntry } from './audit-leaf.js';
import {
  type Checkpoint,
  CheckpointFormatError,
  NoteSignatureError,
  openCheckpoint,
} from './checkpoint-note.js';
import { EMPTY_ROOT, HASH_SIZE, inclusionPlan, TreeBuilder, verifyInclusion } from './merkle.js';

/**
 * Offline verification of an audit-log export (docs/audit.md, "Formats": JSON Lines, a header with
 * the signed checkpoint, then one line per leaf with its inclusion proof) against checkpoints the
 * verifier already holds. Nothing here trusts the server: `leafHash` and `proof` are hints, used
 * only after they are checked against a signed root.
 *
 * Cost: the fast path reads the lines once, recomputes the root from the entries (about two hashes
 * a leaf) and keeps 73 bytes a leaf (the entry's hash, the hint, a print of its row id, flags),
 * never the entries, and 8 more a leaf at the end to sort the prints; a second read happens on it
 * only when two entries' prints are the same. Only a log that fails is diagnosed: with the hints
 * when they hash to the signed root (one more tree, no re-read); else with the proofs on a second
 * read, one proof per 1024 leaves unless a window fails; and, to tell a moved entry from an edited
 * one, a third read for the few indexes it may be from.
 *
 * Order of the checks, and so which failure is reported when several hold: the signatures of the
 * checkpoint, the previous checkpoint and the export's header; their origins; a malformed line (it
 * stops the read, wherever it is); the first bad leaf index of the export; the checkpoint held; the
 * previous checkpoint; last, in a log that passed all of those, a row sealed twice.
 */

/**
 * Why a verification failed; stable strings for scripts.
 *
 * - `bad-signature`: a checkpoint is not signed by any given key under its origin's name (also a
 *   signature by a given key under another name).
 * - `malformed`: a checkpoint, the header or a line is not in the format. An entry with a field
 *   too many or of the wrong type is malformed, not edited: the leaf has exactly fifteen fields,
 *   and hashing a subset would be guessing which of them the log sealed.
 * - `origin-mismatch`: the checkpoints are of different logs (different origins, so tenants).
 * - `edited`: the entry at this index is not the one the log sealed.
 * - `deleted`: the entry is `null` or no line holds the index, while later entries remain.
 * - `reordered`: the entry is the one sealed at another index, or the lines are out of order.
 * - `truncated`: every leaf from this index on is missing, or the log ends before a checkpoint held.
 * - `fork`: the log's first leaves do not hash to the root of a checkpoint held: it was rewritten.
 * - `duplicate`: every leaf is the log's, but this entry's row (its `id`) was sealed at an earlier
 *   index too. Nothing is hidden, but the log says one access happened twice: a sealer fault, or a
 *   row deleted and written again by someone with the database's keys.
 */
export type AuditVerifyReason =
  | 'bad-signature'
  | 'malformed'
  | 'origin-mismatch'
  | 'edited'
  | 'deleted'
  | 'reordered'
  | 'truncated'
  | 'fork'
  | 'duplicate';

/** A log that verified: every entry is the one its checkpoints commit to. */
export interface AuditVerifySuccess {
  ok: true;
  /** The log's origin, `credreg/audit/<tenant id>`. */
  origin: string;
  /** The export's (header checkpoint's) tree size. */
  treeSize: number;
  /** The export's root hash, base64. */
  rootHash: string;
  /** Entries checked; equal to `treeSize`, since a missing one fails. */
  entries: number;
  /** The tree size of the checkpoint held (`checkpoint`); at most `treeSize`. */
  checkpointTreeSize: number;
  /** With `previous`: its tree size. The log only grew from it to `checkpointTreeSize`. */
  previousTreeSize?: number;
}

/** A log that did not verify, and the first thing found wrong (see {@link AuditVerifyReason}). */
export interface AuditVerifyFailure {
  ok: false;
  /** The leaf index where it went wrong; null when the failure is not at one leaf. */
  index: number | null;
  reason: AuditVerifyReason;
  /** What is wrong, in words, naming the line of the export where there is one. */
  message: string;
}

/** The outcome of {@link verifyAuditExport}. */
export type AuditVerifyResult = AuditVerifySuccess | AuditVerifyFailure;

/** The lines of an export, without their line ends; a readline interface fits. */
export type AuditExportLines = Iterable<string> | AsyncIterable<string>;

/** The input of {@link verifyAuditExport}. */
export interface AuditVerifyInput {
  /**
   * Opens the export's lines. Called once for a log that verifies, and up to twice more only to
   * diagnose one whose entries do not hash to its root and whose hints do not settle which entry is
   * wrong, or once more when two entries may be of one row: so it must give the same lines each
   * time (`() => lines` for an array, a fresh file stream for a file).
   */
  lines: () => AuditExportLines;
  /** A signed checkpoint the verifier holds; the export must contain its tree. */
  checkpoint: string;
  /** An older signed checkpoint held (Default: none): the log must have only grown since. */
  previous?: string;
  /** Ed25519 public keys, every key the log was ever signed with (rotation keeps old ones valid). */
  publicKeys: readonly KeyObject[];
}

/** The `format` of an export's header line. */
export const AUDIT_EXPORT_FORMAT = 'credreg-audit-export/1';

/** Thrown inside the verifier only, caught at the top and turned into an {@link AuditVerifyFailure}. */
class Refusal extends Error {
  constructor(
    readonly reason: AuditVerifyReason,
    readonly index: number | null,
    message: string,
  ) {
    super(message);
  }
}

function refuse(reason: AuditVerifyReason, index: number | null, message: string): never {
  throw new Refusal(reason, index, message);
}

/**
 * Verifies an export against the checkpoints held: their signatures, that the export's entries are
 * exactly the leaves 0..M−1 its header checkpoint commits to, that the checkpoint held is a prefix
 * of it (no fork, no truncation) and that the log only grew from `previous` to `checkpoint`.
 * Failures are returned, never thrown.
 *
 * @example
 * const result = await verifyAuditExport({ lines: () => text.split('\n'), checkpoint, publicKeys: [key] });
 * if (!result.ok) console.error(`${result.reason} at ${result.index}: ${result.message}`);
 * @throws TypeError when a key is not an Ed25519 key; whatever reading the lines throws.
 */
export async function verifyAuditExport(input: AuditVerifyInput): Promise<AuditVerifyResult> {
  /* Precondition: every key is an Ed25519 key. */
  for (const key of input.publicKeys) {
    if (key.type === 'secret' || key.asymmetricKeyType !== 'ed25519') {
      throw new TypeError(
        `verifyAuditExport: expected Ed25519 keys, got ${key.asymmetricKeyType ?? key.type}`,
      );
    }
  }
  try {
    return await verify(input);
  } catch (err) {
    if (err instanceof Refusal)
      return { ok: false, index: err.index, reason: err.reason, message: err.message };
    throw err;
  }
}

async function verify(input: AuditVerifyInput): Promise<AuditVerifySuccess> {
  const held = openSigned(input.checkpoint, input.publicKeys, 'the checkpoint');
  const previous =
    input.previous === undefined
      ? undefined
      : openSigned(input.previous, input.publicKeys, 'the previous checkpoint');
  const scan = await scanExport(input, held, previous);
  const { header } = scan;
  const size = header.treeSize;

  if (!scan.fast) await diagnose(input, scan);

  if (held.treeSize > size) {
    refuse(
      'truncated',
      size,
      `the log ends before the checkpoint held: the export has ${size} leaves, the checkpoint ${held.treeSize}`,
    );
  }
  if (!scan.prefixRoots.get(held.treeSize)!.equals(held.rootHash)) {
    refuse(
      'fork',
      null,
      `the log was rewritten before index ${held.treeSize}: its first ${held.treeSize} leaves do not hash to the checkpoint's root`,
    );
  }
  if (previous !== undefined) {
    if (previous.treeSize > held.treeSize) {
      refuse(
        'truncated',
        held.treeSize,
        `the log shrank: the checkpoint has ${held.treeSize} leaves, the previous one ${previous.treeSize}`,
      );
    }
    if (!scan.prefixRoots.get(previous.treeSize)!.equals(previous.rootHash)) {
      refuse(
        'fork',
        null,
        `the log was rewritten before index ${previous.treeSize}: its first ${previous.treeSize} leaves do not hash to the previous checkpoint's root`,
      );
    }
  }
  await refuseRowSealedTwice(input, scan);
  return {
    ok: true,
    origin: header.origin,
    treeSize: size,
    rootHash: header.rootHash.toString('base64'),
    entries: size,
    checkpointTreeSize: held.treeSize,
    ...(previous === undefined ? {} : { previousTreeSize: previous.treeSize }),
  };
}

function openSigned(text: string, keys: readonly KeyObject[], what: string): Checkpoint {
  try {
    return openCheckpoint(text, keys).checkpoint;
  } catch (err) {
    if (err instanceof NoteSignatureError) {
      refuse(
        'bad-signature',
        null,
        `${what} is not signed by any of the given keys for its origin: ${err.message}`,
      );
    }
    if (err instanceof CheckpointFormatError) refuse('malformed', null, `${what}: ${err.message}`);
    throw err;
  }
}

/** What the first read of an export found; enough to diagnose without the entries. */
interface Scan {
  header: Checkpoint;
  table: LeafTable;
  /** Whether the entries are exactly leaves 0..M−1, in order, and hash to the header's root. */
  fast: boolean;
  /** Lines read after the header, each holding a distinct leaf index below M. */
  leafLines: number;
  /** The first line position p (0 for the line after the header) whose line is not leaf p, and that line's leaf. */
  firstOutOfOrder: { position: number; leaf: number } | undefined;
  /** The highest leaf index with an entry; −1 for none. */
  lastPresent: number;
  /** Roots of the first n leaves, for n the tree sizes of the checkpoints held, where reached. */
  prefixRoots: Map<number, Buffer>;
}

async function scanExport(
  input: AuditVerifyInput,
  held: Checkpoint,
  previous: Checkpoint | undefined,
): Promise<Scan> {
  let line = 0;
  let header: Checkpoint | undefined;
  const table = new LeafTable();
  const tree = new TreeBuilder();
  const wanted = new Set([held.treeSize, previous?.treeSize ?? 0]);
  const prefixRoots = new Map<number, Buffer>([[0, Buffer.from(EMPTY_ROOT)]]);
  let firstOutOfOrder: Scan['firstOutOfOrder'];
  let lastPresent = -1;
  let building = true;
  let blank: number | undefined;

  for await (const text of input.lines()) {
    line++;
    // JSON Lines may end with a line end; splitting such a text leaves one empty last line.
    if (blank !== undefined) refuse('malformed', null, `line ${blank} is empty`);
    if (text === '') {
      blank = line;
      continue;
    }
    if (header === undefined) {
      header = parseHeader(text, input.publicKeys);
      checkOrigins(held, previous, header);
      continue;
    }
    const leaf = parseLeafLine(text, line, header.treeSize);
    const i = leaf.leafIndex;
    if (table.flags(i) & SEEN) refuse('malformed', i, `line ${line} holds leaf ${i} again`);
    const entryHash = leaf.entry === null ? undefined : auditLeafHash(leaf.entry);
    table.record(i, decodeHash(leaf.leafHash), entryHash, leaf.entry === null ? 0 : idPrint(leaf.entry.id));
    const position = line - 2;
    if (i !== position) firstOutOfOrder ??= { position, leaf: i };
    if (entryHash !== undefined) lastPresent = Math.max(lastPresent, i);
    // The tree is only the log's while every leaf so far is present and in place.
    building &&= i === position && entryHash !== undefined;
    if (building) {
      tree.append(entryHash!);
      if (wanted.has(tree.size)) prefixRoots.set(tree.size, tree.root());
    }
  }
  if (header === undefined) refuse('malformed', null, 'line 1: the export is empty, it has no header');
  const leafLines = line - 1 - (blank === undefined ? 0 : 1);
  const fast = building && leafLines === header!.treeSize && tree.root().equals(header!.rootHash);
  return { header: header!, table, fast, leafLines, firstOutOfOrder, lastPresent, prefixRoots };
}

function checkOrigins(held: Checkpoint, previous: Checkpoint | undefined, header: Checkpoint): void {
  const other = [
    { what: 'the previous checkpoint', cp: previous },
    { what: "the export's checkpoint", cp: header },
  ].find(({ cp }) => cp !== undefined && cp.origin !== held.origin);
  if (other !== undefined) {
    refuse(
      'origin-mismatch',
      null,
      `the checkpoints are of different logs: the checkpoint is of ${held.origin}, ${other.what} of ${other.cp!.origin}`,
    );
  }
}

/**
 * A 52-bit print of a row id (two 32-bit FNV-1a style hashes, cut to what a double holds exactly).
 * Prints only pick the entries to compare: two that match are compared by their ids, so a made-up
 * collision costs a read, never a wrong answer.
 */
function idPrint(id: string): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ id.length;
  for (let k = 0; k < id.length; k++) {
    const c = id.charCodeAt(k);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0) * 2 ** 20 + ((b >>> 0) >>> 12);
}

/**
 * Refuses a log, otherwise verified (every entry present, in place and the log's), that holds one
 * row at two indexes: the tree commits to both leaves, so no proof fails, but the log would count
 * one access twice. The prints are sorted to find the ones that repeat, and only the entries with
 * those are compared, by id, on a second read.
 */
async function refuseRowSealedTwice(input: AuditVerifyInput, scan: Scan): Promise<void> {
  const { table } = scan;
  const size = scan.header.treeSize;
  const sorted = table.prints(size).sort();
  const repeated = new Set<number>();
  for (let k = 1; k < sorted.length; k++) if (sorted[k] === sorted[k - 1]) repeated.add(sorted[k]!);
  if (repeated.size === 0) return;
  const firstIndexOf = new Map<string, number>();
  let line = 0;
  for await (const text of input.lines()) {
    line++;
    if (line === 1 || text === '') continue;
    const { leafIndex: i, entry } = parseLeafLine(text, line, size);
    // The first read proved every line i + 2 to hold leaf i, with an entry of that hash.
    const same = entry !== null && i === line - 2 && auditLeafHash(entry).equals(table.entry(i));
    if (!same) refuse('malformed', i, `line ${line} changed while the export was read`);
    if (!repeated.has(table.print(i))) continue;
    const j = firstIndexOf.get(entry.id);
    if (j !== undefined) {
      refuse(
        'duplicate',
        i,
        `the entry at index ${i} is of the row (id ${entry.id}) the log already sealed at index ${j}`,
      );
    }
    firstIndexOf.set(entry.id, i);
  }
}

/**
 * Names the first bad leaf index of an export that failed the fast path, and always refuses: a log
 * whose entries do not hash to a signed root has at least one leaf that is not the log's.
 *
 * The first bad index is the lowest of: the first leaf missing (no line, or a null entry), the first
 * line out of place, the first entry that is not the log's leaf. Everything up to the first two is
 * known from the first read; which entries are the log's is settled by the hints when they hash to
 * the signed root, else by the proofs, on a second read.
 */
async function diagnose(input: AuditVerifyInput, scan: Scan): Promise<never> {
  const { header, table } = scan;
  const size = header.treeSize;
  let missing = 0;
  while (missing < size && table.flags(missing) & PRESENT) missing++;
  // Up to `limit` the lines are leaves 0..limit−1 in order, each with an entry; only their content can be wrong.
  const limit = Math.min(missing, scan.firstOutOfOrder?.position ?? size);
  const hintsProven = scan.leafLines === size && hintRoot(table, size).equals(header.rootHash);
  const found = hintsProven ? compareHints(table, limit, size) : await locate(input, header, table, limit);

  if (found.wrong !== undefined) {
    const i = found.wrong;
    const j = hintsProven
      ? table.find(table.entry(i), (k) => k !== i && table.hint(k).equals(table.entry(i)))[0]
      : await sealedElsewhere(input, header, table, i, found.proven);
    if (j !== undefined) {
      refuse('reordered', i, `the entry at index ${i} is the one the log sealed at index ${j}`);
    }
    refuse(
      'edited',
      i,
      found.hintProven
        ? 'the entry does not hash to the leaf the checkpoint commits to'
        : "the entry does not hash to the leaf the checkpoint commits to, and neither it nor the export's leafHash verifies with the export's proof",
    );
  }
  if (limit === size)
    return refuse('edited', null, "the entries do not hash to the export checkpoint's root");
  const flags = table.flags(limit);
  if (!(flags & PRESENT)) {
    const gone = flags & SEEN ? 'its entry is null' : 'no line holds it';
    if (limit > scan.lastPresent) {
      refuse(
        'truncated',
        limit,
        `every leaf from ${limit} to ${size - 1} is missing, the first because ${gone}`,
      );
    }
    refuse('deleted', limit, `the log committed to leaf ${limit}, but ${gone}`);
  }
  const order = scan.firstOutOfOrder!;
  return refuse(
    'reordered',
    limit,
    `line ${order.position + 2} holds leaf ${order.leaf}, not leaf ${order.position}: the lines are out of order`,
  );
}

/** What the diagnosis found: the first entry that is not the log's leaf, if any before the limit. */
interface Located {
  wrong: number | undefined;
  /** Whether the export's hint for `wrong` is proven to be the log's leaf there. */
  hintProven: boolean;
  /** Leaves 0..proven−1 are proven to be the log's. */
  proven: number;
}

function hintRoot(table: LeafTable, size: number): Buffer {
  const hints = new TreeBuilder();
  for (let i = 0; i < size; i++) hints.append(table.hint(i));
  return hints.root();
}

/** With the hints proven, the first wrong entry is the first that differs from its hint. */
function compareHints(table: LeafTable, limit: number, size: number): Located {
  // The leaf at the limit is checked too when it is present (out of place): content wins a tie.
  const end = limit < size && table.flags(limit) & PRESENT ? limit + 1 : limit;
  for (let i = 0; i < end; i++) {
    if (!table.entry(i).equals(table.hint(i))) return { wrong: i, hintProven: true, proven: i };
  }
  return { wrong: undefined, hintProven: true, proven: limit };
}

/* Leaves proven at once by one proof: see extendsPrefix. */
const STRIDE = 1024;

/**
 * Second read, with the proofs: finds the first entry before the limit (or at it, when it is present
 * but out of place) that is not the log's leaf. Rather than one proof a leaf, one proof every STRIDE
 * leaves proves the whole prefix (see {@link extendsPrefix}); a window that fails is checked leaf by
 * leaf. A leaf whose own proof fails is only a suspect until a later stride proves it after all, so
 * a server's bad proof cannot make a good entry look edited unless no later proof covers it.
 */
async function locate(
  input: AuditVerifyInput,
  header: Checkpoint,
  table: LeafTable,
  limit: number,
): Promise<Located> {
  const includes = (hash: Buffer, i: number, proof: readonly string[]) =>
    verifyInclusion(hash, i, header.treeSize, proof.map(decodeHash), header.rootHash);
  const wrongAt = ({ index, proof }: { index: number; proof: string[] }): Located => ({
    wrong: index,
    hintProven: includes(table.hint(index), index, proof),
    proven: index,
  });
  const tree = new TreeBuilder();
  let window: { index: number; proof: string[] }[] = [];
  let windowStart = { size: 0, frontier: [] as Buffer[] };
  let suspect: { index: number; proof: string[] } | undefined;
  let line = 0;
  for await (const text of input.lines()) {
    line++;
    if (line === 1 || text === '') continue;
    const { leafIndex: i, proof } = parseLeafLine(text, line, header.treeSize);
    const position = line - 2;
    if (position < limit) {
      if (i !== position) refuse('malformed', i, `line ${line} changed while the export was read`);
      if (window.length === 0) windowStart = { size: tree.size, frontier: tree.frontier() };
      window.push({ index: i, proof });
      if (window.length === STRIDE || i === limit - 1) {
        if (extendsPrefix(tree.frontier(), table.entry(i), i, proof, header)) suspect = undefined;
        // Past a suspect, only strides are checked: after a real edit every one fails, cheaply.
        else suspect ??= firstUnproven(window, windowStart, table, header);
        window = [];
      }
      tree.append(table.entry(i));
    } else if (i === limit && table.flags(i) & PRESENT) {
      if (suspect !== undefined) break;
      return includes(table.entry(i), i, proof)
        ? { wrong: undefined, hintProven: true, proven: limit + 1 }
        : wrongAt({ index: i, proof });
    }
  }
  return suspect === undefined ? { wrong: undefined, hintProven: true, proven: limit } : wrongAt(suspect);
}

/**
 * In a window whose last leaf failed {@link extendsPrefix}: the leaf after the last one that passes,
 * since a pass at m proves leaves 0..m whatever the other proofs say.
 */
function firstUnproven(
  window: readonly { index: number; proof: string[] }[],
  start: { size: number; frontier: Buffer[] },
  table: LeafTable,
  header: Checkpoint,
): { index: number; proof: string[] } {
  const replay = new TreeBuilder(start.size, start.frontier);
  let lastGood = -1;
  window.forEach((w, k) => {
    if (extendsPrefix(replay.frontier(), table.entry(w.index), w.index, w.proof, header)) lastGood = k;
    replay.append(table.entry(w.index));
  });
  return window[Math.min(lastGood + 1, window.length - 1)]!;
}

/**
 * Whether leaf `index` is `leaf` in the header's tree *and* the leaves before it are those whose
 * compact range is `left` (the hashes of rangeNodes(0, index), largest first). The left siblings on
 * a leaf's path are exactly those subtrees, so the proof is checked with our own hashes in their
 * place: a match proves every entry before `index` too.
 */
function extendsPrefix(
  left: readonly Buffer[],
  leaf: Buffer,
  index: number,
  proof: readonly string[],
  header: Checkpoint,
): boolean {
  const plan = inclusionPlan(index, header.treeSize);
  if (plan.length !== proof.length) return false;
  const ours = [...left].reverse(); // the proof goes bottom up: smallest subtree first
  let used = 0;
  const path: Buffer[] = [];
  for (const [k, refs] of plan.entries()) {
    const { level, index: at } = refs[0]!;
    const sibling = at * 2 ** level < index ? ours[used++] : decodeHash(proof[k]!);
    if (sibling === undefined) return false;
    path.push(sibling);
  }
  return used === ours.length && verifyInclusion(leaf, index, header.treeSize, path, header.rootHash);
}

/**
 * The lowest index other than `i` where the log sealed the entry found at `i`, proven by the
 * leaves proven so far or, on another read, by that index's own proof.
 */
async function sealedElsewhere(
  input: AuditVerifyInput,
  header: Checkpoint,
  table: LeafTable,
  i: number,
  proven: number,
): Promise<number | undefined> {
  const hash = table.entry(i);
  const candidates = table.find(hash, (k) => k !== i);
  const early = candidates.find((k) => k < proven && table.entry(k).equals(hash));
  if (early !== undefined || candidates.length === 0) return early;
  const wanted = new Set(candidates);
  let best: number | undefined;
  let line = 0;
  for await (const text of input.lines()) {
    line++;
    if (line === 1 || text === '') continue;
    const { leafIndex: k, proof } = parseLeafLine(text, line, header.treeSize);
    if (!wanted.has(k) || (best !== undefined && best < k)) continue;
    if (verifyInclusion(hash, k, header.treeSize, proof.map(decodeHash), header.rootHash)) best = k;
  }
  return best;
}

function parseJson(text: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return refuse('malformed', null, `line ${line} is not JSON`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether `v` is an object with exactly these keys, in any order. */
const hasExactly = (v: Record<string, unknown>, keys: readonly string[]) =>
  Object.keys(v).length === keys.length && keys.every((k) => Object.hasOwn(v, k));

const HEADER_KEYS = ['format', 'checkpoint'] as const;

function parseHeader(text: string, keys: readonly KeyObject[]): Checkpoint {
  const value = parseJson(text, 1);
  if (!isObject(value) || !hasExactly(value, HEADER_KEYS) || typeof value.checkpoint !== 'string') {
    refuse('malformed', null, 'line 1 is not a header {"format":…,"checkpoint":"<signed note>"}');
  }
  const header = value as Record<string, unknown>;
  if (header.format !== AUDIT_EXPORT_FORMAT) {
    refuse(
      'malformed',
      null,
      `line 1: the format is ${JSON.stringify(header.format)}, not ${AUDIT_EXPORT_FORMAT}`,
    );
  }
  return openSigned(header.checkpoint as string, keys, "the export's checkpoint (line 1)");
}

/** One leaf line, checked for form only; the hashes stay base64 until they are needed. */
interface LeafLine {
  leafIndex: number;
  leafHash: string;
  entry: AuditLeafEntry | null;
  proof: string[];
}

const LEAF_KEYS = ['leafIndex', 'leafHash', 'entry', 'proof'] as const;
/* Canonical base64 of exactly 32 bytes: the last data character carries 4 bits and two zero bits. */
const HASH_BASE64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
/* Only for strings HASH_BASE64 has accepted: those decode to exactly 32 bytes. */
const decodeHash = (b64: string): Buffer => Buffer.from(b64, 'base64');
/* A proof has one hash a level; a tree of a safe-integer size has fewer than 54 levels. */
const MAX_PROOF = 64;

function parseLeafLine(text: string, line: number, treeSize: number): LeafLine {
  const value = parseJson(text, line);
  if (!isObject(value) || !hasExactly(value, LEAF_KEYS)) {
    refuse('malformed', null, `line ${line} is not a leaf {"leafIndex","leafHash","entry","proof"}`);
  }
  const { leafIndex, leafHash, entry, proof } = value as Record<string, unknown>;
  if (typeof leafIndex !== 'number' || !Number.isSafeInteger(leafIndex) || leafIndex < 0) {
    return refuse('malformed', null, `line ${line}: leafIndex is not an integer >= 0`);
  }
  if (leafIndex >= treeSize) {
    refuse('malformed', null, `line ${line}: leaf ${leafIndex} is beyond the export's tree size ${treeSize}`);
  }
  const bad = (what: string) => refuse('malformed', leafIndex, `line ${line}: ${what}`);
  if (typeof leafHash !== 'string' || !HASH_BASE64.test(leafHash))
    bad('leafHash is not a base64 SHA-256 hash');
  if (
    !Array.isArray(proof) ||
    proof.length > MAX_PROOF ||
    !proof.every((p) => typeof p === 'string' && HASH_BASE64.test(p))
  ) {
    bad('proof is not a list of base64 SHA-256 hashes');
  }
  let checked: AuditLeafEntry | null = null;
  if (entry !== null) {
    try {
      checked = toAuditLeafEntry(entry);
    } catch (err) {
      if (err instanceof AuditLeafFormatError) bad(err.message);
      throw err;
    }
  }
  return { leafIndex, leafHash: leafHash as string, entry: checked, proof: proof as string[] };
}

/* LeafTable flags: a line holds the index; that line has an entry. */
const SEEN = 1;
const PRESENT = 2;

/* Leaves a chunk: chunks are allocated as lines arrive, so memory follows the export, not the
   (signed, but possibly huge) tree size its header claims. */
const CHUNK = 65_536;
const MAX_FOUND = 64;

interface Chunk {
  entries: Buffer;
  hints: Buffer;
  prints: Float64Array;
  flags: Uint8Array;
}

/** Per leaf index: the entry's hash, the export's hint, its row id's print and the flags above: 73 bytes. */
class LeafTable {
  readonly #chunks = new Map<number, Chunk>();

  #at(i: number): { chunk: Chunk | undefined; slot: number } {
    return { chunk: this.#chunks.get(Math.floor(i / CHUNK)), slot: i % CHUNK };
  }

  flags(i: number): number {
    const { chunk, slot } = this.#at(i);
    return chunk === undefined ? 0 : chunk.flags[slot]!;
  }

  record(i: number, hint: Buffer, entry: Buffer | undefined, print: number): void {
    const key = Math.floor(i / CHUNK);
    let chunk = this.#chunks.get(key);
    if (chunk === undefined) {
      chunk = {
        entries: Buffer.alloc(CHUNK * HASH_SIZE),
        hints: Buffer.alloc(CHUNK * HASH_SIZE),
        prints: new Float64Array(CHUNK),
        flags: new Uint8Array(CHUNK),
      };
      this.#chunks.set(key, chunk);
    }
    const slot = i % CHUNK;
    hint.copy(chunk.hints, slot * HASH_SIZE);
    entry?.copy(chunk.entries, slot * HASH_SIZE);
    chunk.prints[slot] = print;
    chunk.flags[slot] = SEEN | (entry === undefined ? 0 : PRESENT);
  }

  /** The print of the row id of leaf i's entry; 0 when there is none. */
  print(i: number): number {
    const { chunk, slot } = this.#at(i);
    return chunk === undefined ? 0 : chunk.prints[slot]!;
  }

  /** A copy of the row id prints of leaves 0..size−1, in one array (0 where there is no entry). */
  prints(size: number): Float64Array {
    const all = new Float64Array(size);
    for (let start = 0; start < size; start += CHUNK) {
      const chunk = this.#chunks.get(start / CHUNK);
      if (chunk !== undefined) all.set(chunk.prints.subarray(0, Math.min(CHUNK, size - start)), start);
    }
    return all;
  }

  /** The entry's hash (zeros when there is none); a view, not a copy. */
  entry(i: number): Buffer {
    return this.#hash(i, 'entries');
  }

  /** The export's leafHash hint (zeros when no line holds `i`); a view, not a copy. */
  hint(i: number): Buffer {
    return this.#hash(i, 'hints');
  }

  #hash(i: number, which: 'entries' | 'hints'): Buffer {
    const { chunk, slot } = this.#at(i);
    if (chunk === undefined) return Buffer.alloc(HASH_SIZE);
    return chunk[which].subarray(slot * HASH_SIZE, (slot + 1) * HASH_SIZE);
  }

  /**
   * The indexes whose entry or hint is `hash` and that `accept` takes, lowest first, at most
   * MAX_FOUND (a scan, for diagnosis; an export whose hints all repeat one hash gains nothing).
   */
  find(hash: Buffer, accept: (i: number) => boolean): number[] {
    const found = new Set<number>();
    for (const [key, chunk] of this.#chunks) {
      for (const buffer of [chunk.entries, chunk.hints]) {
        for (let at = buffer.indexOf(hash); at >= 0; at = buffer.indexOf(hash, at + 1)) {
          const i = key * CHUNK + at / HASH_SIZE;
          if (at % HASH_SIZE === 0 && found.size < MAX_FOUND && accept(i)) found.add(i);
        }
      }
    }
    return [...found].sort((a, b) => a - b);
  }
}
