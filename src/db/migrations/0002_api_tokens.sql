-- API tokens. A token is `crt.<tenant>.<id>.<secret>` (tenant) or `crp.<id>.<secret>` (platform);
-- only SHA-256 of the secret is stored. The public part names the row, so authentication is one
-- lookup by primary key, under the tenant the token names.

-- Tenant tokens: one role each, optionally limited to one vault (deleted with it).
CREATE TABLE api_tokens (
  tenant_id    uuid NOT NULL REFERENCES tenants (tenant_id),
  id           uuid NOT NULL,
  principal_id uuid NOT NULL,
  role         text NOT NULL CHECK (role IN ('admin', 'writer', 'reader', 'auditor')),
  vault_id     uuid,
  secret_hash  bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
  expires_at   timestamptz,
  revoked_at   timestamptz,
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, principal_id) REFERENCES principals (tenant_id, id),
  FOREIGN KEY (tenant_id, vault_id) REFERENCES credential_vaults (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX api_tokens_by_principal ON api_tokens (tenant_id, principal_id);
ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_tokens
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

-- Platform tokens belong to no tenant (a Citus reference table, if ever). Only the platform role
-- reaches them; the runtime role has no grant at all.
CREATE TABLE platform_tokens (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  secret_hash bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
  expires_at  timestamptz,
  revoked_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE platform_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON platform_tokens TO {{platform_role}} USING (true) WITH CHECK (true);

REVOKE ALL ON api_tokens, platform_tokens FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON api_tokens TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE ON platform_tokens TO {{platform_role}};

-- Token and principal management are logged, and so is every refused request (reads included).
ALTER TABLE credential_access_log DROP CONSTRAINT credential_access_log_action_check;
ALTER TABLE credential_access_log ADD CONSTRAINT credential_access_log_action_check CHECK (action IN (
    'store', 'reveal', 'rotate', 'update', 'deactivate', 'reactivate', 'delete', 'restore',
    'purge', 'vault_create', 'vault_delete', 'key_create', 'key_rotate', 'key_rewrap',
    'key_destroy', 'token_create', 'token_revoke', 'token_list', 'principal_create',
    'principal_list', 'read', 'audit_read'));
