import type { TokenInsert, TokenRepository } from '../../core/ports.js';
import { bytes, toApiToken } from '../rows.js';
import { TenantRepository } from './tenant-repository.js';

const TOKEN_COLUMNS =
  'tenant_id, id, principal_id, role, vault_id, expires_at, revoked_at, created_by, created_at';

export class SqlTokenRepository extends TenantRepository implements TokenRepository {
  async insert(t: TokenInsert) {
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

  async find(id: string) {
    const [row] = await this.c.query(
      `SELECT ${TOKEN_COLUMNS}, secret_hash FROM api_tokens WHERE tenant_id = $1 AND id = $2`,
      [this.tenantId, id],
    );
    return row ? { ...toApiToken(row), secretHash: bytes(row.secret_hash)! } : null;
  }

  async list(limit: number, afterId?: string) {
    const rows = await this.c.query(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)
        ORDER BY id LIMIT $3`,
      [this.tenantId, afterId ?? null, limit],
    );
    return rows.map(toApiToken);
  }

  async revoke(id: string, at: Date) {
    const [row] = await this.c.query(
      `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $3) WHERE tenant_id = $1 AND id = $2
       RETURNING ${TOKEN_COLUMNS}`,
      [this.tenantId, id, at],
    );
    return row ? toApiToken(row) : null;
  }
}
