import type {
  AuditLeafEntry,
  AuditLogRepository,
  AuditNode,
  AuditSigningKeyRecord,
  AuditTreeState,
  StoredCheckpoint,
  UnsealedRow,
  WrappedKey,
} from '../../core/ports.js';
import { bytes } from '../rows.js';
import {
  listOwnKeys,
  OWN_KEY_COLUMNS,
  ownKeyParams,
  replaceOwnKeyWrapping,
  wrappedKeyOf,
} from './own-key-columns.js';
import { TenantRepository } from './tenant-repository.js';

type Row = Record<string, unknown>;

const HASH = 32;
/** Below every UUIDv7: the keyset start of a seal-order walk. */
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** A frontier is stored as its hashes concatenated, largest subtree first. */
const splitHashes = (b: Buffer): Buffer[] =>
  Array.from({ length: b.length / HASH }, (_, i) => b.subarray(i * HASH, (i + 1) * HASH));

const STATE_COLUMNS = 'tree_size, frontier, root_hash, sealed_below::text AS sealed_below, sealed_at';

const toState = (r: Row): AuditTreeState => ({
  treeSize: Number(r.tree_size),
  frontier: splitHashes(bytes(r.frontier)!),
  rootHash: bytes(r.root_hash)!,
  sealedBelow: String(r.sealed_below),
  sealedAt: r.sealed_at as Date,
});

/**
 * The columns of a row as its leaf encodes it. `occurred_at` is read as text, to the microsecond
 * and in UTC whatever the session's time zone, so the hash never depends on a driver's Date.
 */
export const ENTRY_COLUMNS = (l: string) => `${l}.tenant_id, ${l}.id,
  to_char(${l}.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at_text,
  ${l}.credential_id, ${l}.vault_id, ${l}.action, ${l}.outcome, ${l}.actor, ${l}.reason, ${l}.source_ip,
  ${l}.user_agent, ${l}.request_id, ${l}.client_request_id, ${l}.version, ${l}.error_code`;

const nullable = (v: unknown) => (v == null ? null : String(v));

export const toEntry = (r: Row): AuditLeafEntry => ({
  action: String(r.action),
  actor: String(r.actor),
  clientRequestId: nullable(r.client_request_id),
  credentialId: nullable(r.credential_id),
  errorCode: nullable(r.error_code),
  id: String(r.id),
  occurredAt: String(r.occurred_at_text),
  outcome: String(r.outcome),
  reason: nullable(r.reason),
  requestId: nullable(r.request_id),
  sourceIp: nullable(r.source_ip),
  tenantId: String(r.tenant_id),
  userAgent: nullable(r.user_agent),
  vaultId: nullable(r.vault_id),
  version: r.version == null ? null : Number(r.version),
});

const toKey = (r: Row): AuditSigningKeyRecord => ({
  id: String(r.id),
  publicKeyPem: String(r.public_key_pem),
  wrappedKey: wrappedKeyOf(r),
  privateKeyCiphertext: bytes(r.private_key_ciphertext)!,
  validFrom: r.valid_from as Date,
  validTo: (r.valid_to as Date | null) ?? null,
});

const toCheckpoint = (r: Row): StoredCheckpoint => ({
  treeSize: Number(r.tree_size),
  rootHash: bytes(r.root_hash)!,
  keyId: String(r.key_id),
  signedAt: r.signed_at as Date,
  note: String(r.note),
});

const KEY_COLUMNS = `id, public_key_pem, ${OWN_KEY_COLUMNS}, private_key_ciphertext, valid_from, valid_to`;
const CHECKPOINT_COLUMNS = 'tree_size, root_hash, key_id, signed_at, note';

export class SqlAuditLogRepository extends TenantRepository implements AuditLogRepository {
  async lockState(emptyRoot: Uint8Array, wait: boolean) {
    await this.c.query(
      `INSERT INTO audit_log_state (tenant_id, tree_size, frontier, root_hash, sealed_below)
       VALUES ($1, 0, '\\x', $2, '0') ON CONFLICT (tenant_id) DO NOTHING`,
      [this.tenantId, Buffer.from(emptyRoot)],
    );
    const [r] = await this.c.query(
      `SELECT ${STATE_COLUMNS} FROM audit_log_state WHERE tenant_id = $1 FOR UPDATE${wait ? '' : ' SKIP LOCKED'}`,
      [this.tenantId],
    );
    return r ? toState(r) : null;
  }

