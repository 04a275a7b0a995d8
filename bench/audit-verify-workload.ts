/**
 * Offline verification throughput: `verifyAuditExport` over a synthetic export of `rows` leaves
 * (docs/audit.md, "Formats"), read from a temporary file line by line as `credreg audit verify`
 * reads it. The same whatever the backend: no database is involved.
 *
 * The export is made here, not by a registry (sealing a million rows would take the bench minutes):
 * entries shaped like the rows HTTP reveals write in audit-leaf.ts's encoding (checked), the tree
 * by merkle.ts's TreeBuilder with every node it completes kept, proofs from those nodes as
 * inclusionPlan and proofFromPlan make them, and a checkpoint signed as checkpoint-note.ts signs one.
 * That is setup, and not timed; samples are checked against audit-leaf.ts, inclusionPlan and
 * verifyInclusion first, so a broken export fails here, not in the timing.
 */
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { auditLogOrigin } from '../src/core/audit-log.js';
import { newId } from '../src/core/ids.js';
import { type AuditLeafEntry, auditLeafHash, canonicalAuditLeaf } from '../src/crypto/audit-leaf.js';
import { AUDIT_EXPORT_FORMAT, verifyAuditExport } from '../src/crypto/audit-log-verifier.js';
import { formatCheckpoint, signNote } from '../src/crypto/checkpoint-note.js';
import {
  HASH_SIZE,
  inclusionPlan,
  leafHash,
  type NodeRef,
  proofFromPlan,
  rangeNodes,
  TreeBuilder,
  verifyInclusion,
} from '../src/crypto/merkle.js';

export interface AuditVerifyBenchResult {
  /** Leaves in the export. */
  rows: number;
  /** Size of the export file. */
  bytes: number;
  /** Wall time of one `verifyAuditExport` over the file. */
  seconds: number;
  leavesPerSec: number;
}

/** Lines buffered before one write to the file: a few megabytes. */
const WRITE_CHUNK = 4 << 20;

