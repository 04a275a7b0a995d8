import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type AuditLeafEntry, auditLeafHash } from '../../src/crypto/audit-leaf.js';
import {
  AUDIT_EXPORT_FORMAT,
  type AuditVerifyInput,
  type AuditVerifyResult,
  verifyAuditExport,
} from '../../src/crypto/audit-log-verifier.js';
import { formatCheckpoint, signNote } from '../../src/crypto/checkpoint-note.js';
import { TreeBuilder } from '../../src/crypto/merkle.js';

/*
 * Exports are built here from entries: leaf hashes with audit-leaf.ts, roots with TreeBuilder, and
 * the proofs with an RFC 9162 §2.1.3.1 PATH written from the RFC, not from merkle.ts.
 */
const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const largestPow2Below = (n: number) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
/** MTH(D[lo:hi]) over leaf hashes, memoized per subrange: a log's proofs share their subtrees. */
function mth(leaves: readonly Buffer[], lo: number, hi: number, memo: Map<string, Buffer>): Buffer {
  if (hi - lo === 1) return leaves[lo]!;
  const key = `${lo}:${hi}`;
  let h = memo.get(key);
  if (h === undefined) {
    const k = largestPow2Below(hi - lo);
    h = sha(Uint8Array.of(1), mth(leaves, lo, lo + k, memo), mth(leaves, lo + k, hi, memo));
    memo.set(key, h);
  }
  return h;
}
/** PATH(m, D[lo:hi]) over leaf hashes, m relative to lo. */
function path(
  m: number,
  leaves: readonly Buffer[],
  lo: number,
  hi: number,
  memo: Map<string, Buffer>,
): Buffer[] {
  if (hi - lo <= 1) return [];
  const k = largestPow2Below(hi - lo);
  return m < k
    ? [...path(m, leaves, lo, lo + k, memo), mth(leaves, lo + k, hi, memo)]
    : [...path(m - k, leaves, lo + k, hi, memo), mth(leaves, lo, lo + k, memo)];
}

const TENANT = '0193a5b2-0000-7000-8000-000000000001';
const ORIGIN = `credreg/audit/${TENANT}`;
const keys = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');

function entryAt(i: number, tenantId = TENANT): AuditLeafEntry {
  return {
    action: i % 3 === 0 ? 'reveal' : 'read_metadata',
    actor: `token:${i % 5}`,
    clientRequestId: null,
    credentialId: `0193a5b2-0000-7000-8000-${String(i).padStart(12, '0')}`,
    errorCode: null,
    id: `0193a5b3-0000-7000-8000-${String(i).padStart(12, '0')}`,
    occurredAt: `2026-12-03T08:${String(10 + (i % 50)).padStart(2, '0')}:00.123456Z`,
    outcome: 'success',
    reason: i % 2 === 0 ? 'deploy' : null,
    requestId: `req-${i}`,
    sourceIp: '10.0.0.7',
    tenantId,
    userAgent: 'credreg/0.1.0',
    vaultId: null,
    version: i % 4 === 0 ? null : i,
  };
}

const rootOf = (leaves: readonly Buffer[]) => {
  const tree = new TreeBuilder();
  for (const leaf of leaves) tree.append(leaf);
  return tree.root();
};

interface CheckpointOptions {
  key?: KeyObject;
  origin?: string;
  keyName?: string;
}

function checkpointOf(leaves: readonly Buffer[], options: CheckpointOptions = {}): string {
  const origin = options.origin ?? ORIGIN;
  const body = formatCheckpoint({
    origin,
    treeSize: leaves.length,
    rootHash: rootOf(leaves),
    time: new Date('2026-12-03T09:00:00.000Z'),
  });
  return signNote(body, options.keyName ?? origin, options.key ?? keys.privateKey);
}

interface LeafLine {
  leafIndex: number;
  leafHash: string;
  entry: unknown;
  proof: string[];
}

