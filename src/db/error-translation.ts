import { RegistryError } from '../core/errors.js';

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
