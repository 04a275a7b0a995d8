-- The registry schema. {{runtime_role}} and {{platform_role}} are replaced by the configured role
-- names as quoted identifiers, {{runtime_role_literal}} and {{platform_role_literal}} as string
-- literals, before this runs; the checksum covers the text as written here.
--
-- Every table carries tenant_id, keys and foreign keys include it, and indexes lead with it, so the
-- schema can be distributed by tenant_id (Citus) without change. Each table's policies compare
-- tenant_id to the transaction's tenant directly: no subqueries over parent tables.
--
-- NULLIF(current_setting(..., true), ''): the setting is missing before the first set_config on a
-- connection and '' after a transaction that set it ended; both must mean "no tenant", which
-- matches no row (fail closed) instead of raising an error.

-- Roles are shared by every database of the cluster. Look before creating: CREATE ROLE checks the
-- CREATEROLE privilege before existence, and an owner without it can still migrate a new database
-- once an administrator made the roles.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {{runtime_role_literal}}) THEN
    CREATE ROLE {{runtime_role}} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL; -- a concurrent migration of another database made it first
END $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {{platform_role_literal}}) THEN
    CREATE ROLE {{platform_role}} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END $$;

-- PostgreSQL 15's default, made explicit for older servers: no role may create objects in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
CREATE TABLE tenants (
  tenant_id  uuid PRIMARY KEY,
  name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
-- The platform role manages tenants and can touch no other table.
CREATE POLICY platform_manages_tenants ON tenants TO {{platform_role}} USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------------------------
CREATE TABLE principals (
  tenant_id  uuid NOT NULL REFERENCES tenants (tenant_id),
  id         uuid NOT NULL,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  kind       text NOT NULL CHECK (kind IN ('user', 'service')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, name)
);
ALTER TABLE principals ENABLE ROW LEVEL SECURITY;
ALTER TABLE principals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON principals
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

-- ---------------------------------------------------------------------------------------------
CREATE TABLE credential_vaults (
  tenant_id           uuid NOT NULL REFERENCES tenants (tenant_id),
  id                  uuid NOT NULL,
  name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description         text CHECK (length(description) <= 1000),
  max_versions        integer NOT NULL DEFAULT 10 CHECK (max_versions BETWEEN 1 AND 100),
  current_key_version integer NOT NULL DEFAULT 1 CHECK (current_key_version >= 1),
  created_by          text NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, name)
);
ALTER TABLE credential_vaults ENABLE ROW LEVEL SECURITY;
ALTER TABLE credential_vaults FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON credential_vaults
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

-- ---------------------------------------------------------------------------------------------
-- Vault keys, wrapped by the root key. Deleting the vault deletes them: crypto-shredding.
CREATE TABLE vault_keys (
  tenant_id       uuid NOT NULL,
  vault_id        uuid NOT NULL,
  version         integer NOT NULL CHECK (version >= 1),
  wrapped_key     bytea NOT NULL,
  provider        text NOT NULL,
  provider_key_id text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, vault_id, version),
  FOREIGN KEY (tenant_id, vault_id) REFERENCES credential_vaults (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE vault_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON vault_keys
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

-- ---------------------------------------------------------------------------------------------
CREATE TABLE stored_credentials (
  tenant_id         uuid NOT NULL,
  id                uuid NOT NULL,
  vault_id          uuid NOT NULL,
  name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  type              text NOT NULL CHECK (type IN ('api_key', 'bearer_token', 'basic_auth', 'oauth2_client',
                      'oauth2_token', 'certificate', 'ssh_key', 'connection_string', 'generic')),
  metadata          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  current_version   integer NOT NULL CHECK (current_version >= 1),
  expires_at        timestamptz,
  rotation_schedule text,
  is_active         boolean NOT NULL DEFAULT true,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  last_rotated_at   timestamptz,
  deleted_at        timestamptz,
  purge_after       timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, vault_id) REFERENCES credential_vaults (tenant_id, id) ON DELETE CASCADE,
  CHECK ((deleted_at IS NULL) = (purge_after IS NULL))
);
-- Names are unique among live credentials only: a soft-deleted one keeps its name until purged,
-- and restoring it conflicts if the name was reused meanwhile.
CREATE UNIQUE INDEX stored_credentials_live_name ON stored_credentials (tenant_id, vault_id, name)
  WHERE deleted_at IS NULL;