/** A log of `size` entries, its export as editable line objects, and checkpoints of its prefixes. */
function log(size: number, options: CheckpointOptions & { entries?: AuditLeafEntry[] } = {}) {
  const entries = options.entries ?? Array.from({ length: size }, (_, i) => entryAt(i));
  const leaves = entries.map(auditLeafHash);
  const header: Record<string, unknown> = {
    format: AUDIT_EXPORT_FORMAT,
    checkpoint: checkpointOf(leaves, options),
  };
  const memo = new Map<string, Buffer>();
  const lines: LeafLine[] = entries.map((entry, i) => ({
    leafIndex: i,
    leafHash: leaves[i]!.toString('base64'),
    entry: { ...entry },
    proof: path(i, leaves, 0, leaves.length, memo).map((p) => p.toString('base64')),
  }));
  return {
    entries,
    leaves,
    header,
    lines,
    /** A checkpoint of the first n leaves. */
    at: (n: number, cp: CheckpointOptions = {}) => checkpointOf(leaves.slice(0, n), { ...options, ...cp }),
    text: () => [JSON.stringify(header), ...lines.map((l) => JSON.stringify(l))],
  };
}

type Log = ReturnType<typeof log>;

/**
 * An export of `size` leaves streamed from `entryOf`, with no proofs (the fast path needs none),
 * and its checkpoint: for logs too big for {@link log}'s proofs.
 */
function bigExport(size: number, entryOf: (i: number) => AuditLeafEntry): AuditVerifyInput {
  const tree = new TreeBuilder();
  for (let i = 0; i < size; i++) tree.append(auditLeafHash(entryOf(i)));
  const body = formatCheckpoint({ origin: ORIGIN, treeSize: size, rootHash: tree.root(), time: new Date(0) });
  const checkpoint = signNote(body, ORIGIN, keys.privateKey);
  function* lines() {
    yield JSON.stringify({ format: AUDIT_EXPORT_FORMAT, checkpoint });
    for (let i = 0; i < size; i++) {
      const entry = entryOf(i);
      yield JSON.stringify({
        leafIndex: i,
        leafHash: auditLeafHash(entry).toString('base64'),
        entry,
        proof: [],
      });
    }
  }
  return { lines, checkpoint, publicKeys: [keys.publicKey] };
}

const verifyLog = (l: Log, input: Partial<AuditVerifyInput> = {}) => {
  const text = l.text();
  return verifyAuditExport({
    lines: () => text,
    checkpoint: l.at(l.lines.length),
    publicKeys: [keys.publicKey],
    ...input,
  });
};

const failure = (result: AuditVerifyResult) => {
  expect(result.ok, JSON.stringify(result)).toBe(false);
  return result.ok ? undefined : { reason: result.reason, index: result.index };
};

describe('verifyAuditExport: an untouched log', () => {
  it.each([0, 1, 2, 3, 7, 8, 9, 33])('verifies a log of %i leaves', async (size) => {
    const l = log(size);
    expect(await verifyLog(l)).toEqual({
      ok: true,
      origin: ORIGIN,
      treeSize: size,
      rootHash: rootOf(l.leaves).toString('base64'),
      entries: size,
      checkpointTreeSize: size,
    });
  });

  it('verifies a checkpoint held that is a prefix, and a previous one it grew from', async () => {
    const l = log(33);
    for (const [held, previous] of [
      [20, 7],
      [33, 0],
      [8, 8],
      [0, 0],
    ] as const) {
      expect(await verifyLog(l, { checkpoint: l.at(held), previous: l.at(previous) })).toMatchObject({
        ok: true,
        treeSize: 33,
        checkpointTreeSize: held,
        previousTreeSize: previous,
      });
    }
  });

  it('verifies across a key rotation: the previous checkpoint under the old key', async () => {
    const l = log(9);
    const result = await verifyLog(l, {
      previous: l.at(4, { key: other.privateKey }),
      publicKeys: [other.publicKey, keys.publicKey],
    });
    expect(result).toMatchObject({ ok: true, previousTreeSize: 4 });
  });

  it('ignores wrong leafHash hints and proofs when the entries hash to the signed root', async () => {
    const l = log(9);
    l.lines[3]!.leafHash = l.lines[4]!.leafHash;
    l.lines[5]!.proof = [];
    expect(await verifyLog(l)).toMatchObject({ ok: true });
  });

  it('accepts one empty line at the end (a text split at its final line end)', async () => {
    const l = log(5);
    const text = `${l.text().join('\n')}\n`;
    expect(await verifyLog(l, { lines: () => text.split('\n') })).toMatchObject({ ok: true });
  });

  it('reads the lines once when the log verifies, and accepts an async source', async () => {
    const l = log(33);
    let reads = 0;
    const result = await verifyLog(l, {
      lines: async function* () {
        reads++;
        yield* l.text();
      },
    });
    expect(result).toMatchObject({ ok: true });
    expect(reads).toBe(1);
  });

  it('verifies 65 537 leaves (past one chunk of the leaf table), without proofs needed on the fast path', {
    timeout: 120_000,
  }, async () => {
    const result = await verifyAuditExport(bigExport(65_537, entryAt));
    expect(result).toMatchObject({ ok: true, treeSize: 65_537 });
  });
});

