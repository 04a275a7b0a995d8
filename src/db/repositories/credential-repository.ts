import type {
  CredentialFilters,
  CredentialInsert,
  CredentialPatch,
  CredentialRepository,
  SealedCredential,
} from '../../core/ports.js';
import { bytes, toCredential, toRevealState, toVaultKeyRecord } from '../rows.js';
import { TenantRepository } from './tenant-repository.js';

const CREDENTIAL_COLUMNS = `c.tenant_id, c.id, c.vault_id, c.name, c.type, c.metadata, c.current_version, c.expires_at,
  c.rotation_schedule, c.is_active, c.created_by, c.created_at, c.updated_at, c.last_rotated_at, c.deleted_at, c.purge_after,
  c.rotation, c.next_rotation_at, c.rotation_state, c.rotation_attempts, c.last_rotation_error, c.pending_version,
  c.previous_version, c.rotation_lease_until, c.expiry_alerts, c.last_expiry_alert,
  (SELECT ev.expiry_alerts FROM credential_vaults ev WHERE ev.tenant_id = c.tenant_id AND ev.id = c.vault_id)
    AS vault_expiry_alerts`;
/** What a reveal needs of the credential: no more, since every column is parsed on every reveal. */
const REVEAL_COLUMNS =
  'c.id, c.vault_id, c.name, c.type, c.current_version, c.expires_at, c.is_active, c.deleted_at, c.purge_after, ' +
  "c.pending_version, c.previous_version, c.next_rotation_at, c.rotation_state, c.rotation->'rotator'->>'type' AS rotator_type";

function toSealed(row: Record<string, unknown>): SealedCredential {
  const credential = toRevealState(row);
  if (row.version == null) return { credential, version: null };
  return {
    credential,
    version: {
      version: Number(row.version),
      vaultKeyVersion: Number(row.vault_key_version),
      ciphertext: bytes(row.ciphertext),
    },
  };
}

/** Patch fields and the columns they write; nothing else can be set through `update`. */
const PATCH_COLUMNS: Record<keyof CredentialPatch, string> = {
  metadata: 'metadata',
  expiresAt: 'expires_at',
  rotationSchedule: 'rotation_schedule',
  isActive: 'is_active',
  deletedAt: 'deleted_at',
  purgeAfter: 'purge_after',
  rotation: 'rotation',
  rotationState: 'rotation_state',
  rotationAttempts: 'rotation_attempts',
  lastRotationError: 'last_rotation_error',
  pendingVersion: 'pending_version',
  previousVersion: 'previous_version',
  rotationLeaseUntil: 'rotation_lease_until',
  lastRotatedAt: 'last_rotated_at',
  expiryAlerts: 'expiry_alerts',
};

/** A jsonb array as a parameter: `pg` would send a JS array as a PostgreSQL array, not JSON. */
const jsonArray = (v: unknown) => (Array.isArray(v) ? JSON.stringify(v) : v);

export class SqlCredentialRepository extends TenantRepository implements CredentialRepository {
  async insert(c: CredentialInsert) {
    const [row] = await this.c.query(
      `INSERT INTO stored_credentials AS c (tenant_id, id, vault_id, name, type, metadata, current_version, expires_at,
                                            rotation_schedule, created_by, expiry_alerts)
       VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10::jsonb) RETURNING ${CREDENTIAL_COLUMNS}`,
      [
        this.tenantId,
        c.id,
        c.vaultId,
        c.name,
        c.type,
        c.metadata,
        c.expiresAt,
        c.rotationSchedule,
        c.createdBy,
        jsonArray(c.expiryAlerts ?? null),
      ],
    );
    return toCredential(row!);
  }

  async find(id: string, opts: { forUpdate?: boolean } = {}) {
    const [row] = await this.c.query(
      `SELECT ${CREDENTIAL_COLUMNS} FROM stored_credentials c WHERE c.tenant_id = $1 AND c.id = $2${opts.forUpdate ? ' FOR UPDATE' : ''}`,
      [this.tenantId, id],
    );
    return row ? toCredential(row) : null;
  }

