import { RegistryError } from '../core/errors.js';
import { isUuid, newId } from '../core/ids.js';
import type {
  AccessLogInsert,
  AccessLogQuery,
  CredentialInsert,
  CredentialPatch,
  PlatformTx,
  RegistryStore,
  ScheduledJob,
  SealedCredential,
  TenantTx,
  TokenInsert,
  VaultKeyRecord,
  VersionInsert,
} from '../core/ports.js';
import type { DbRoles } from './roles.js';
import {
  bytes,
  toAccessLogEntry,
  toApiToken,
  toCredential,
  toCredentialState,
  toPrincipal,
  toTenant,
  toVault,
  toVersion,
} from './rows.js';
import type { SqlClient, SqlDatabase } from './sql.js';

/**
 * `RegistryStore` on PostgreSQL (either adapter). Every transaction first switches to a role that
 * row-level security applies to and, for tenant work, sets the tenant, both transaction-local so
 * nothing survives on a pooled connection. Every statement also names `tenant_id` itself: the policy
 * is the guarantee, the explicit filter lets the planner (and Citus) route by tenant.
 */
export class SqlRegistryStore implements RegistryStore {
  readonly #db: SqlDatabase;
  readonly #roles: DbRoles;

  constructor(db: SqlDatabase, roles: DbRoles) {
    this.#db = db;
    this.#roles = roles;
  }

  async withTenant<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T> {
    /* Precondition: the tenant id is a UUID (it is written into the prelude, so this also guards injection). */
    if (!isUuid(tenantId)) throw new RegistryError('TENANT_REQUIRED', 'a valid tenant id is required');
    // SET LOCAL (not SELECT set_config): same effect, and no result rows to send and parse.
    const prelude = `SET LOCAL ROLE "${this.#roles.runtime}"; SET LOCAL app.current_tenant_id = '${tenantId}'`;
    return this.#run((c) => fn(new SqlTenantTx(c, tenantId)), prelude);
  }

  async withPlatform<T>(fn: (tx: PlatformTx) => Promise<T>): Promise<T> {
    return this.#run((c) => fn(new SqlPlatformTx(c)), `SET LOCAL ROLE "${this.#roles.platform}"`);
  }

  async #run<T>(fn: (c: SqlClient) => Promise<T>, prelude: string): Promise<T> {
    try {
      return await this.#db.transaction(fn, prelude);
    } catch (err) {
      throw translate(err);
    }
  }
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
const NETWORK = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/;

const UNIQUE_MESSAGES: Record<string, string> = {
  tenants_name_key: 'a tenant with this name already exists',
  principals_tenant_id_name_key: 'a principal with this name already exists',
  credential_vaults_tenant_id_name_key: 'a vault with this name already exists',
  stored_credentials_live_name: 'a credential with this name already exists in this vault',
};
const FOREIGN_KEY_MESSAGES: Record<string, string> = {
  credential_vaults_tenant_id_fkey: 'tenant not found',
  principals_tenant_id_fkey: 'tenant not found',
  stored_credentials_tenant_id_vault_id_fkey: 'vault not found',
};

/**
 * Database errors become registry errors. Messages are ours, never the server's: its text can
 * quote rows and SQL. The original stays in `cause` for operators.
 */
export function translate(err: unknown): unknown {
  const e = err as { code?: string; constraint?: string };
  const code = typeof e?.code === 'string' ? e.code : '';
  // Only database and connection errors are ours to translate; the core's own signals (and its
  // RegistryErrors) must pass through unchanged.
  if (err instanceof RegistryError || !(SQLSTATE.test(code) || NETWORK.test(code))) return err;
  if (code === '23505') {
    return new RegistryError('CONFLICT', UNIQUE_MESSAGES[e.constraint ?? ''] ?? 'the item already exists', {
      cause: err,
    });
  }
  if (code === '23503') {
    return new RegistryError(
      'NOT_FOUND',
      FOREIGN_KEY_MESSAGES[e.constraint ?? ''] ?? 'a referenced item does not exist',
      {
        cause: err,
      },
    );
  }
  if (code === '26000' || code === '42P05') {
    // A prepared statement missing, or already there: server connections are shared between
    // transactions by a pooler that does not carry prepared statements along.
    return new RegistryError(
      'CONFIG',
      'prepared statements do not survive between transactions here (a pooler in transaction mode?): set CREDREG_DB_STATEMENTS=unnamed',
      { cause: err },
    );
  }
  if (code === '40001' || code === '40P01') {
    return new RegistryError('CONFLICT', 'a concurrent change conflicted with this one; retry', {
      cause: err,
    });
  }
  // Connection exceptions, insufficient resources, operator intervention (a terminated backend, a
  // server shutting down), a statement cancelled by a timeout, and a read-only transaction (a
  // standby reached during a failover): all pass, so the caller is told to retry.
  if (/^(08|53|57P|58)/.test(code) || code === '57014' || code === '25006' || NETWORK.test(code)) {
    return new RegistryError('UNAVAILABLE', 'the database is unavailable; retry later', { cause: err });
  }
  return new RegistryError('INTERNAL', 'the database rejected the operation', { cause: err });
}