  async state() {
    const [r] = await this.c.query(`SELECT ${STATE_COLUMNS} FROM audit_log_state WHERE tenant_id = $1`, [
      this.tenantId,
    ]);
    return r ? toState(r) : null;
  }

  async unsealed(from: string, limit: number) {
    // The horizon first: every transaction below it had ended then, so the reads after it (each
    // with a newer snapshot) see all of their rows. A mark at or past the next transaction id to
    // be assigned cannot be this cluster's: then the rows are read from 0.
    const [snap] = await this.c.query<{ horizon: string; behind: boolean }>(
      `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon,
              $1::xid8 >= pg_snapshot_xmax(pg_current_snapshot()) AS behind`,
      [from],
    );
    const restarted = snap!.behind === true;
    // Keyset pages in seal order, so the index is walked and stops at the page's end; the rows
    // already sealed (above the mark, sealed by an earlier pass) are left out by a probe of the
    // leaves' unique key, not an anti-join the planner may turn into a scan of the whole log.
    const rows: UnsealedRow[] = [];
    let after = { xid: restarted ? '0' : from, id: NIL_UUID };
    while (rows.length < limit) {
      const page = await this.c.query(
        `SELECT ${ENTRY_COLUMNS('l')}, l.seal_xid::text AS seal_xid
           FROM credential_access_log l
          WHERE l.tenant_id = $1 AND (l.seal_xid, l.id) > ($2::xid8, $3::uuid)
          ORDER BY l.seal_xid, l.id
          LIMIT $4`,
        [this.tenantId, after.xid, after.id, limit],
      );
      if (page.length === 0) break;
      const sealed = new Set(
        (
          await this.c.query<{ log_id: string }>(
            'SELECT log_id FROM audit_log_leaves WHERE tenant_id = $1 AND log_id = ANY($2::uuid[])',
            [this.tenantId, page.map((r) => r.id)],
          )
        ).map((r) => String(r.log_id)),
      );
      for (const r of page) {
        if (rows.length === limit) break;
        if (!sealed.has(String(r.id))) rows.push({ entry: toEntry(r), sealXid: String(r.seal_xid) });
      }
      if (page.length < limit) break;
      const last = page.at(-1)!;
      after = { xid: String(last.seal_xid), id: String(last.id) };
    }
    return { horizon: snap!.horizon, restarted, rows };
  }

  async moveMark(sealedBelow: string) {
    await this.c.query('UPDATE audit_log_state SET sealed_below = $2::xid8 WHERE tenant_id = $1', [
      this.tenantId,
      sealedBelow,
    ]);
  }

  async appendSealed(
    leaves: Array<{ leafIndex: number; logId: string; leafHash: Uint8Array }>,
    nodes: AuditNode[],
    state: Omit<AuditTreeState, 'sealedAt'>,
  ) {
    await this.c.query(
      `INSERT INTO audit_log_leaves (tenant_id, leaf_index, log_id, leaf_hash)
       SELECT $1, * FROM unnest($2::bigint[], $3::uuid[], $4::bytea[])`,
      [
        this.tenantId,
        leaves.map((l) => l.leafIndex),
        leaves.map((l) => l.logId),
        leaves.map((l) => Buffer.from(l.leafHash)),
      ],
    );
    if (nodes.length > 0) {
      await this.c.query(
        `INSERT INTO audit_log_nodes (tenant_id, level, node_index, hash)
         SELECT $1, * FROM unnest($2::smallint[], $3::bigint[], $4::bytea[])`,
        [
          this.tenantId,
          nodes.map((n) => n.level),
          nodes.map((n) => n.index),
          nodes.map((n) => Buffer.from(n.hash)),
        ],
      );
    }
    await this.c.query(
      `UPDATE audit_log_state SET tree_size = $2, frontier = $3, root_hash = $4, sealed_below = $5::xid8,
              sealed_at = now()
        WHERE tenant_id = $1`,
      [
        this.tenantId,
        state.treeSize,
        Buffer.concat(state.frontier),
        Buffer.from(state.rootHash),
        state.sealedBelow,
      ],
    );
  }

