import type {
  AuditLeafEntry,
  AuditLogRepository,
  AuditNode,
  AuditSigningKeyRecord,
  AuditTreeState,
  SealPosition,
  StoredCheckpoint,
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

/** Hashes stored or sent concatenated (a frontier, largest subtree first; a batch's leaves), split. */
const splitHashes = (b: Buffer): Buffer[] =>
  Array.from({ length: b.length / HASH }, (_, i) => b.subarray(i * HASH, (i + 1) * HASH));

const STATE_COLUMNS = `tree_size, frontier, root_hash, sealed_below::text AS sealed_below, sealed_xid::text AS sealed_xid,
  sealed_id, pending::text[] AS pending, probe_below::text AS probe_below, sealed_at`;

/** A place in seal order: the writing transaction's id (decimal), then the row's id. */
type Key = { xid: string; id: string };
const ZERO_KEY: Key = { xid: '0', id: NIL_UUID };

/** The transactions of `running` below the key's: their rows, once committed, sort below it. */
const below = (running: string[], key: Key) => running.filter((xid) => BigInt(xid) < BigInt(key.xid));

/** The position's columns, set from parameter `$n` on. */
const positionSet = (n: number) =>
  `sealed_below = $${n}::xid8, sealed_xid = $${n + 1}::xid8, sealed_id = $${n + 2}::uuid, pending = $${n + 3}::xid8[],
   probe_below = $${n + 4}::xid8`;
const positionParams = (p: SealPosition) => [
  p.sealedBelow,
  p.after?.xid ?? null,
  p.after?.id ?? null,
  p.pending,
  p.probeBelow,
];

/**
 * The position after a read past the key up to `after`: the probe's range (`probeBelow`) ends
 * once nothing it covers can be read again, past the key or as a pending transaction's.
 */
const exactPosition = (
  sealedBelow: string,
  after: Key,
  running: string[],
  probeBelow: string | null,
): SealPosition => {
  const pending = below(running, after);
  const past = (xid: string) => probeBelow === null || BigInt(xid) >= BigInt(probeBelow);
  return {
    sealedBelow,
    after,
    pending,
    probeBelow: past(after.xid) && pending.every(past) ? null : probeBelow,
  };
};

/**
 * Whether the row `l` is not a leaf of the tenant ($1) yet. Runs have no index by row: every row id
 * of the tenant's runs is read into one hash (a hashed subplan, made on the first row that needs it
 * and only then), so the rows being checked keep their index order and a LIMIT stops the read.
 * The planner hashes a subplan only if it expects it to fit in `work_mem` ({@link PROBE_MEMORY}).
 */
const NOT_SEALED = (l: string) => `${l}.id NOT IN (
  SELECT u.id FROM audit_log_leaf_runs r CROSS JOIN LATERAL unnest(r.log_ids) AS u (id)
   WHERE r.tenant_id = $1 AND u.id IS NOT NULL)`;

/**
 * Room for that hash: about 60 bytes a leaf of the tenant's, for the statements that check rows
 * against the leaves (a probing walk, or reads below `probe_below`), never those of a plain batch.
 */
const PROBE_MEMORY = `SELECT set_config('work_mem', '512MB', true) AS probe_memory`;

/**
 * The tenant's ($1) leaves from index $2 to $3 − 1, and others of the runs holding them, each with
 * its index, row id and hash; the caller keeps the range and the order. Each run is read whole
 * once: a slice of a value stored out of line is fetched again for each leaf.
 */
export const LEAF_ROWS = `WITH runs AS MATERIALIZED (
    SELECT r.first_index, r.log_ids, r.leaf_hashes || ''::bytea AS hashes
      FROM audit_log_leaf_runs r
     WHERE r.tenant_id = $1 AND r.first_index < $3
       AND r.first_index >= coalesce((SELECT max(p.first_index) FROM audit_log_leaf_runs p
                                       WHERE p.tenant_id = $1 AND p.first_index <= $2), 0))
  SELECT r.first_index + u.n - 1 AS leaf_index, u.log_id,
         substring(r.hashes FROM (u.n::int - 1) * ${HASH} + 1 FOR ${HASH}) AS leaf_hash
    FROM runs r CROSS JOIN LATERAL unnest(r.log_ids) WITH ORDINALITY AS u (log_id, n)`;

const toState = (r: Row): AuditTreeState => ({
  treeSize: Number(r.tree_size),
  frontier: splitHashes(bytes(r.frontier)!),
  rootHash: bytes(r.root_hash)!,
  position: {
    sealedBelow: String(r.sealed_below),
    after: r.sealed_xid == null ? null : { xid: String(r.sealed_xid), id: String(r.sealed_id) },
    pending: (r.pending as unknown[]).map(String),
    probeBelow: r.probe_below == null ? null : String(r.probe_below),
  },
  sealedAt: r.sealed_at as Date,
});

/** A row's instant as text, to the microsecond and in UTC whatever the session's time zone. */
const OCCURRED_AT = (l: string) =>
  `to_char(${l}.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * The columns of a row as its leaf encodes it. `occurred_at` is read as text ({@link OCCURRED_AT}),
 * so the hash never depends on a driver's Date.
 */
export const ENTRY_COLUMNS = (l: string) => `${l}.tenant_id, ${l}.id, ${OCCURRED_AT(l)} AS occurred_at_text,
  ${l}.credential_id, ${l}.vault_id, ${l}.action, ${l}.outcome, ${l}.actor, ${l}.reason, ${l}.source_ip,
  ${l}.user_agent, ${l}.request_id, ${l}.client_request_id, ${l}.version, ${l}.error_code`;

/**
 * The row's leaf hash, made by the database: SHA-256(0x00 ‖ UTF-8 of the canonical JSON of its
 * fifteen fields), byte for byte what `auditLeafHash` (crypto/audit-leaf.ts) makes of the entry
 * read with {@link ENTRY_COLUMNS}, so the sealer reads 32 bytes a row instead of every field.
 * `to_json` of a text escapes as JSON.stringify does (`"`, `\`, the control characters, nothing
 * else; a database text holds no NUL and no lone surrogate); audit-seal-position.test.ts holds the
 * two to the same bytes over rows made to differ. A uuid, an integer and the instant's text have
 * nothing to escape, so they are written as they are (the uuids and the instant in quotes, the
 * integer bare). The object is one `format` (whose arguments are never read as a template) rather
 * than a chain of concatenations: this expression is most of the sealer's cost in the database.
 */