  async findSealed(id: string, version?: number): Promise<SealedCredential | null> {
    const [row] = await this.c.query(
      `SELECT ${REVEAL_COLUMNS}, v.version, v.vault_key_version, v.ciphertext
         FROM stored_credentials c
         LEFT JOIN credential_versions v
           ON v.tenant_id = c.tenant_id AND v.credential_id = c.id AND v.version = coalesce($3::int, c.current_version)
        WHERE c.tenant_id = $1 AND c.id = $2`,
      [this.tenantId, id, version ?? null],
    );
    return row ? toSealed(row) : null;
  }

  /**
   * `findSealed` for many (id, version) pairs in one statement, answered in the order asked: what
   * a group-committed batch of reveals reads (see group-commit.ts). Not on the port.
   */
  async findSealedMany(
    keys: readonly { id: string; version?: number | undefined }[],
  ): Promise<(SealedCredential | null)[]> {
    // One primary-key lookup per id (LATERAL ... LIMIT 1 is not flattened into a join): a plan
    // that scanned the tenant's credentials and hashed them would grow with the tenant.
    const rows = await this.c.query(
      `SELECT k.ord, c.*, v.version, v.vault_key_version, v.ciphertext
         FROM unnest($2::uuid[], $3::int[]) WITH ORDINALITY AS k(id, version, ord)
         CROSS JOIN LATERAL (SELECT ${REVEAL_COLUMNS} FROM stored_credentials c
                              WHERE c.tenant_id = $1 AND c.id = k.id LIMIT 1) c
         LEFT JOIN credential_versions v
           ON v.tenant_id = $1 AND v.credential_id = c.id AND v.version = coalesce(k.version, c.current_version)`,
      [this.tenantId, keys.map((k) => k.id), keys.map((k) => k.version ?? null)],
    );
    const found: (SealedCredential | null)[] = keys.map(() => null);
    for (const row of rows) found[Number(row.ord) - 1] = toSealed(row);
    return found;
  }

  async findForRotation(id: string) {
    const [row] = await this.c.query(
      `SELECT ${CREDENTIAL_COLUMNS}, vt.max_versions, vt.current_key_version, k.wrapped_key, k.provider, k.provider_key_id
         FROM stored_credentials c
         JOIN credential_vaults vt ON vt.tenant_id = c.tenant_id AND vt.id = c.vault_id
         JOIN vault_keys k ON k.tenant_id = vt.tenant_id AND k.vault_id = vt.id AND k.version = vt.current_key_version
        WHERE c.tenant_id = $1 AND c.id = $2
          FOR UPDATE OF c`,
      [this.tenantId, id],
    );
    if (!row) return null;
    const credential = toCredential(row);
    return {
      credential,
      maxVersions: Number(row.max_versions),
      key: toVaultKeyRecord(this.tenantId, credential.vaultId, Number(row.current_key_version), row),
    };
  }

  async findByPath(vaultName: string, name: string) {
    // Both unique indexes in one lookup: the vault by (tenant_id, name), its live credential by
    // (tenant_id, vault_id, name) where deleted_at IS NULL.
    const [row] = await this.c.query<{ id: string; vault_id: string }>(
      `SELECT c.id, c.vault_id FROM credential_vaults v
         JOIN stored_credentials c
           ON c.tenant_id = v.tenant_id AND c.vault_id = v.id AND c.name = $3 AND c.deleted_at IS NULL
        WHERE v.tenant_id = $1 AND v.name = $2`,
      [this.tenantId, vaultName, name],
    );
    return row ? { id: row.id, vaultId: row.vault_id } : null;
  }

  async list(
    vaultId: string,
    limit: number,
    after?: { name: string; id: string },
    includeDeleted = false,
    filters: CredentialFilters = {},
  ) {
    // starts_with, not LIKE: "_" is a wildcard there and a legal character in names.
    const rows = await this.c.query(
      `SELECT ${CREDENTIAL_COLUMNS} FROM stored_credentials c
        WHERE c.tenant_id = $1 AND c.vault_id = $2 AND ($3::boolean OR c.deleted_at IS NULL)
          AND ($4::text IS NULL OR (c.name, c.id) > ($4, $5::uuid))
          AND ($7::timestamptz IS NULL OR c.expires_at <= $7)
          AND ($8::timestamptz IS NULL OR c.next_rotation_at <= $8)
          AND ($9::text IS NULL OR c.name = $9)
          AND ($10::text IS NULL OR starts_with(c.name, $10))
        ORDER BY c.name, c.id LIMIT $6`,
      [
        this.tenantId,
        vaultId,
        includeDeleted,
        after?.name ?? null,
        after?.id ?? null,
        limit,
        filters.expiresBefore ?? null,
        filters.rotationDueBy ?? null,
        filters.name ?? null,
        filters.prefix ?? null,
      ],
    );
    return rows.map(toCredential);
  }

