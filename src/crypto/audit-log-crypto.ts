import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import type { AuditLogCrypto } from '../core/ports.js';
import { formatCheckpoint, signNote } from './checkpoint-note.js';
import {
  consistencyPlan,
  EMPTY_ROOT,
  inclusionPlan,
  type NodeRef,
  nodeHash,
  planNodes,
  proofFromPlan,
  TreeBuilder,
} from './merkle.js';

/**
 * The nodes stored besides the leaves: perfect subtrees of 2^8 leaves and more. Sealing then
 * writes one node per 256 leaves instead of one per leaf; a proof's nodes below that level are
 * hashed, when the proof is made, from the leaves under them (at most 256 of a block, shared by
 * every proof of the block that one call makes).
 */
const STORED_LEVEL = 8;

const keyOf = (ref: NodeRef) => `${ref.level}:${ref.index}`;

/** The stored nodes a node is read from: itself, or the leaves under it. */
function storedRefs(ref: NodeRef): NodeRef[] {
  if (ref.level === 0 || ref.level >= STORED_LEVEL) return [ref];
  const width = 2 ** ref.level;
  return Array.from({ length: width }, (_, i) => ({ level: 0, index: ref.index * width + i }));
}

/**
 * The audit log's hashing and signing for the core: RFC 9162 trees (merkle.ts), the leaf
 * encoding (audit-leaf.ts) and Ed25519 signed checkpoints (checkpoint-note.ts).
 */
const crypto: AuditLogCrypto = {
  emptyRoot: EMPTY_ROOT,
  resume(size: number, frontier: readonly Uint8Array[]) {
    const tree = new TreeBuilder(size, frontier);
    return {
      get size() {
        return tree.size;
      },
      append: (leafHash: Uint8Array) => tree.append(leafHash, STORED_LEVEL),
      root: () => tree.root(),
      frontier: () => tree.frontier(),
    };
  },
  inclusionPlan,
  consistencyPlan,
  planNodes(plans) {
    const seen = new Set<string>();
    return planNodes(plans).flatMap((ref) =>
      storedRefs(ref).filter((r) => !seen.has(keyOf(r)) && seen.add(keyOf(r))),
    );
  },
  proofs(plans, nodes) {
    const byRef = new Map<string, Uint8Array>(nodes.map((n) => [keyOf(n), n.hash]));
    const hashOf = (ref: NodeRef): Uint8Array | undefined => {
      const known = byRef.get(keyOf(ref));
      if (known || ref.level === 0 || ref.level >= STORED_LEVEL) return known;
      const left = hashOf({ level: ref.level - 1, index: ref.index * 2 });
      const right = hashOf({ level: ref.level - 1, index: ref.index * 2 + 1 });
      if (!left || !right) return undefined;
      const made = nodeHash(left, right);
      byRef.set(keyOf(ref), made);
      return made;
    };
    return plans.map((plan) => proofFromPlan(plan, hashOf));
  },
  generateSigningKey() {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    return {
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  },
  signCheckpoint(checkpoint, privateKeyPem) {
    const body = formatCheckpoint({ ...checkpoint, rootHash: Buffer.from(checkpoint.rootHash) });
    return signNote(body, checkpoint.origin, createPrivateKey(privateKeyPem));
  },
};

/** (Frozen: one shared instance.) */
export const auditLogCrypto: AuditLogCrypto = Object.freeze(crypto);