describe('verifyAuditExport: a tampered export names the first bad index and why', () => {
  it('edited: a field of entry 5 changed', async () => {
    const l = log(8);
    (l.lines[5]!.entry as AuditLeafEntry).reason = 'nothing to see';
    const result = await verifyLog(l);
    expect(failure(result)).toEqual({ reason: 'edited', index: 5 });
    expect(result).toMatchObject({
      message: 'the entry does not hash to the leaf the checkpoint commits to',
    });
  });

  it('edited: the hint rewritten to match the edit, so only the proof can tell', async () => {
    const l = log(33);
    const edited = { ...l.entries[17]!, actor: 'token:intruder' };
    l.lines[17]!.entry = edited;
    l.lines[17]!.leafHash = auditLeafHash(edited).toString('base64');
    expect(failure(await verifyLog(l))).toEqual({ reason: 'edited', index: 17 });
  });

  it('edited: the earliest of two edits', async () => {
    const l = log(33);
    (l.lines[30]!.entry as AuditLeafEntry).outcome = 'denied';
    (l.lines[12]!.entry as AuditLeafEntry).version = 99;
    expect(failure(await verifyLog(l))).toEqual({ reason: 'edited', index: 12 });
  });

  it('deleted: entry 3 is null (its row is gone)', async () => {
    const l = log(7);
    l.lines[3]!.entry = null;
    expect(failure(await verifyLog(l))).toEqual({ reason: 'deleted', index: 3 });
  });

  it('deleted: the line of leaf 4 removed', async () => {
    const l = log(9);
    l.lines.splice(4, 1);
    expect(failure(await verifyLog(l))).toEqual({ reason: 'deleted', index: 4 });
  });

  it('deleted: the first leaf removed', async () => {
    const l = log(2);
    l.lines.splice(0, 1);
    expect(failure(await verifyLog(l))).toEqual({ reason: 'deleted', index: 0 });
  });

  it('truncated: the last 10 entries null', async () => {
    const l = log(33);
    for (const line of l.lines.slice(-10)) line.entry = null;
    expect(failure(await verifyLog(l))).toEqual({ reason: 'truncated', index: 23 });
  });

  it('truncated: the last 10 lines removed', async () => {
    const l = log(33);
    l.lines.splice(-10);
    expect(failure(await verifyLog(l))).toEqual({ reason: 'truncated', index: 23 });
  });

  it('truncated: every leaf line removed', async () => {
    const l = log(8);
    l.lines.length = 0;
    expect(failure(await verifyLog(l))).toEqual({ reason: 'truncated', index: 0 });
  });

  it('reordered: entries 2 and 6 swapped, at the first of them', async () => {
    const l = log(8);
    [l.lines[2]!.entry, l.lines[6]!.entry] = [l.lines[6]!.entry, l.lines[2]!.entry];
    const result = await verifyLog(l);
    expect(failure(result)).toEqual({ reason: 'reordered', index: 2 });
    expect(result).toMatchObject({ message: 'the entry at index 2 is the one the log sealed at index 6' });
  });

  it('reordered: entries swapped while a later line is also missing (proofs decide)', async () => {
    const l = log(33);
    [l.lines[9]!.entry, l.lines[20]!.entry] = [l.lines[20]!.entry, l.lines[9]!.entry];
    l.lines.splice(25, 1);
    expect(failure(await verifyLog(l))).toEqual({ reason: 'reordered', index: 9 });
  });

  it('reordered: two whole lines swapped', async () => {
    const l = log(8);
    [l.lines[1], l.lines[5]] = [l.lines[5]!, l.lines[1]!];
    const result = await verifyLog(l);
    expect(failure(result)).toEqual({ reason: 'reordered', index: 1 });
    expect(result).toMatchObject({ message: expect.stringMatching(/^line 3 holds leaf 5, not leaf 1/) });
  });

  it('lines swapped, one of them edited: at the same index the edit is reported', async () => {
    for (const removeLater of [false, true]) {
      const l = log(33);
      [l.lines[1], l.lines[5]] = [l.lines[5]!, l.lines[1]!];
      (l.lines[5]!.entry as AuditLeafEntry).actor = 'x'; // leaf 1, now on line 7
      if (removeLater) l.lines.splice(30, 1); // the hints no longer add up: the proofs decide
      expect(failure(await verifyLog(l))).toEqual({ reason: 'edited', index: 1 });
    }
  });

  it('an edit before a reordering is reported first', async () => {
    const l = log(33);
    [l.lines[20]!.entry, l.lines[21]!.entry] = [l.lines[21]!.entry, l.lines[20]!.entry];
    (l.lines[4]!.entry as AuditLeafEntry).action = 'rotate';
    expect(failure(await verifyLog(l))).toEqual({ reason: 'edited', index: 4 });
  });

  it('reads the lines a second time only when the hints cannot settle it', async () => {
    const count = async (l: Log) => {
      let reads = 0;
      const text = l.text();
      const result = await verifyLog(l, {
        lines: () => {
          reads++;
          return text;
        },
      });
      return { result: failure(result), reads };
    };
    const edited = log(9);
    (edited.lines[2]!.entry as AuditLeafEntry).actor = 'x';
    expect(await count(edited)).toEqual({ result: { reason: 'edited', index: 2 }, reads: 1 });
    const removed = log(9);
    removed.lines.splice(2, 1);
    expect(await count(removed)).toEqual({ result: { reason: 'deleted', index: 2 }, reads: 2 });
  });
});