CREATE INDEX stored_credentials_by_vault ON stored_credentials (tenant_id, vault_id, name, id);
CREATE INDEX stored_credentials_purge_due ON stored_credentials (tenant_id, purge_after)
  WHERE purge_after IS NOT NULL;
ALTER TABLE stored_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE stored_credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON stored_credentials
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

-- ---------------------------------------------------------------------------------------------
-- One row per value a credential ever had. The ciphertext is NULL once retention destroyed it.
-- vault_key_version repeats the blob header so a key rotation can find the rows to re-wrap; the
-- foreign key keeps a vault-key version from being destroyed while a version still needs it.
CREATE TABLE credential_versions (
  tenant_id         uuid NOT NULL,
  credential_id     uuid NOT NULL,
  version           integer NOT NULL CHECK (version >= 1),
  vault_id          uuid NOT NULL,
  vault_key_version integer NOT NULL,
  ciphertext        bytea,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  destroyed_at      timestamptz,
  PRIMARY KEY (tenant_id, credential_id, version),
  FOREIGN KEY (tenant_id, credential_id) REFERENCES stored_credentials (tenant_id, id) ON DELETE CASCADE,
  -- Deferred: deleting a vault cascades to both tables, and the check must see the end state.
  FOREIGN KEY (tenant_id, vault_id, vault_key_version) REFERENCES vault_keys (tenant_id, vault_id, version)
    DEFERRABLE INITIALLY DEFERRED,
  CHECK ((ciphertext IS NULL) = (destroyed_at IS NOT NULL))
);
CREATE INDEX credential_versions_by_vault_key ON credential_versions (tenant_id, vault_id, vault_key_version)
  WHERE ciphertext IS NOT NULL;
ALTER TABLE credential_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE credential_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON credential_versions
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

-- ---------------------------------------------------------------------------------------------
-- The access log. No foreign keys at all: attempts on ids that do not exist (or were purged) are
-- recorded too, and a key to tenants would share-lock the tenant's row on every reveal (a hot row
-- under FOR KEY SHARE from many sessions degrades into MultiXact contention). Row-level security
-- still confines each row to its tenant. Append-only: the runtime role may only INSERT and
-- SELECT, and triggers reject UPDATE, DELETE and TRUNCATE from anyone, the owner included.
CREATE TABLE credential_access_log (
  tenant_id     uuid NOT NULL,
  id            uuid NOT NULL,
  occurred_at   timestamptz NOT NULL DEFAULT now(),
  credential_id uuid,
  vault_id      uuid,
  action        text NOT NULL CHECK (action IN ('store', 'reveal', 'rotate', 'update', 'deactivate', 'reactivate',
                  'delete', 'restore', 'purge', 'vault_create', 'vault_delete', 'key_create', 'key_rotate',
                  'key_rewrap', 'key_destroy')),
  outcome       text NOT NULL CHECK (outcome IN ('granted', 'denied', 'not_found', 'invalid', 'expired', 'inactive',
                  'conflict', 'error')),
  actor         text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
  reason        text CHECK (length(reason) <= 1000),
  source_ip     text CHECK (length(source_ip) <= 45),
  user_agent    text CHECK (length(user_agent) <= 512),
  request_id    text CHECK (length(request_id) <= 128),
  version       integer,
  error_code    text,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX credential_access_log_by_credential ON credential_access_log (tenant_id, credential_id, id DESC);
CREATE INDEX credential_access_log_by_time ON credential_access_log (tenant_id, occurred_at DESC);
ALTER TABLE credential_access_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE credential_access_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON credential_access_log
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

CREATE FUNCTION credreg_reject_access_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'credential_access_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON credential_access_log
  FOR EACH ROW EXECUTE FUNCTION credreg_reject_access_log_change();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON credential_access_log
  FOR EACH STATEMENT EXECUTE FUNCTION credreg_reject_access_log_change();

-- ---------------------------------------------------------------------------------------------
-- Grants. Nothing to PUBLIC; the runtime role gets what the service needs and no more.
REVOKE ALL ON tenants, principals, credential_vaults, vault_keys, stored_credentials, credential_versions,
  credential_access_log FROM PUBLIC;
GRANT SELECT ON tenants TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE, DELETE ON principals, credential_vaults, vault_keys, stored_credentials,
  credential_versions TO {{runtime_role}};
GRANT SELECT, INSERT ON credential_access_log TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE ON tenants TO {{platform_role}};
-- Readiness checks read the schema version as the runtime role (the login role may have no rights of its own).
GRANT SELECT ON credreg_migrations TO {{runtime_role}}, {{platform_role}};