// Explicit column lists everywhere: a prepared `SELECT *` fails ("cached plan must not change result
// type") once a migration adds a column under a running service.
const TENANT_COLUMNS = 'tenant_id, name, created_at';
const PRINCIPAL_COLUMNS = 'tenant_id, id, name, kind, created_at';
const VAULT_COLUMNS = `v.tenant_id, v.id, v.name, v.description, v.max_versions, v.current_key_version, v.created_by,
  v.created_at, v.updated_at`;
const TOKEN_COLUMNS =
  'tenant_id, id, principal_id, role, vault_id, expires_at, revoked_at, created_by, created_at';
const ACCESS_LOG_COLUMNS = `tenant_id, id, occurred_at, credential_id, vault_id, action, outcome, actor, reason, source_ip,
  user_agent, request_id, client_request_id, version, error_code`;
/** What a reveal needs of the credential: no more, since every column is parsed on every reveal. */
const REVEAL_COLUMNS =
  'c.id, c.vault_id, c.name, c.type, c.current_version, c.expires_at, c.is_active, c.deleted_at, c.purge_after';

class SqlPlatformTx implements PlatformTx {
  constructor(private readonly c: SqlClient) {}

  async insertPlatformToken(t: { id: string; name: string; secretHash: Uint8Array }) {
    await this.c.query('INSERT INTO platform_tokens (id, name, secret_hash) VALUES ($1, $2, $3)', [
      t.id,
      t.name,
      Buffer.from(t.secretHash),
    ]);
  }

  async findPlatformToken(id: string) {
    const [r] = await this.c.query(
      'SELECT id, name, secret_hash, expires_at, revoked_at FROM platform_tokens WHERE id = $1',
      [id],
    );
    if (!r) return null;
    return {
      id: String(r.id),
      name: String(r.name),
      secretHash: bytes(r.secret_hash)!,
      expiresAt: (r.expires_at as Date | null) ?? null,
      revokedAt: (r.revoked_at as Date | null) ?? null,
    };
  }

  async lockPlatformTokens() {
    await this.c.query('LOCK TABLE platform_tokens IN SHARE ROW EXCLUSIVE MODE');
  }

  async countPlatformTokens() {
    const [r] = await this.c.query<{ n: number }>('SELECT count(*)::int AS n FROM platform_tokens');
    return r?.n ?? 0;
  }

  async insertTenant(t: { id: string; name: string }) {
    const [row] = await this.c.query(
      `INSERT INTO tenants (tenant_id, name) VALUES ($1, $2) RETURNING ${TENANT_COLUMNS}`,
      [t.id, t.name],
    );
    return toTenant(row!);
  }

  async findTenant(id: string) {
    const [row] = await this.c.query(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE tenant_id = $1`, [id]);
    return row ? toTenant(row) : null;
  }

  async listTenants(limit: number, after?: { name: string; id: string }) {
    const rows = await this.c.query(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE ($1::text IS NULL OR (name, tenant_id) > ($1, $2::uuid))
        ORDER BY name, tenant_id LIMIT $3`,
      [after?.name ?? null, after?.id ?? null, limit],
    );
    return rows.map(toTenant);
  }