describe('verifyAuditExport: diagnosis with the proofs, over more than one stride of 1024 leaves', () => {
  // A removed line leaves the hints incomplete, so these are all settled by the proofs.
  const big = log(2500);
  const copy = () => structuredClone(big.lines);
  const verifyLines = (lines: LeafLine[]) => {
    const text = [JSON.stringify(big.header), ...lines.map((l) => JSON.stringify(l))];
    return verifyAuditExport({ lines: () => text, checkpoint: big.at(2500), publicKeys: [keys.publicKey] });
  };

  it('deleted: a line removed after 2000 good leaves', async () => {
    const lines = copy();
    lines.splice(2001, 1);
    expect(failure(await verifyLines(lines))).toEqual({ reason: 'deleted', index: 2001 });
  });

  it('edited: an entry in the second stride, its hint rewritten to match', async () => {
    const lines = copy();
    const edited = { ...big.entries[1500]!, outcome: 'denied' };
    Object.assign(lines[1500]!, { entry: edited, leafHash: auditLeafHash(edited).toString('base64') });
    lines.splice(2400, 1);
    const result = await verifyLines(lines);
    expect(failure(result)).toEqual({ reason: 'edited', index: 1500 });
    expect(result).toMatchObject({ message: expect.stringContaining("nor the export's leafHash verifies") });
  });

  it('edited: the first leaf of a stride and the last before the missing line', async () => {
    for (const i of [0, 1023, 1024, 2047, 2399]) {
      const lines = copy();
      (lines[i]!.entry as AuditLeafEntry).actor = 'x';
      lines.splice(2400, 1);
      expect(failure(await verifyLines(lines))).toEqual({ reason: 'edited', index: i });
    }
  });

  it('bad proofs (at stride points too) do not make good entries look edited when a later proof covers them', async () => {
    const lines = copy();
    lines[1023]!.proof = lines[1022]!.proof;
    lines[2047]!.proof = [];
    lines[1500]!.proof = lines[1501]!.proof;
    lines.splice(2300, 1);
    expect(failure(await verifyLines(lines))).toEqual({ reason: 'deleted', index: 2300 });
  });

  it('an edit is still found behind a bad proof, and reported with what the proof says', async () => {
    const lines = copy();
    lines[300]!.proof = [];
    (lines[700]!.entry as AuditLeafEntry).actor = 'x';
    lines.splice(2300, 1);
    const result = await verifyLines(lines);
    expect(failure(result)).toEqual({ reason: 'edited', index: 700 });
    expect(result).toMatchObject({
      message: 'the entry does not hash to the leaf the checkpoint commits to',
    });
  });

  it('reordered: an entry moved from far ahead, and a copy of an earlier entry', async () => {
    const moved = copy();
    moved[1100]!.entry = big.lines[2200]!.entry;
    moved.splice(2450, 1);
    const result = await verifyLines(moved);
    expect(failure(result)).toEqual({ reason: 'reordered', index: 1100 });
    expect(result).toMatchObject({
      message: 'the entry at index 1100 is the one the log sealed at index 2200',
    });
    const copied = copy();
    copied[1800]!.entry = big.lines[30]!.entry;
    copied.splice(2450, 1);
    expect(failure(await verifyLines(copied))).toEqual({ reason: 'reordered', index: 1800 });
  });

  it('truncated: the last 100 lines removed', async () => {
    expect(failure(await verifyLines(copy().slice(0, 2400)))).toEqual({ reason: 'truncated', index: 2400 });
  });
});

