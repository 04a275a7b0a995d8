import type { PrincipalRepository } from '../../core/ports.js';
import { toPrincipal } from '../rows.js';
import { TenantRepository } from './tenant-repository.js';

const PRINCIPAL_COLUMNS = 'tenant_id, id, name, kind, created_at';

export class SqlPrincipalRepository extends TenantRepository implements PrincipalRepository {
  async insert(p: { id: string; name: string; kind: 'user' | 'service' }) {
    const [row] = await this.c.query(
      `INSERT INTO principals (tenant_id, id, name, kind) VALUES ($1, $2, $3, $4) RETURNING ${PRINCIPAL_COLUMNS}`,
      [this.tenantId, p.id, p.name, p.kind],
    );
    return toPrincipal(row!);
  }

  async find(id: string) {
    const [row] = await this.c.query(
      `SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE tenant_id = $1 AND id = $2`,
      [this.tenantId, id],
    );
    return row ? toPrincipal(row) : null;
  }

  async list(limit: number, afterName?: string) {
    const rows = await this.c.query(
      `SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE tenant_id = $1 AND ($2::text IS NULL OR name > $2) ORDER BY name LIMIT $3`,
      [this.tenantId, afterName ?? null, limit],
    );
    return rows.map(toPrincipal);
  }
}