  async nodes(refs: ReadonlyArray<{ level: number; index: number }>) {
    if (refs.length === 0) return [];
    const rows = await this.c.query(
      `SELECT q.level, q.node_index, coalesce(n.hash, f.leaf_hash) AS hash
         FROM unnest($2::smallint[], $3::bigint[]) AS q(level, node_index)
         LEFT JOIN audit_log_nodes n ON q.level > 0 AND n.tenant_id = $1 AND n.level = q.level
                                    AND n.node_index = q.node_index
         LEFT JOIN audit_log_leaves f ON q.level = 0 AND f.tenant_id = $1 AND f.leaf_index = q.node_index`,
      [this.tenantId, refs.map((r) => r.level), refs.map((r) => r.index)],
    );
    return rows
      .filter((r) => r.hash != null)
      .map((r) => ({ level: Number(r.level), index: Number(r.node_index), hash: bytes(r.hash)! }));
  }

  async leaves(from: number, to: number) {
    const rows = await this.c.query(
      `SELECT f.leaf_index, f.leaf_hash, l.id IS NOT NULL AS present, ${ENTRY_COLUMNS('l')}
         FROM audit_log_leaves f
         LEFT JOIN credential_access_log l ON l.tenant_id = f.tenant_id AND l.id = f.log_id
        WHERE f.tenant_id = $1 AND f.leaf_index >= $2 AND f.leaf_index < $3
        ORDER BY f.leaf_index`,
      [this.tenantId, from, to],
    );
    return rows.map((r) => ({
      leafIndex: Number(r.leaf_index),
      leafHash: bytes(r.leaf_hash)!,
      entry: r.present ? toEntry(r) : null,
    }));
  }

  async currentSigningKey() {
    const [r] = await this.c.query(
      `SELECT ${KEY_COLUMNS} FROM audit_signing_keys WHERE tenant_id = $1 AND valid_to IS NULL`,
      [this.tenantId],
    );
    return r ? toKey(r) : null;
  }

  async signingKeys() {
    const rows = await this.c.query(
      `SELECT ${KEY_COLUMNS} FROM audit_signing_keys WHERE tenant_id = $1 ORDER BY valid_from, id`,
      [this.tenantId],
    );
    return rows.map(toKey);
  }

  async retireSigningKey(id: string, at: Date) {
    const rows = await this.c.query(
      `UPDATE audit_signing_keys SET valid_to = $3 WHERE tenant_id = $1 AND id = $2 AND valid_to IS NULL RETURNING id`,
      [this.tenantId, id, at],
    );
    return rows.length === 1;
  }

  async insertSigningKey(k: AuditSigningKeyRecord) {
    const rows = await this.c.query(
      `INSERT INTO audit_signing_keys (tenant_id, id, public_key_pem, ${OWN_KEY_COLUMNS}, private_key_ciphertext,
                                       valid_from, valid_to)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (tenant_id) WHERE valid_to IS NULL DO NOTHING RETURNING id`,
      [
        this.tenantId,
        k.id,
        k.publicKeyPem,
        ...ownKeyParams(k.wrappedKey),
        Buffer.from(k.privateKeyCiphertext),
        k.validFrom,
        k.validTo,
      ],
    );
    return rows.length === 1;
  }

  async latestCheckpoint() {
    const [r] = await this.c.query(
      `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tenant_id = $1
        ORDER BY tree_size DESC, signed_at DESC LIMIT 1`,
      [this.tenantId],
    );
    return r ? toCheckpoint(r) : null;
  }

  async insertCheckpoint(cp: StoredCheckpoint) {
    const rows = await this.c.query(
      `INSERT INTO audit_checkpoints (tenant_id, tree_size, key_id, root_hash, signed_at, note)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING tree_size`,
      [this.tenantId, cp.treeSize, cp.keyId, Buffer.from(cp.rootHash), cp.signedAt, cp.note],
    );
    return rows.length === 1;
  }

  listKeys(limit: number, afterId?: string) {
    return listOwnKeys(this.c, 'audit_signing_keys', this.tenantId, limit, afterId);
  }

  replaceWrapping(id: string, from: WrappedKey, to: WrappedKey) {
    return replaceOwnKeyWrapping(this.c, 'audit_signing_keys', this.tenantId, id, from, to);
  }
}