describe('verifyAuditExport: a row sealed twice', () => {
  /** A log whose leaf `at` is the row of leaf `of` sealed again, with `changes` to its fields. */
  const sealedTwice = (size: number, of: number, at: number, changes: Partial<AuditLeafEntry> = {}) =>
    log(size, {
      entries: Array.from({ length: size }, (_, i) =>
        i === at ? { ...entryAt(of), ...changes } : entryAt(i),
      ),
    });

  it('duplicate: the row of leaf 3 sealed again at 7, every proof holding, reported at 7 after one more read', async () => {
    const l = sealedTwice(12, 3, 7);
    let reads = 0;
    const result = await verifyLog(l, {
      lines: function* () {
        reads++;
        yield* l.text();
      },
    });
    expect(failure(result)).toEqual({ reason: 'duplicate', index: 7 });
    expect(result.ok ? '' : result.message).toContain('index 3');
    expect(reads).toBe(2);
  });

  it('duplicate: the same id with other fields (written again later) is still one row twice', async () => {
    const l = sealedTwice(40, 0, 33, { occurredAt: '2026-12-03T09:30:00.000001Z', reason: 'again' });
    expect(failure(await verifyLog(l))).toEqual({ reason: 'duplicate', index: 33 });
  });

  it('duplicate: the earliest second sealing is the one reported', async () => {
    const l = log(20, {
      entries: Array.from({ length: 20 }, (_, i) =>
        i === 15 ? entryAt(2) : i === 11 ? entryAt(5) : entryAt(i),
      ),
    });
    expect(failure(await verifyLog(l))).toEqual({ reason: 'duplicate', index: 11 });
  });

  it('an export that changes between its two reads is malformed, not a verdict on either', async () => {
    const l = sealedTwice(12, 3, 7);
    const first = l.text();
    const second = [...first];
    second[5] = JSON.stringify({ ...l.lines[4]!, entry: { ...entryAt(4), reason: 'changed' } });
    let reads = 0;
    const result = await verifyLog(l, { lines: () => (reads++ === 0 ? first : second) });
    expect(failure(result)).toEqual({ reason: 'malformed', index: 4 });
    expect(result.ok ? '' : result.message).toBe('line 6 changed while the export was read');
  });

  it('a tampered export is reported as tampered first: a copy of an earlier entry that was never sealed is reordered', async () => {
    const l = log(12);
    l.lines[7]!.entry = { ...entryAt(3) };
    expect(failure(await verifyLog(l))).toEqual({ reason: 'reordered', index: 7 });
  });

  it('finds a row sealed twice across chunks of the leaf table (65 537 leaves, no proofs needed)', {
    timeout: 120_000,
  }, async () => {
    const size = 65_537;
    const result = await verifyAuditExport(bigExport(size, (i) => entryAt(i === size - 1 ? 4 : i)));
    expect(failure(result)).toEqual({ reason: 'duplicate', index: size - 1 });
  });
});

