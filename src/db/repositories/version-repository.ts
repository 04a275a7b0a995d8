import type { VersionInsert, VersionRepository } from '../../core/ports.js';
import { bytes, toVersion } from '../rows.js';
import { TenantRepository } from './tenant-repository.js';

export class SqlVersionRepository extends TenantRepository implements VersionRepository {
  async insert(v: VersionInsert) {
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

  async list(credentialId: string) {
    // `created_by` is text and a principal's id a UUID: a rotator or platform caller matches no one.
    const rows = await this.c.query(
      `SELECT v.credential_id, v.version, v.vault_key_version, v.created_by, v.created_at, v.destroyed_at,
              p.name AS created_by_name
         FROM credential_versions v
         LEFT JOIN principals p ON p.tenant_id = v.tenant_id AND p.id::text = v.created_by
        WHERE v.tenant_id = $1 AND v.credential_id = $2 ORDER BY v.version DESC`,
      [this.tenantId, credentialId],
    );
    return rows.map((r) => ({
      ...toVersion(r),
      createdByName: r.created_by_name == null ? null : String(r.created_by_name),
    }));
  }

  async destroyThrough(credentialId: string, version: number) {
    const rows = await this.c.query(
      `UPDATE credential_versions SET ciphertext = NULL, destroyed_at = now()
        WHERE tenant_id = $1 AND credential_id = $2 AND version <= $3 AND ciphertext IS NOT NULL
        RETURNING version`,
      [this.tenantId, credentialId, version],
    );
    return rows.length;
  }

  async claimToRewrap(vaultId: string, currentKeyVersion: number, limit: number) {
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

  async setCiphertext(
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
}
