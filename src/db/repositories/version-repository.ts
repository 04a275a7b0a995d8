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
    const rows = await this.c.query(
      `SELECT credential_id, version, vault_key_version, created_by, created_at, destroyed_at
         FROM credential_versions WHERE tenant_id = $1 AND credential_id = $2 ORDER BY version DESC`,
      [this.tenantId, credentialId],
    );
    return rows.map(toVersion);
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