describe('verifyAuditExport: checkpoints held', () => {
  it('truncated: the checkpoint held is bigger than the export', async () => {
    const big = log(12);
    const exported = log(9, { entries: big.entries.slice(0, 9) });
    const result = await verifyLog(exported, { checkpoint: big.at(12) });
    expect(failure(result)).toEqual({ reason: 'truncated', index: 9 });
  });

  it('truncated: the previous checkpoint is bigger than the checkpoint', async () => {
    const l = log(12);
    const result = await verifyLog(l, { checkpoint: l.at(5), previous: l.at(8) });
    expect(failure(result)).toEqual({ reason: 'truncated', index: 5 });
  });

  it('fork: the previous checkpoint is of a different history', async () => {
    const l = log(12);
    const entries = l.entries.map((e, i) => (i === 2 ? { ...e, outcome: 'denied' } : e));
    const rewritten = log(12, { entries });
    const result = await verifyLog(l, { previous: rewritten.at(6) });
    expect(failure(result)).toEqual({ reason: 'fork', index: null });
    expect(result).toMatchObject({ message: expect.stringMatching(/^the log was rewritten before index 6/) });
  });

  it('fork: the checkpoint held is of a different history than the export', async () => {
    const l = log(12);
    const rewritten = log(12, { entries: l.entries.map((e, i) => (i === 10 ? { ...e, actor: 'x' } : e)) });
    expect(failure(await verifyLog(rewritten, { checkpoint: l.at(11) }))).toEqual({
      reason: 'fork',
      index: null,
    });
  });

  it('origin-mismatch: the export is of another tenant, signed with the same key', async () => {
    const otherOrigin = 'credreg/audit/0193a5b2-0000-7000-8000-000000000002';
    const l = log(5);
    const theirs = log(5, { origin: otherOrigin });
    expect(failure(await verifyLog(theirs, { checkpoint: l.at(5) }))).toEqual({
      reason: 'origin-mismatch',
      index: null,
    });
    const result = await verifyLog(l, { previous: theirs.at(3) });
    expect(failure(result)).toEqual({ reason: 'origin-mismatch', index: null });
    expect(result).toMatchObject({ message: expect.stringContaining(otherOrigin) });
  });
});