  async idsInVault(vaultId: string) {
    const rows = await this.c.query<{ id: string }>(
      'SELECT id FROM stored_credentials WHERE tenant_id = $1 AND vault_id = $2 ORDER BY id',
      [this.tenantId, vaultId],
    );
    return rows.map((r) => r.id);
  }

  async setCurrentVersion(credentialId: string, version: number, expiresAt: Date | null | undefined) {
    const [row] = await this.c.query(
      `UPDATE stored_credentials c
          SET current_version = $3, previous_version = c.current_version, last_rotated_at = now(), updated_at = now(),
              expires_at = CASE WHEN $4::boolean THEN $5::timestamptz ELSE c.expires_at END
        WHERE c.tenant_id = $1 AND c.id = $2 RETURNING ${CREDENTIAL_COLUMNS}`,
      [this.tenantId, credentialId, version, expiresAt !== undefined, expiresAt ?? null],
    );
    return toCredential(row!);
  }

  async update(id: string, patch: CredentialPatch) {
    const sets: string[] = ['updated_at = now()'];
    const params: unknown[] = [this.tenantId, id];
    for (const [field, column] of Object.entries(PATCH_COLUMNS) as [keyof CredentialPatch, string][]) {
      if (patch[field] === undefined) continue;
      params.push(jsonArray(patch[field]));
      sets.push(`${column} = $${params.length}`);
    }
    const [row] = await this.c.query(
      `UPDATE stored_credentials c SET ${sets.join(', ')} WHERE c.tenant_id = $1 AND c.id = $2 RETURNING ${CREDENTIAL_COLUMNS}`,
      params,
    );
    return toCredential(row!);
  }

  async setNextRotation(id: string, at: Date | null) {
    await this.c.query(
      'UPDATE stored_credentials SET next_rotation_at = $3 WHERE tenant_id = $1 AND id = $2',
      [this.tenantId, id, at],
    );
    // The scheduler's queue follows in the same transaction: one row while it is due some day.
    if (at === null) {
      await this.c.query('DELETE FROM due_rotations WHERE tenant_id = $1 AND credential_id = $2', [
        this.tenantId,
        id,
      ]);
    } else {
      await this.c.query(
        `INSERT INTO due_rotations (tenant_id, credential_id, due_at) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, credential_id) DO UPDATE SET due_at = EXCLUDED.due_at`,
        [this.tenantId, id, at],
      );
    }
  }

  async purge(id: string) {
    const rows = await this.c.query(
      'DELETE FROM stored_credentials WHERE tenant_id = $1 AND id = $2 RETURNING id',
      [this.tenantId, id],
    );
    return rows.length > 0;
  }

  async listPurgeDue(now: Date, limit: number) {
    const rows = await this.c.query(
      `SELECT ${CREDENTIAL_COLUMNS} FROM stored_credentials c
        WHERE c.tenant_id = $1 AND c.purge_after IS NOT NULL AND c.purge_after <= $2
        ORDER BY c.purge_after LIMIT $3`,
      [this.tenantId, now, limit],
    );
    return rows.map(toCredential);
  }

  async setLastExpiryAlert(id: string, window: string | null) {
    await this.c.query(
      'UPDATE stored_credentials SET last_expiry_alert = $3 WHERE tenant_id = $1 AND id = $2',
      [this.tenantId, id, window],
    );
  }

  async lockInheritingExpiryAlerts(vaultId: string) {
    const rows = await this.c.query(
      `SELECT ${CREDENTIAL_COLUMNS} FROM stored_credentials c
        WHERE c.tenant_id = $1 AND c.vault_id = $2 AND c.expiry_alerts IS NULL
          AND c.expires_at IS NOT NULL AND c.deleted_at IS NULL
        ORDER BY c.id FOR UPDATE`,
      [this.tenantId, vaultId],
    );
    return rows.map(toCredential);
  }
}