const LEAF_HASH = (l: string) => {
  const text = (column: string) => `coalesce(to_json(${l}.${column})::text, 'null')`;
  const plain = (column: string) => `coalesce('"' || ${l}.${column}::text || '"', 'null')`;
  const fields: Array<[string, string]> = [
    ['action', text('action')],
    ['actor', text('actor')],
    ['clientRequestId', text('client_request_id')],
    ['credentialId', plain('credential_id')],
    ['errorCode', text('error_code')],
    ['id', plain('id')],
    // An instant with no text form (infinity, written by hand) reads as null, which the entry
    // holds as the string "null": so it hashes here, rather than stopping the tenant's sealer.
    ['occurredAt', `'"' || coalesce(${OCCURRED_AT(l)}, 'null') || '"'`],
    ['outcome', text('outcome')],
    ['reason', text('reason')],
    ['requestId', text('request_id')],
    ['sourceIp', text('source_ip')],
    ['tenantId', plain('tenant_id')],
    ['userAgent', text('user_agent')],
    ['vaultId', plain('vault_id')],
    ['version', `coalesce(${l}.version::text, 'null')`],
  ];
  const template = `{${fields.map(([key]) => `"${key}":%s`).join(',')}}`;
  return `sha256('\\x00'::bytea || convert_to(format('${template}', ${fields.map(([, v]) => v).join(', ')}), 'UTF8'))`;
};

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
      `INSERT INTO audit_log_state (tenant_id, tree_size, frontier, root_hash, sealed_below, sealed_xid, sealed_id)
       VALUES ($1, 0, '\\x', $2, '0', '0', '${NIL_UUID}') ON CONFLICT (tenant_id) DO NOTHING`,
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

  async appendLeaves(position: SealPosition, limit: number, firstIndex: number) {
    // The snapshot first: the rows read after it (each statement with a newer one) are filtered
    // to the transactions it saw as ended, so what it saw running is exactly what comes in late.
    // Bitmap scans off for this transaction: the rows past the key are always the newest, which
    // the statistics do not know of yet, and the planner would fetch and sort every one of them
    // for each batch instead of walking the seal index for a batch's worth.
    const [snap] = await this.c.query<{
      snapshot: string;
      horizon: string;
      xmax: string;
      running: unknown[];
      foreign: boolean | null;
    }>(
      `SELECT set_config('enable_bitmapscan', 'off', true) AS bitmaps_off,
              pg_current_snapshot()::text AS snapshot,
              pg_snapshot_xmin(pg_current_snapshot())::text AS horizon,
              pg_snapshot_xmax(pg_current_snapshot())::text AS xmax,
              ARRAY(SELECT pg_snapshot_xip(pg_current_snapshot()))::text[] AS running,
              (SELECT max(l.seal_xid) FROM credential_access_log l WHERE l.tenant_id = $1)
                >= pg_snapshot_xmax(pg_current_snapshot()) AS foreign`,
      [this.tenantId],
    );
    const { snapshot, horizon } = snap!;
    const xmax = BigInt(snap!.xmax);
    const running = snap!.running.map(String);
    // Transaction ids at or past the next one to be assigned cannot be this cluster's: the log,
    // or the position, came from another (a restore). Until this cluster's counter has passed
    // them, the position cannot be kept exact, so every pass reads the whole log, probing.
    const start = position.after ?? { xid: position.sealedBelow, id: NIL_UUID };
    const restarted = snap!.foreign === true || BigInt(start.xid) >= xmax;
    // Said once, by the pass that turns to the start, not by each pass until the counter passes.
    const turned = restarted && !(position.after === null && position.sealedBelow === '0');
    if (position.after === null || restarted) {
      // No key yet (a tree sealed before migration 0013, or a restore in progress): the rows from
      // the mark, or from the start, checked against the leaves.
      const from = restarted ? ZERO_KEY : start;
      await this.c.query(PROBE_MEMORY);
      const walk = await this.#probingWalk(from, limit, snapshot, restarted);
      await this.#insertRun(firstIndex, walk.rows);
      const leafHashes = walk.rows.map((r) => r.leafHash);
      // A key is kept only from a walk that reached the end, by this cluster's snapshot alone:
      // then every row up to it is a leaf but those of the transactions still running.
      if (walk.truncated || restarted) {
        return {
          leafHashes,
          restarted: turned,
          position: {
            sealedBelow: restarted ? '0' : position.sealedBelow,
            after: null,
            pending: [],
            probeBelow: null,
          },
        };
      }
      // Rows the walk found sealed may be read again, past the key or as a pending transaction's
      // (one running now whose id a restored row also has): rows below this counter stay checked.
      return {
        leafHashes,
        restarted: false,
        position: exactPosition(horizon, walk.last ?? from, running, snap!.xmax),
      };
    }
    // Below `probeBelow`, rows may be leaves already (see exactPosition): checked, and only those.
    const { probeBelow } = position;
    if (probeBelow !== null) await this.c.query(PROBE_MEMORY);
    const hashes: Uint8Array[] = [];
    if (position.pending.length > 0) {
      // Every row of these transactions that has committed since, whole.
      const late = await this.#appendRows(
        `SELECT c.* FROM unnest($4::xid8[]) AS p (xid)
          CROSS JOIN LATERAL (SELECT * FROM credential_access_log c
                               WHERE c.tenant_id = $1 AND c.seal_xid = p.xid
                                 AND pg_visible_in_snapshot(c.seal_xid, $2::pg_snapshot)) AS c`,
        [snapshot, firstIndex, position.pending],
        probeBelow,
      );
      for (const h of late.hashes) hashes.push(h);
    }
    const rest = Math.max(0, limit - hashes.length);
    const walked =
      rest === 0
        ? { hashes: [], last: null }
        : await this.#appendRows(
            `SELECT * FROM credential_access_log c
              WHERE c.tenant_id = $1 AND (c.seal_xid, c.id) > ($4::xid8, $5::uuid)
                AND pg_visible_in_snapshot(c.seal_xid, $2::pg_snapshot)
              ORDER BY c.seal_xid, c.id LIMIT $6`,
            [snapshot, firstIndex + hashes.length, position.after.xid, position.after.id, rest],
            probeBelow,
          );
    for (const h of walked.hashes) hashes.push(h);
    return {
      leafHashes: hashes,
      restarted: false,
      position: exactPosition(horizon, walked.last ?? position.after, running, probeBelow),
    };
  }

  /**
   * Appends the rows `rowsSql` selects (its parameters from $4; $1 is the tenant, $2 the
   * snapshot, $3 the first leaf index) as one run of leaves, in seal order, in one statement: the
   * database hashes each row and writes the run, and answers the hashes, concatenated, and the
   * last key it read. A row of a transaction below `probeBelow` that is a leaf already is read
   * but left out.
   */
  async #appendRows(
    rowsSql: string,
    [snapshot, first, ...params]: [string, number, ...unknown[]],
    probeBelow: string | null,
  ) {
    const checked =
      probeBelow === null ? '' : ` WHERE (c.seal_xid >= $${params.length + 4}::xid8 OR ${NOT_SEALED('c')})`;
    const [r] = await this.c.query<{ hashes: unknown; last_xid: string | null; last_id: string | null }>(
      `WITH picked AS (${rowsSql}),
       batch AS (
         SELECT c.seal_xid, c.id, ${LEAF_HASH('c')} AS leaf_hash,
                row_number() OVER (ORDER BY c.seal_xid, c.id) - 1 AS n
           FROM picked AS c${checked}
       ), appended AS (
         INSERT INTO audit_log_leaf_runs (tenant_id, first_index, log_ids, leaf_hashes)
         SELECT $1, $3::bigint, array_agg(id ORDER BY n), string_agg(leaf_hash, ''::bytea ORDER BY n)
           FROM batch HAVING count(*) > 0
       ), last AS (
         SELECT seal_xid::text AS xid, id FROM picked ORDER BY seal_xid DESC, id DESC LIMIT 1
       )
       SELECT (SELECT encode(string_agg(leaf_hash, ''::bytea ORDER BY n), 'hex') FROM batch) AS hashes,
              (SELECT xid FROM last) AS last_xid, (SELECT id FROM last) AS last_id`,
      [this.tenantId, snapshot, first, ...params, ...(probeBelow === null ? [] : [probeBelow])],
    );
    // As hex text, decoded here: PGlite's bytea parser goes byte by byte in JavaScript.
    const all = Buffer.from(r?.hashes == null ? '' : String(r.hashes), 'hex');
    return {
      hashes: splitHashes(all),
      last: r?.last_xid == null ? null : { xid: String(r.last_xid), id: String(r.last_id) },
    };
  }

  /**
   * Up to `limit` rows past `from` in seal order, of the transactions `snapshot` saw as ended
   * (`restarted`: and those past its counter, another cluster's), that are not leaves yet, with
   * their leaf hashes; `last` is the key up to which every row was looked at, `truncated`
   * whether the limit stopped the walk.
   */
  async #probingWalk(from: Key, limit: number, snapshot: string, restarted: boolean) {
    const params = [this.tenantId, from.xid, from.id, snapshot, restarted];
    const range = `l.tenant_id = $1 AND (l.seal_xid, l.id) > ($2::xid8, $3::uuid)
      AND (pg_visible_in_snapshot(l.seal_xid, $4::pg_snapshot) OR ($5 AND l.seal_xid >= pg_snapshot_xmax($4::pg_snapshot)))`;
    const page = await this.c.query(
      `SELECT l.id, l.seal_xid::text AS seal_xid, ${LEAF_HASH('l')} AS leaf_hash
         FROM credential_access_log l
        WHERE ${range} AND ${NOT_SEALED('l')}
        ORDER BY l.seal_xid, l.id
        LIMIT $6`,
      [...params, limit],
    );
    const rows = page.map((r) => ({ logId: String(r.id), leafHash: bytes(r.leaf_hash)! }));
    if (page.length === limit) {
      const lastRow = page.at(-1)!;
      return { rows, last: { xid: String(lastRow.seal_xid), id: String(lastRow.id) }, truncated: true };
    }
    // To the end: every row of the range was looked at, the last of them a leaf already or not.
    const [end] = await this.c.query<{ xid: string; id: string }>(
      `SELECT l.seal_xid::text AS xid, l.id FROM credential_access_log l WHERE ${range}
        ORDER BY l.seal_xid DESC, l.id DESC LIMIT 1`,
      params,
    );
    return { rows, last: end ? { xid: String(end.xid), id: String(end.id) } : null, truncated: false };
  }

  /** Leaves from `first` on, consecutive, as one run. */
  async #insertRun(first: number, leaves: Array<{ logId: string; leafHash: Uint8Array }>) {
    if (leaves.length === 0) return;
    await this.c.query(
      `INSERT INTO audit_log_leaf_runs (tenant_id, first_index, log_ids, leaf_hashes)
       VALUES ($1, $2, $3::uuid[], $4::bytea)`,
      [this.tenantId, first, leaves.map((l) => l.logId), Buffer.concat(leaves.map((l) => l.leafHash))],
    );
  }

  async movePosition(position: SealPosition) {
    await this.c.query(`UPDATE audit_log_state SET ${positionSet(2)} WHERE tenant_id = $1`, [
      this.tenantId,
      ...positionParams(position),
    ]);
  }

  async appendNodes(nodes: AuditNode[], state: Omit<AuditTreeState, 'sealedAt'>) {
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
      `UPDATE audit_log_state SET tree_size = $2, frontier = $3, root_hash = $4, sealed_at = now(), ${positionSet(5)}
        WHERE tenant_id = $1`,
      [
        this.tenantId,
        state.treeSize,
        Buffer.concat(state.frontier),
        Buffer.from(state.rootHash),
        ...positionParams(state.position),
      ],
    );
  }

  async nodes(refs: ReadonlyArray<{ level: number; index: number }>) {
    if (refs.length === 0) return [];
    const rows = await this.c.query(
      `SELECT q.level, q.node_index,
              coalesce(n.hash, CASE WHEN q.node_index < f.first_index + length(f.leaf_hashes) / ${HASH} THEN
                substring(f.leaf_hashes FROM (q.node_index - f.first_index)::int * ${HASH} + 1 FOR ${HASH}) END) AS hash
         FROM unnest($2::smallint[], $3::bigint[]) AS q(level, node_index)
         LEFT JOIN audit_log_nodes n ON q.level > 0 AND n.tenant_id = $1 AND n.level = q.level
                                    AND n.node_index = q.node_index
         -- The run a leaf is in: the last to start at or before it (one probe of the key).
         LEFT JOIN LATERAL (
           SELECT r.first_index, r.leaf_hashes FROM audit_log_leaf_runs r
            WHERE q.level = 0 AND r.tenant_id = $1 AND r.first_index <= q.node_index
            ORDER BY r.first_index DESC LIMIT 1) AS f ON true`,
      [this.tenantId, refs.map((r) => r.level), refs.map((r) => r.index)],
    );
    return rows
      .filter((r) => r.hash != null)
      .map((r) => ({ level: Number(r.level), index: Number(r.node_index), hash: bytes(r.hash)! }));
  }

  async leaves(from: number, to: number) {
    const rows = await this.c.query(
      `SELECT f.leaf_index, f.leaf_hash, l.id IS NOT NULL AS present, ${ENTRY_COLUMNS('l')}
         FROM (${LEAF_ROWS}) AS f
         LEFT JOIN credential_access_log l ON l.tenant_id = $1 AND l.id = f.log_id
        WHERE f.leaf_index >= $2 AND f.leaf_index < $3
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