describe('verifyAuditExport: signatures', () => {
  it('bad-signature: the checkpoint held is signed by another key', async () => {
    const l = log(5);
    expect(failure(await verifyLog(l, { checkpoint: l.at(5, { key: other.privateKey }) }))).toEqual({
      reason: 'bad-signature',
      index: null,
    });
  });

  it('bad-signature: the previous checkpoint is signed by another key', async () => {
    const l = log(5);
    expect(failure(await verifyLog(l, { previous: l.at(2, { key: other.privateKey }) }))).toEqual({
      reason: 'bad-signature',
      index: null,
    });
  });

  it("bad-signature: the export's checkpoint tampered (its tree size changed, the signature kept)", async () => {
    const l = log(8);
    l.header.checkpoint = (l.header.checkpoint as string).replace(`${ORIGIN}\n8\n`, `${ORIGIN}\n7\n`);
    const result = await verifyLog(l, { checkpoint: l.at(7) });
    expect(failure(result)).toEqual({ reason: 'bad-signature', index: null });
    expect(result).toMatchObject({ message: expect.stringMatching(/^the export's checkpoint \(line 1\)/) });
  });

  it("bad-signature: the export's checkpoint re-signed by another key, with the edit it hides", async () => {
    const l = log(8);
    const entries = l.entries.map((e, i) => (i === 3 ? { ...e, actor: 'x' } : e));
    const forged = log(8, { entries, key: other.privateKey });
    expect(failure(await verifyLog(forged, { checkpoint: l.at(8) }))).toEqual({
      reason: 'bad-signature',
      index: null,
    });
  });

  it("bad-signature: the right key, but signed under a name that is not the origin's", async () => {
    const l = log(5);
    const misnamed = l.at(5, { keyName: 'credreg/audit/someone-else' });
    expect(failure(await verifyLog(l, { checkpoint: misnamed }))).toEqual({
      reason: 'bad-signature',
      index: null,
    });
  });

  it('Precondition: every key is an Ed25519 key.', async () => {
    const l = log(2);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    await expect(verifyLog(l, { publicKeys: [rsa] })).rejects.toThrow(TypeError);
  });
});

describe('verifyAuditExport: malformed exports', () => {
  const malformed = async (l: Log, lines: string[], index: number | null, message: RegExp) => {
    const result = await verifyLog(l, { lines: () => lines });
    expect(failure(result)).toEqual({ reason: 'malformed', index });
    expect(result).toMatchObject({ message: expect.stringMatching(message) });
  };

  it('a line that is not JSON', async () => {
    const l = log(8);
    const text = l.text();
    text[4] = text[4]!.slice(0, -1);
    await malformed(l, text, null, /^line 5 is not JSON$/);
  });

  it('an entry with a field too many (malformed, not edited: the leaf has exactly fifteen fields)', async () => {
    const l = log(8);
    (l.lines[6]!.entry as Record<string, unknown>).note = 'hi';
    await malformed(l, l.text(), 6, /^line 8: an entry has an unknown field "note"$/);
  });

  it('an entry with a field of the wrong type, or missing', async () => {
    const l = log(8);
    (l.lines[1]!.entry as Record<string, unknown>).version = '3';
    await malformed(l, l.text(), 1, /^line 3: an entry's "version" has the wrong type$/);
    const m = log(8);
    delete (m.lines[2]!.entry as Record<string, unknown>).sourceIp;
    await malformed(m, m.text(), 2, /^line 4: an entry has no "sourceIp"$/);
  });

  it('a leaf line with a key too many, a bad hash, a bad proof, a bad index', async () => {
    const cases: [(line: Record<string, unknown>) => void, number | null, RegExp][] = [
      [(line) => Object.assign(line, { extra: 1 }), null, /^line 4 is not a leaf/],
      [(line) => Object.assign(line, { leafHash: 'AAAA' }), 2, /^line 4: leafHash/],
      [(line) => Object.assign(line, { leafHash: `${'A'.repeat(42)}B=` }), 2, /^line 4: leafHash/],
      [(line) => Object.assign(line, { proof: ['AAAA'] }), 2, /^line 4: proof/],
      [(line) => Object.assign(line, { proof: 'x' }), 2, /^line 4: proof/],
      [(line) => Object.assign(line, { leafIndex: '2' }), null, /^line 4: leafIndex is not an integer/],
      [(line) => Object.assign(line, { leafIndex: 1.5 }), null, /^line 4: leafIndex is not an integer/],
      [
        (line) => Object.assign(line, { leafIndex: 8 }),
        null,
        /^line 4: leaf 8 is beyond the export's tree size 8/,
      ],
    ];
    for (const [change, index, message] of cases) {
      const l = log(8);
      change(l.lines[2] as unknown as Record<string, unknown>);
      await malformed(l, l.text(), index, message);
    }
  });

  it('a leaf line given twice', async () => {
    const l = log(8);
    l.lines.splice(3, 0, l.lines[2]!);
    await malformed(l, l.text(), 2, /^line 5 holds leaf 2 again$/);
  });

  it('an empty line before the end', async () => {
    const l = log(4);
    const text = l.text();
    text.splice(2, 0, '');
    await malformed(l, text, null, /^line 3 is empty$/);
  });

  it('no header, a header of another format, a header with a key too many', async () => {
    const l = log(3);
    await malformed(l, [], null, /no header/);
    const text = l.text();
    await malformed(
      l,
      [JSON.stringify({ ...l.header, format: 'credreg-audit-export/2' }), ...text.slice(1)],
      null,
      /^line 1: the format/,
    );
    await malformed(
      l,
      [JSON.stringify({ ...l.header, x: 1 }), ...text.slice(1)],
      null,
      /^line 1 is not a header/,
    );
    await malformed(l, ['[]', ...text.slice(1)], null, /^line 1 is not a header/);
  });

  it('a checkpoint that is not a signed note', async () => {
    const l = log(3);
    const result = await verifyLog(l, { checkpoint: 'hello\n' });
    expect(failure(result)).toEqual({ reason: 'malformed', index: null });
    expect(result).toMatchObject({ message: expect.stringMatching(/^the checkpoint: /) });
  });
});