  async claimJobRun(job: ScheduledJob, holder: string, leaseMs: number) {
    // The whole claim is this one statement in a short transaction: a concurrent claim waits on the
    // row lock, re-reads the row once it is free and finds it no longer due. now() is the database's
    // clock, one for every instance, so theirs may disagree without two of them winning one lease.
    const [row] = await this.c.query<{ next_run_at: Date }>(
      `UPDATE job_leases SET next_run_at = now() + $3::integer * interval '1 millisecond', holder = $2
        WHERE name = $1 AND next_run_at <= now() RETURNING next_run_at`,
      [job, holder, leaseMs],
    );
    return row?.next_run_at ?? null;
  }
}

const CREDENTIAL_COLUMNS = `c.tenant_id, c.id, c.vault_id, c.name, c.type, c.metadata, c.current_version, c.expires_at,
  c.rotation_schedule, c.is_active, c.created_by, c.created_at, c.updated_at, c.last_rotated_at, c.deleted_at, c.purge_after`;

/** Patch fields and the columns they write; nothing else can be set through `updateCredential`. */
const PATCH_COLUMNS: Record<keyof CredentialPatch, string> = {
  metadata: 'metadata',
  expiresAt: 'expires_at',
  rotationSchedule: 'rotation_schedule',
  isActive: 'is_active',
  deletedAt: 'deleted_at',
  purgeAfter: 'purge_after',
};

class SqlTenantTx implements TenantTx {
  constructor(
    private readonly c: SqlClient,
    readonly tenantId: string,
  ) {}

  async insertPrincipal(p: { id: string; name: string; kind: 'user' | 'service' }) {
    const [row] = await this.c.query(
      `INSERT INTO principals (tenant_id, id, name, kind) VALUES ($1, $2, $3, $4) RETURNING ${PRINCIPAL_COLUMNS}`,
      [this.tenantId, p.id, p.name, p.kind],
    );
    return toPrincipal(row!);
  }

  async findPrincipal(id: string) {
    const [row] = await this.c.query(
      `SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE tenant_id = $1 AND id = $2`,
      [this.tenantId, id],
    );
    return row ? toPrincipal(row) : null;
  }

  async insertToken(t: TokenInsert) {
    const [row] = await this.c.query(
      `INSERT INTO api_tokens (tenant_id, id, principal_id, role, vault_id, secret_hash, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${TOKEN_COLUMNS}`,
      [
        this.tenantId,
        t.id,
        t.principalId,
        t.role,
        t.vaultId,
        Buffer.from(t.secretHash),
        t.expiresAt,
        t.createdBy,
      ],
    );
    return toApiToken(row!);
  }

  async findToken(id: string) {
    const [row] = await this.c.query(
      `SELECT ${TOKEN_COLUMNS}, secret_hash FROM api_tokens WHERE tenant_id = $1 AND id = $2`,
      [this.tenantId, id],
    );
    return row ? { ...toApiToken(row), secretHash: bytes(row.secret_hash)! } : null;
  }

