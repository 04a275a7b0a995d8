import type {
  RotationSecretInsert,
  RotationSecretRepository,
  SealedRotationSecret,
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

const ids = (rows: Row[]) => rows.map((r) => String(r.id));

export class SqlRotationSecretRepository extends TenantRepository implements RotationSecretRepository {
  async insert(s: RotationSecretInsert) {
    await this.c.query(
      `INSERT INTO rotation_endpoint_secrets (tenant_id, id, credential_id, ${OWN_KEY_COLUMNS},
                                              secret_ciphertext, created_by, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        this.tenantId,
        s.id,
        s.credentialId,
        ...ownKeyParams(s.wrappedKey),
        Buffer.from(s.secretCiphertext),
        s.createdBy,
        s.createdAt,
      ],
    );
  }

  async active(credentialId: string, now: Date): Promise<SealedRotationSecret[]> {
    const rows = await this.c.query(
      `SELECT id, credential_id, ${OWN_KEY_COLUMNS}, secret_ciphertext, retires_at, created_at
         FROM rotation_endpoint_secrets
        WHERE tenant_id = $1 AND credential_id = $2 AND (retires_at IS NULL OR retires_at > $3)
        ORDER BY retires_at DESC NULLS FIRST, id DESC`,
      [this.tenantId, credentialId, now],
    );
    return rows.map((r) => ({
      id: String(r.id),
      credentialId: String(r.credential_id),
      wrappedKey: wrappedKeyOf(r),
      secretCiphertext: bytes(r.secret_ciphertext)!,
      retiresAt: (r.retires_at as Date | null) ?? null,
      createdAt: r.created_at as Date,
    }));
  }

  async retireCurrent(credentialId: string, at: Date) {
    const dropped = await this.c.query(
      `DELETE FROM rotation_endpoint_secrets
        WHERE tenant_id = $1 AND credential_id = $2 AND retires_at IS NOT NULL RETURNING id`,
      [this.tenantId, credentialId],
    );
    await this.c.query(
      `UPDATE rotation_endpoint_secrets SET retires_at = $3
        WHERE tenant_id = $1 AND credential_id = $2 AND retires_at IS NULL`,
      [this.tenantId, credentialId, at],
    );
    return ids(dropped);
  }

  async dropRetired(now: Date, credentialId?: string) {
    return ids(
      await this.c.query(
        `DELETE FROM rotation_endpoint_secrets
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR credential_id = $2::uuid) AND retires_at <= $3
          RETURNING id`,
        [this.tenantId, credentialId ?? null, now],
      ),
    );
  }

  async deleteAll(credentialId: string) {
    return ids(
      await this.c.query(
        'DELETE FROM rotation_endpoint_secrets WHERE tenant_id = $1 AND credential_id = $2 RETURNING id',
        [this.tenantId, credentialId],
      ),
    );
  }

  listKeys(limit: number, afterId?: string) {
    return listOwnKeys(this.c, 'rotation_endpoint_secrets', this.tenantId, limit, afterId);
  }

  replaceWrapping(id: string, from: WrappedKey, to: WrappedKey) {
    return replaceOwnKeyWrapping(this.c, 'rotation_endpoint_secrets', this.tenantId, id, from, to);
  }
}
