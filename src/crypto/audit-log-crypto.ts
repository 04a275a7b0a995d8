import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import type { AuditLogCrypto } from '../core/ports.js';
import { auditLeafHash } from './audit-leaf.js';
import { formatCheckpoint, signNote } from './checkpoint-note.js';
import {
  consistencyPlan,
  EMPTY_ROOT,
  inclusionPlan,
  planNodes,
  proofFromPlan,
  TreeBuilder,
} from './merkle.js';

/**
 * The audit log's hashing and signing for the core: RFC 9162 trees (merkle.ts), the leaf
 * encoding (audit-leaf.ts) and Ed25519 signed checkpoints (checkpoint-note.ts).
 */
const crypto: AuditLogCrypto = {
  emptyRoot: EMPTY_ROOT,
  leafHash: auditLeafHash,
  resume: (size: number, frontier: readonly Uint8Array[]) => new TreeBuilder(size, frontier),
  inclusionPlan,
  consistencyPlan,
  planNodes,
  proof(plan, nodes) {
    const byRef = new Map(nodes.map((n) => [`${n.level}:${n.index}`, n.hash]));
    return proofFromPlan(plan, (ref) => byRef.get(`${ref.level}:${ref.index}`));
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
