import type { VaultKeyRecord, VaultKeyRepository } from '../../core/ports.js';
import { toVaultKeyRecord } from '../rows.js';
import { TenantRepository } from './tenant-repository.js';

export class SqlVaultKeyRepository extends TenantRepository implements VaultKeyRepository {
  async insert(k: VaultKeyRecord) {
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

  async find(vaultId: string, version: number) {
    const [row] = await this.c.query(
      `SELECT wrapped_key, provider, provider_key_id FROM vault_keys
        WHERE tenant_id = $1 AND vault_id = $2 AND version = $3`,
      [this.tenantId, vaultId, version],
    );
    return row ? toVaultKeyRecord(this.tenantId, vaultId, version, row) : null;
  }

  async list(limit: number, after?: { vaultId: string; vaultKeyVersion: number }) {
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
    return rows.map((r) => toVaultKeyRecord(this.tenantId, String(r.vault_id), Number(r.version), r));
  }

  async replaceWrapping(record: VaultKeyRecord, wrapped: VaultKeyRecord['wrapped']) {
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

  async usage(vaultId: string) {
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

  async delete(vaultId: string, version: number, current: number) {
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
}