export async function measureAuditVerify(
  rows: number,
  progress: (message: string) => void,
): Promise<AuditVerifyBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'credreg-bench-audit-'));
  try {
    const file = join(dir, 'export.jsonl');
    const t0 = performance.now();
    const { checkpoint, publicKey, bytes } = writeSyntheticExport(file, rows);
    progress(
      `audit verify: wrote a ${rows}-leaf export (${(bytes / 2 ** 20).toFixed(0)} MiB) in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s (setup)`,
    );
    const t1 = performance.now();
    const result = await verifyAuditExport({
      lines: () => fileLines(file),
      checkpoint,
      publicKeys: [publicKey],
    });
    const seconds = (performance.now() - t1) / 1000;
    if (!result.ok) {
      throw new Error(
        `the synthetic export did not verify: ${result.reason} at ${result.index}: ${result.message}`,
      );
    }
    if (result.entries !== rows) throw new Error(`verified ${result.entries} entries of ${rows}`);
    progress(
      `audit verify: ${rows} leaves in ${seconds.toFixed(2)} s, ${(rows / seconds).toFixed(0)} leaves/s`,
    );
    return { rows, bytes, seconds, leavesPerSec: rows / seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** As `credreg audit verify --log` reads its file (src/cli/audit-verify-command.ts). */
async function* fileLines(file: string): AsyncGenerator<string> {
  const input = createReadStream(file, 'utf8');
  try {
    yield* createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  } finally {
    input.destroy();
  }
}

/**
 * Writes the export: header, then one line per leaf with its proof in the tree of `rows` leaves.
 * Every node is kept (level by level, 32 bytes each, about 64 bytes a leaf in all) and its base64
 * made once, so a proof is some lookups, not some hashes.
 */
function writeSyntheticExport(file: string, rows: number) {
  const tenantId = newId();
  const log = syntheticLog(tenantId, rows);
  const levels: Buffer[] = [Buffer.allocUnsafe(rows * HASH_SIZE)];
  for (let n = Math.floor(rows / 2); n > 0; n = Math.floor(n / 2))
    levels.push(Buffer.allocUnsafe(n * HASH_SIZE));
  const tree = new TreeBuilder();
  for (let i = 0; i < rows; i++) {
    const leaf = leafHash(Buffer.from(log.json(i), 'utf8'));
    leaf.copy(levels[0]!, i * HASH_SIZE);
    for (const node of tree.append(leaf)) node.hash.copy(levels[node.level]!, node.index * HASH_SIZE);
  }
  const nodeAt = (ref: NodeRef) =>
    levels[ref.level]?.subarray(ref.index * HASH_SIZE, (ref.index + 1) * HASH_SIZE);
  const base64 = levels.map((level) => new Array<string | undefined>(level.length / HASH_SIZE));
  const nodeBase64 = (level: number, index: number) => {
    const cache = base64[level]!;
    cache[index] ??= nodeAt({ level, index })!.toString('base64');
    return cache[index]!;
  };
  // A proof element spanning several stored nodes (on the tree's right edge) is shared by many leaves.
  const folded = new Map<string, string>();
  const element = (refs: NodeRef[]) => {
    if (refs.length === 1) return nodeBase64(refs[0]!.level, refs[0]!.index);
    const key = `${refs[0]!.level}:${refs[0]!.index}:${refs.length}`;
    let b64 = folded.get(key);
    if (b64 === undefined) {
      b64 = proofFromPlan([refs], nodeAt)[0]!.toString('base64');
      folded.set(key, b64);
    }
    return b64;
  };
  const planned = (i: number) => inclusionPlan(i, rows).map(element);
  // The path of leaf i is its siblings inside the perfect subtree of rangeNodes(0, rows) that holds
  // it, then what lies above that subtree, which is the same for all its leaves: so inclusionPlan
  // runs once a subtree (and on a sample below, to check the shortcut), and the rest is lookups.
  const pieces = rangeNodes(0, rows).map((piece) => {
    const first = piece.index * 2 ** piece.level;
    return {
      level: piece.level,
      first,
      end: first + 2 ** piece.level,
      above: planned(first).slice(piece.level),
    };
  });
  const proof = (i: number): string[] => {
    const piece = pieces.find((p) => i < p.end)!;
    const path: string[] = [];
    for (let level = 0; level < piece.level; level++)
      path.push(nodeBase64(level, Math.floor(i / 2 ** level) ^ 1));
    return path.concat(piece.above);
  };
  const sample = [
    ...pieces.flatMap((p) => [p.first, p.end - 1]),
    ...Array.from({ length: 100 }, (_, k) => Math.floor((k * rows) / 100)),
  ];
  for (const i of sample) {
    if (proof(i).join() !== planned(i).join())
      throw new Error(`the synthetic export's proof of leaf ${i} is not inclusionPlan's`);
  }

  // The leaf encoding is audit-leaf.ts's, not this file's: checked on a sample.
  for (let i = 0; i < rows; i += i < 100 ? 1 : 9973) {
    const leaf = auditLeafHash(log.entry(i));
    if (log.json(i) !== canonicalAuditLeaf(log.entry(i)) || !leaf.equals(nodeAt({ level: 0, index: i })!)) {
      throw new Error(`the synthetic export's entry ${i} is not in audit-leaf.ts's encoding`);
    }
  }
  const rootHash = tree.root();
  for (const i of [0, Math.floor(rows / 3), rows - 1]) {
    const ok = verifyInclusion(
      nodeAt({ level: 0, index: i })!,
      i,
      rows,
      proof(i).map((p) => Buffer.from(p, 'base64')),
      rootHash,
    );
    if (!ok) throw new Error(`the synthetic export's proof of leaf ${i} does not verify`);
  }
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const origin = auditLogOrigin(tenantId);
  const body = formatCheckpoint({ origin, treeSize: rows, rootHash, time: new Date() });
  const checkpoint = signNote(body, origin, privateKey);

  const fd = openSync(file, 'w');
  let bytes = 0;
  try {
    let chunk = `${JSON.stringify({ format: AUDIT_EXPORT_FORMAT, checkpoint })}\n`;
    for (let i = 0; i < rows; i++) {
      // The entry as its canonical JSON: the fifteen fields, which is what an exported entry holds.
      chunk +=
        `{"leafIndex":${i},"leafHash":"${nodeBase64(0, i)}",` +
        `"entry":${log.json(i)},"proof":[${rows > 1 ? `"${proof(i).join('","')}"` : ''}]}\n`;
      if (chunk.length >= WRITE_CHUNK) {
        bytes += writeSync(fd, chunk);
        chunk = '';
      }
    }
    bytes += writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  return { checkpoint, publicKey, bytes };
}

/**
 * Entry `i` of the log, made again on each call (a million entries are not kept): reveals over
 * HTTP of 200 credentials of one vault, a microsecond apart, with the request's address, user
 * agent and id filled in as an HTTP reveal's row has them. `json(i)` is `canonicalAuditLeaf(entry(i))`
 * written out, since none of these values needs escaping: a tenth of the cost, checked against it.
 */
function syntheticLog(tenantId: string, rows: number) {
  const vaultId = newId();
  const credentials = Array.from({ length: 200 }, newId);
  const start = Date.now() * 1000 - rows;
  const entry = (i: number): AuditLeafEntry => {
    const micros = start + i;
    const at = new Date(Math.floor(micros / 1000)).toISOString();
    const hex = i.toString(16).padStart(12, '0');
    return {
      action: 'reveal',
      actor: 'token:bench',
      clientRequestId: null,
      credentialId: credentials[i % credentials.length]!,
      errorCode: null,
      id: `0190a1b2-c3d4-7e5f-8a9b-${hex}`,
      occurredAt: `${at.slice(0, -1)}${String(micros % 1000).padStart(3, '0')}Z`,
      outcome: 'granted',
      reason: 'deploy',
      requestId: `req-${hex}`,
      sourceIp: '10.0.0.17',
      tenantId,
      userAgent: 'credreg-cli/0.1.0',
      vaultId,
      version: 1,
    };
  };
  const json = (i: number): string => {
    const e = entry(i);
    return (
      `{"action":"${e.action}","actor":"${e.actor}","clientRequestId":null,"credentialId":"${e.credentialId}",` +
      `"errorCode":null,"id":"${e.id}","occurredAt":"${e.occurredAt}","outcome":"${e.outcome}",` +
      `"reason":"${e.reason}","requestId":"${e.requestId}","sourceIp":"${e.sourceIp}","tenantId":"${e.tenantId}",` +
      `"userAgent":"${e.userAgent}","vaultId":"${e.vaultId}","version":${e.version}}`
    );
  };
  return { entry, json };
}
