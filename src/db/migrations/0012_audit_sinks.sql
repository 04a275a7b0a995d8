-- Audit sinks (docs/operations.md, "Sinks"): every sealed access-log row is streamed, at least
-- once, to each configured sink (a file, syslog, an HTTP collector, stdout), in leaf order.
--
-- audit_sink_cursors  one row per (tenant, sink): every leaf below delivered_below has been
--                     acknowledged by the sink, and the checkpoint of checkpoint_size leaves too
--                     (null: none yet). The sealed order is final, so a leaf index is an exact
--                     cursor. leased_until is the claim of one instance that is sending the next
--                     batch (outside any transaction, the sink may be slow); it lapses by the
--                     database's clock if that instance dies, and the batch is sent again.
--                     A sink is named by the platform operator's configuration, or is a tenant's
--                     own (`tenant:<id>`, below): a row whose sink is gone is left alone, and
--                     resumes if the name comes back.
-- tenant_audit_sinks  http sinks a tenant's admin added for the tenant's own rows (its URL, checked
--                     against the webhooks' URL policy when added and at connect time).
CREATE TABLE audit_sink_cursors (
  tenant_id       uuid NOT NULL,
  sink            text NOT NULL CHECK (sink ~ '^([a-z0-9][a-z0-9_-]{0,62}|tenant:[0-9a-f-]{36})$'),
  delivered_below bigint NOT NULL DEFAULT 0 CHECK (delivered_below >= 0),
  checkpoint_size bigint CHECK (checkpoint_size >= 0),
  leased_until    timestamptz,
  delivered_at    timestamptz,
  PRIMARY KEY (tenant_id, sink)
);
ALTER TABLE audit_sink_cursors ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_sink_cursors FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_sink_cursors
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

CREATE TABLE tenant_audit_sinks (
  tenant_id  uuid NOT NULL,
  id         uuid NOT NULL,
  url        text NOT NULL CHECK (length(url) <= 2048),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
ALTER TABLE tenant_audit_sinks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_audit_sinks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_audit_sinks
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

-- A tenant's admin adding or removing one of its sinks is logged. The whole list, as 0010 wrote it.
ALTER TABLE credential_access_log DROP CONSTRAINT credential_access_log_action_check;
ALTER TABLE credential_access_log ADD CONSTRAINT credential_access_log_action_check CHECK (action IN (
  'store', 'reveal', 'rotate', 'update', 'deactivate', 'reactivate', 'delete', 'restore', 'purge',
  'vault_create', 'vault_update', 'vault_delete',
  'key_create', 'key_rotate', 'key_rewrap', 'key_destroy',
  'token_create', 'token_revoke', 'token_list', 'principal_create', 'principal_list',
  'read', 'audit_read', 'platform_access',
  'webhook_create', 'webhook_delete', 'webhook_test', 'webhook_enable',
  'expiry_alert',
  'audit_sink_create', 'audit_sink_delete'
)) NOT VALID;
ALTER TABLE credential_access_log VALIDATE CONSTRAINT credential_access_log_action_check;

-- Which tenants a sink is behind, and by how much (the lag metric), is asked as the platform role
-- in one statement: it may read each tree's size, the size of each checkpoint, and the cursors.
-- Counts and positions only, nothing a row says. Sending is the tenant's, as the runtime role.
CREATE POLICY platform_finds_undelivered ON audit_sink_cursors FOR SELECT TO {{platform_role}} USING (true);
GRANT SELECT (tenant_id, sink, delivered_below, checkpoint_size) ON audit_sink_cursors TO {{platform_role}};
GRANT SELECT (tree_size) ON audit_log_state TO {{platform_role}};
CREATE POLICY platform_finds_undelivered ON audit_checkpoints FOR SELECT TO {{platform_role}} USING (true);
GRANT SELECT (tenant_id, tree_size) ON audit_checkpoints TO {{platform_role}};
-- Which tenant sinks exist, by id; their URLs are read in their tenant.
CREATE POLICY platform_finds_undelivered ON tenant_audit_sinks FOR SELECT TO {{platform_role}} USING (true);
GRANT SELECT (tenant_id, id) ON tenant_audit_sinks TO {{platform_role}};

REVOKE ALL ON audit_sink_cursors, tenant_audit_sinks FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON audit_sink_cursors TO {{runtime_role}};
GRANT SELECT, INSERT, DELETE ON tenant_audit_sinks TO {{runtime_role}};
