import type { VaultInsert, VaultPatch, VaultRepository } from '../../core/ports.js';
import { toVault, toVaultKeyRecord } from '../rows.js';
import { TenantRepository } from './tenant-repository.js';

const VAULT_COLUMNS = `v.tenant_id, v.id, v.name, v.description, v.max_versions, v.current_key_version, v.created_by,
  v.created_at, v.updated_at, v.expiry_alerts`;

/** A jsonb array as a parameter: `pg` would send a JS array as a PostgreSQL array, not JSON. */
const jsonArray = (v: string[] | null | undefined) => (v ? JSON.stringify(v) : null);

export class SqlVaultRepository extends TenantRepository implements VaultRepository {
  async insert(v: VaultInsert) {
    const [row] = await this.c.query(
      `INSERT INTO credential_vaults AS v (tenant_id, id, name, description, max_versions, created_by, expiry_alerts)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING ${VAULT_COLUMNS}`,
      [this.tenantId, v.id, v.name, v.description, v.maxVersions, v.createdBy, jsonArray(v.expiryAlerts)],
    );
    return toVault(row!);
  }

  async find(id: string) {
    const [row] = await this.c.query(
      `SELECT ${VAULT_COLUMNS} FROM credential_vaults v WHERE v.tenant_id = $1 AND v.id = $2`,
      [this.tenantId, id],
    );
    return row ? toVault(row) : null;
  }

  async lock(id: string) {
    const [row] = await this.c.query(
      `SELECT ${VAULT_COLUMNS} FROM credential_vaults v WHERE v.tenant_id = $1 AND v.id = $2 FOR UPDATE`,
      [this.tenantId, id],
    );
    return row ? toVault(row) : null;
  }

  async findWithCurrentKey(id: string) {
    const [row] = await this.c.query(
      `SELECT ${VAULT_COLUMNS}, k.wrapped_key, k.provider, k.provider_key_id
         FROM credential_vaults v
         JOIN vault_keys k ON k.tenant_id = v.tenant_id AND k.vault_id = v.id AND k.version = v.current_key_version
        WHERE v.tenant_id = $1 AND v.id = $2`,
      [this.tenantId, id],
    );
    if (!row) return null;
    const vault = toVault(row);
    return { vault, key: toVaultKeyRecord(this.tenantId, vault.id, vault.currentKeyVersion, row) };
  }

  async findByName(name: string) {
    const [row] = await this.c.query(
      `SELECT ${VAULT_COLUMNS} FROM credential_vaults v WHERE v.tenant_id = $1 AND v.name = $2`,
      [this.tenantId, name],
    );
    return row ? toVault(row) : null;
  }

  async list(
    limit: number,
    after?: { name: string; id: string },
    filters: { name?: string; prefix?: string } = {},
  ) {
    // starts_with, not LIKE: "_" is a wildcard there and a legal character in names.
    const rows = await this.c.query(
      `SELECT ${VAULT_COLUMNS} FROM credential_vaults v
        WHERE v.tenant_id = $1 AND ($2::text IS NULL OR (v.name, v.id) > ($2, $3::uuid))
          AND ($5::text IS NULL OR v.name = $5) AND ($6::text IS NULL OR starts_with(v.name, $6))
        ORDER BY name, id LIMIT $4`,
      [
        this.tenantId,
        after?.name ?? null,
        after?.id ?? null,
        limit,
        filters.name ?? null,
        filters.prefix ?? null,
      ],
    );
    return rows.map(toVault);
  }

  async setCurrentKeyVersion(vaultId: string, version: number) {
    await this.c.query(
      'UPDATE credential_vaults SET current_key_version = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2',
      [this.tenantId, vaultId, version],
    );
  }

  async update(id: string, patch: VaultPatch) {
    const [row] = await this.c.query(
      `UPDATE credential_vaults v
          SET expiry_alerts = CASE WHEN $3::boolean THEN $4::jsonb ELSE v.expiry_alerts END, updated_at = now()
        WHERE v.tenant_id = $1 AND v.id = $2 RETURNING ${VAULT_COLUMNS}`,
      [this.tenantId, id, patch.expiryAlerts !== undefined, jsonArray(patch.expiryAlerts)],
    );
    return row ? toVault(row) : null;
  }

  async delete(id: string) {
    const rows = await this.c.query(
      'DELETE FROM credential_vaults WHERE tenant_id = $1 AND id = $2 RETURNING id',
      [this.tenantId, id],
    );
    return rows.length > 0;
  }
}