  async listTokens(limit: number, afterId?: string) {
    const rows = await this.c.query(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)
        ORDER BY id LIMIT $3`,
      [this.tenantId, afterId ?? null, limit],
    );
    return rows.map(toApiToken);
  }

  async revokeToken(id: string, at: Date) {
    const [row] = await this.c.query(
      `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $3) WHERE tenant_id = $1 AND id = $2
       RETURNING ${TOKEN_COLUMNS}`,
      [this.tenantId, id, at],
    );
    return row ? toApiToken(row) : null;
  }

  async listPrincipals(limit: number, afterName?: string) {
    const rows = await this.c.query(
      `SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE tenant_id = $1 AND ($2::text IS NULL OR name > $2) ORDER BY name LIMIT $3`,
      [this.tenantId, afterName ?? null, limit],
    );
    return rows.map(toPrincipal);
  }

  async insertVault(v: {
    id: string;
    name: string;
    description: string | null;
    maxVersions: number;
    createdBy: string;
  }) {
    const [row] = await this.c.query(
      `INSERT INTO credential_vaults AS v (tenant_id, id, name, description, max_versions, created_by)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${VAULT_COLUMNS}`,
      [this.tenantId, v.id, v.name, v.description, v.maxVersions, v.createdBy],
    );
    return toVault(row!);
  }

  async insertVaultKey(k: VaultKeyRecord) {
    await this.c.query(
      `INSERT INTO vault_keys (tenant_id, vault_id, version, wrapped_key, provider, provider_key_id)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        this.tenantId,
        k.vaultId,
        k.vaultKeyVersion,
        Buffer.from(k.wrapped.ciphertext),
        k.wrapped.provider,
        k.wrapped.providerKeyId,
      ],
    );
  }

  async findVault(id: string) {
    const [row] = await this.c.query(
      `SELECT ${VAULT_COLUMNS} FROM credential_vaults v WHERE v.tenant_id = $1 AND v.id = $2`,
      [this.tenantId, id],
    );
    return row ? toVault(row) : null;
  }

  async lockVault(id: string) {
    const [row] = await this.c.query(
      `SELECT ${VAULT_COLUMNS} FROM credential_vaults v WHERE v.tenant_id = $1 AND v.id = $2 FOR UPDATE`,
      [this.tenantId, id],
    );
    return row ? toVault(row) : null;
  }

  async setCurrentKeyVersion(vaultId: string, version: number) {
    await this.c.query(
      'UPDATE credential_vaults SET current_key_version = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2',
      [this.tenantId, vaultId, version],
    );
  }

  async claimVersionsToRewrap(vaultId: string, currentKeyVersion: number, limit: number) {
    const rows = await this.c.query(
      `SELECT credential_id, version, vault_key_version, ciphertext FROM credential_versions
        WHERE tenant_id = $1 AND vault_id = $2 AND vault_key_version < $3 AND ciphertext IS NOT NULL
        ORDER BY credential_id, version LIMIT $4
          FOR UPDATE SKIP LOCKED`,
      [this.tenantId, vaultId, currentKeyVersion, limit],
    );
    return rows.map((r) => ({
      credentialId: String(r.credential_id),
      version: Number(r.version),
      vaultKeyVersion: Number(r.vault_key_version),
      ciphertext: bytes(r.ciphertext)!,
    }));
  }

  async setVersionCiphertext(
    credentialId: string,
    version: number,
    vaultKeyVersion: number,
    ciphertext: Uint8Array,
  ) {
    await this.c.query(
      `UPDATE credential_versions SET vault_key_version = $4, ciphertext = $5
        WHERE tenant_id = $1 AND credential_id = $2 AND version = $3`,
      [this.tenantId, credentialId, version, vaultKeyVersion, Buffer.from(ciphertext)],
    );
  }

  async vaultKeyUsage(vaultId: string) {
    const rows = await this.c.query<{ version: number; created_at: Date; data_keys: number }>(
      `SELECT k.version, k.created_at,
              (SELECT count(*)::int FROM credential_versions v
                WHERE v.tenant_id = k.tenant_id AND v.vault_id = k.vault_id AND v.vault_key_version = k.version
                  AND v.ciphertext IS NOT NULL) AS data_keys
         FROM vault_keys k WHERE k.tenant_id = $1 AND k.vault_id = $2 ORDER BY k.version`,
      [this.tenantId, vaultId],
    );
    return rows.map((r) => ({
      version: Number(r.version),
      createdAt: r.created_at,
      dataKeys: Number(r.data_keys),
    }));
  }

  async deleteVaultKey(vaultId: string, version: number, current: number) {
    await this.c.query(
      `UPDATE credential_versions SET vault_key_version = $4
        WHERE tenant_id = $1 AND vault_id = $2 AND vault_key_version = $3 AND ciphertext IS NULL`,
      [this.tenantId, vaultId, version, current],
    );
    const rows = await this.c.query(
      'DELETE FROM vault_keys WHERE tenant_id = $1 AND vault_id = $2 AND version = $3 RETURNING version',
      [this.tenantId, vaultId, version],
    );
    return rows.length > 0;
  }

  async listVaultKeys(limit: number, after?: { vaultId: string; vaultKeyVersion: number }) {
    const rows = await this.c.query(
      `SELECT vault_id, version, wrapped_key, provider, provider_key_id FROM vault_keys
        WHERE tenant_id = $1 AND (vault_id, version) > ($2::uuid, $3::int)
        ORDER BY vault_id, version LIMIT $4`,
      [
        this.tenantId,
        after?.vaultId ?? '00000000-0000-0000-0000-000000000000',
        after?.vaultKeyVersion ?? 0,
        limit,
      ],
    );
    return rows.map((r) => this.#keyRecord(String(r.vault_id), Number(r.version), r));
  }

  async replaceVaultKeyWrapping(record: VaultKeyRecord, wrapped: VaultKeyRecord['wrapped']) {
    // Compared on the wrapped bytes, not the key id: a Transit key keeps its id across versions.
    const rows = await this.c.query(
      `UPDATE vault_keys SET wrapped_key = $4, provider = $5, provider_key_id = $6
        WHERE tenant_id = $1 AND vault_id = $2 AND version = $3 AND wrapped_key = $7 RETURNING version`,
      [
        this.tenantId,
        record.vaultId,
        record.vaultKeyVersion,
        Buffer.from(wrapped.ciphertext),
        wrapped.provider,
        wrapped.providerKeyId,
        Buffer.from(record.wrapped.ciphertext),
      ],
    );
    return rows.length > 0;
  }

  async findVaultKey(vaultId: string, version: number) {
    const [row] = await this.c.query(
      `SELECT wrapped_key, provider, provider_key_id FROM vault_keys
        WHERE tenant_id = $1 AND vault_id = $2 AND version = $3`,
      [this.tenantId, vaultId, version],
    );
    return row ? this.#keyRecord(vaultId, version, row) : null;
  }

  async findVaultWithCurrentKey(id: string) {
    const [row] = await this.c.query(
      `SELECT ${VAULT_COLUMNS}, k.wrapped_key, k.provider, k.provider_key_id
         FROM credential_vaults v
         JOIN vault_keys k ON k.tenant_id = v.tenant_id AND k.vault_id = v.id AND k.version = v.current_key_version
        WHERE v.tenant_id = $1 AND v.id = $2`,
      [this.tenantId, id],
    );
    if (!row) return null;
    const vault = toVault(row);
    return { vault, key: this.#keyRecord(vault.id, vault.currentKeyVersion, row) };
  }

  async listVaults(limit: number, after?: { name: string; id: string }) {
    const rows = await this.c.query(
      `SELECT ${VAULT_COLUMNS} FROM credential_vaults v
        WHERE v.tenant_id = $1 AND ($2::text IS NULL OR (v.name, v.id) > ($2, $3::uuid))
        ORDER BY name, id LIMIT $4`,
      [this.tenantId, after?.name ?? null, after?.id ?? null, limit],
    );
    return rows.map(toVault);
  }

  async credentialIdsInVault(vaultId: string) {
    const rows = await this.c.query<{ id: string }>(
      'SELECT id FROM stored_credentials WHERE tenant_id = $1 AND vault_id = $2 ORDER BY id',
      [this.tenantId, vaultId],
    );
    return rows.map((r) => r.id);
  }

  async deleteVault(id: string) {
    const rows = await this.c.query(
      'DELETE FROM credential_vaults WHERE tenant_id = $1 AND id = $2 RETURNING id',
      [this.tenantId, id],
    );
    return rows.length > 0;
  }

  async insertCredential(c: CredentialInsert) {
    const [row] = await this.c.query(
      `INSERT INTO stored_credentials AS c (tenant_id, id, vault_id, name, type, metadata, current_version, expires_at,
                                            rotation_schedule, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9) RETURNING ${CREDENTIAL_COLUMNS}`,
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
      ],
    );
    return toCredential(row!);
  }

  async insertVersion(v: VersionInsert) {
    const [row] = await this.c.query(
      `INSERT INTO credential_versions (tenant_id, credential_id, version, vault_id, vault_key_version, ciphertext, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING credential_id, version, vault_key_version, created_by, created_at, destroyed_at`,
      [
        this.tenantId,
        v.credentialId,
        v.version,
        v.vaultId,
        v.vaultKeyVersion,
        Buffer.from(v.ciphertext),
        v.createdBy,
      ],
    );
    return toVersion(row!);
  }

  async findCredential(id: string, opts: { forUpdate?: boolean } = {}) {
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
    if (!row) return null;
    const credential = toCredentialState(row);
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
      key: this.#keyRecord(credential.vaultId, Number(row.current_key_version), row),
    };
  }

  async listCredentials(
    vaultId: string,
    limit: number,
    after?: { name: string; id: string },
    includeDeleted = false,
  ) {
    const rows = await this.c.query(
      `SELECT ${CREDENTIAL_COLUMNS} FROM stored_credentials c
        WHERE c.tenant_id = $1 AND c.vault_id = $2 AND ($3::boolean OR c.deleted_at IS NULL)
          AND ($4::text IS NULL OR (c.name, c.id) > ($4, $5::uuid))
        ORDER BY c.name, c.id LIMIT $6`,
      [this.tenantId, vaultId, includeDeleted, after?.name ?? null, after?.id ?? null, limit],
    );
    return rows.map(toCredential);
  }

  async listVersions(credentialId: string) {
    const rows = await this.c.query(
      `SELECT credential_id, version, vault_key_version, created_by, created_at, destroyed_at
         FROM credential_versions WHERE tenant_id = $1 AND credential_id = $2 ORDER BY version DESC`,
      [this.tenantId, credentialId],
    );
    return rows.map(toVersion);
  }

  async setCurrentVersion(credentialId: string, version: number, expiresAt: Date | null | undefined) {
    const [row] = await this.c.query(
      `UPDATE stored_credentials c
          SET current_version = $3, last_rotated_at = now(), updated_at = now(),
              expires_at = CASE WHEN $4::boolean THEN $5::timestamptz ELSE c.expires_at END
        WHERE c.tenant_id = $1 AND c.id = $2 RETURNING ${CREDENTIAL_COLUMNS}`,
      [this.tenantId, credentialId, version, expiresAt !== undefined, expiresAt ?? null],
    );
    return toCredential(row!);
  }

  async destroyVersionsThrough(credentialId: string, version: number) {
    const rows = await this.c.query(
      `UPDATE credential_versions SET ciphertext = NULL, destroyed_at = now()
        WHERE tenant_id = $1 AND credential_id = $2 AND version <= $3 AND ciphertext IS NOT NULL
        RETURNING version`,
      [this.tenantId, credentialId, version],
    );
    return rows.length;
  }

  async updateCredential(id: string, patch: CredentialPatch) {
    const sets: string[] = ['updated_at = now()'];
    const params: unknown[] = [this.tenantId, id];
    for (const [field, column] of Object.entries(PATCH_COLUMNS) as [keyof CredentialPatch, string][]) {
      if (patch[field] === undefined) continue;
      params.push(patch[field]);
      sets.push(`${column} = $${params.length}`);
    }
    const [row] = await this.c.query(
      `UPDATE stored_credentials c SET ${sets.join(', ')} WHERE c.tenant_id = $1 AND c.id = $2 RETURNING ${CREDENTIAL_COLUMNS}`,
      params,
    );
    return toCredential(row!);
  }

  async purgeCredential(id: string) {
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

  async appendAccessLog(e: AccessLogInsert) {
    // Translated here, not after the transaction: the core tells a row the database refused
    // (INTERNAL) from a database that is away (UNAVAILABLE), and acts on the difference.
    try {
      await this.c.query(
        `INSERT INTO credential_access_log (tenant_id, id, credential_id, vault_id, action, outcome, actor, reason,
                                            source_ip, user_agent, request_id, client_request_id, version, error_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [
          this.tenantId,
          newId(),
          e.credentialId,
          e.vaultId,
          e.action,
          e.outcome,
          e.actor,
          e.reason,
          e.sourceIp,
          e.userAgent,
          e.requestId,
          e.clientRequestId,
          e.version,
          e.errorCode,
        ],
      );
    } catch (err) {
      throw translate(err);
    }
  }

  async queryAccessLog(q: AccessLogQuery) {
    const where = ['tenant_id = $1'];
    const params: unknown[] = [this.tenantId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (q.credentialId) add('credential_id = ?', q.credentialId);
    if (q.vaultId) add('vault_id = ?', q.vaultId);
    if (q.actor) add('actor = ?', q.actor);
    if (q.action) add('action = ?', q.action);
    if (q.outcome) add('outcome = ?', q.outcome);
    if (q.from) add('occurred_at >= ?', q.from);
    if (q.to) add('occurred_at < ?', q.to);
    if (q.beforeId) add('id < ?', q.beforeId);
    params.push(q.limit);
    const rows = await this.c.query(
      `SELECT ${ACCESS_LOG_COLUMNS} FROM credential_access_log WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toAccessLogEntry);
  }

  #keyRecord(vaultId: string, version: number, row: Record<string, unknown>): VaultKeyRecord {
    return {
      tenantId: this.tenantId,
      vaultId,
      vaultKeyVersion: version,
      wrapped: {
        provider: String(row.provider),
        ciphertext: bytes(row.wrapped_key)!,
        providerKeyId: String(row.provider_key_id),
      },
    };
  }
}
