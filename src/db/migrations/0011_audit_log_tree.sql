-- The tamper-evident audit log (docs/audit.md): each tenant's access log is also the leaves of an
-- RFC 9162 Merkle tree, appended by a sealer after commit, with signed checkpoints of its root.
--
-- seal_xid            on each access-log row: the id of the transaction that wrote it. The sealer
--                     appends committed rows in (seal_xid, id) order, and keeps a low-water mark:
--                     every row below it is a leaf. It moves up to the oldest transaction still
--                     running (pg_snapshot_xmin), so each pass reads only the rows above it, and a
--                     row that commits later is appended later: reveals never wait on the tree,
--                     and the tree's order is the order rows were sealed in (audit_log_leaves).
--                     Rows written before this migration are 0, so they are sealed first, in id
--                     (time) order. Added with a constant default first so the table is not rewritten.
-- audit_log_state     one row per tenant: the tree's size, its frontier (the roots of its perfect
--                     subtrees, largest first, concatenated), its root, and the low-water mark.
--                     The sealer holds it FOR UPDATE for one batch, so instances never fork a
--                     tree, and a batch commits whole or not at all.
-- audit_log_leaves    leaf i of the tenant's tree: which row, and the hash sealed for it.
-- audit_log_nodes     every perfect subtree of two leaves or more the tree has completed (level 1
--                     and up; node k of level l covers leaves k·2^l to (k+1)·2^l − 1): what
--                     inclusion and consistency proofs are read from. Never changes once written.
-- audit_checkpoints   signed tree heads, as the signed note text (C2SP tlog-checkpoint).
-- audit_signing_keys  the tenant's Ed25519 checkpoint keys: the public key as SPKI PEM, the private
--                     key sealed under a key of the row's own, which the root key provider wraps as
--                     it wraps a vault key (as webhook subscriptions keep their secrets, 0007). One
--                     current key (valid_to null); older keys stay, so old checkpoints still verify.
ALTER TABLE credential_access_log ADD COLUMN seal_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE credential_access_log ALTER COLUMN seal_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX credential_access_log_by_seal ON credential_access_log (tenant_id, seal_xid, id);

CREATE TABLE audit_log_state (
  tenant_id  uuid NOT NULL,
  tree_size  bigint NOT NULL CHECK (tree_size >= 0),
  frontier   bytea NOT NULL CHECK (length(frontier) % 32 = 0),
  root_hash  bytea NOT NULL CHECK (length(root_hash) = 32),
  sealed_below xid8 NOT NULL,
  sealed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id)
);

CREATE TABLE audit_log_leaves (
  tenant_id  uuid NOT NULL,
  leaf_index bigint NOT NULL CHECK (leaf_index >= 0),
  log_id     uuid NOT NULL,
  leaf_hash  bytea NOT NULL CHECK (length(leaf_hash) = 32),
  PRIMARY KEY (tenant_id, leaf_index),
  UNIQUE (tenant_id, log_id)
);

CREATE TABLE audit_log_nodes (
  tenant_id  uuid NOT NULL,
  level      smallint NOT NULL CHECK (level BETWEEN 1 AND 62),
  node_index bigint NOT NULL CHECK (node_index >= 0),
  hash       bytea NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (tenant_id, level, node_index)
);

CREATE TABLE audit_signing_keys (
  tenant_id              uuid NOT NULL,
  id                     uuid NOT NULL,
  public_key_pem         text NOT NULL CHECK (length(public_key_pem) <= 1000),
  wrapped_key            bytea NOT NULL,
  provider               text NOT NULL,
  provider_key_id        text NOT NULL,
  private_key_ciphertext bytea NOT NULL,
  valid_from             timestamptz NOT NULL,
  valid_to               timestamptz,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX audit_signing_keys_one_current ON audit_signing_keys (tenant_id) WHERE valid_to IS NULL;

CREATE TABLE audit_checkpoints (
  tenant_id uuid NOT NULL,
  tree_size bigint NOT NULL CHECK (tree_size >= 0),
  key_id    uuid NOT NULL,
  root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
  signed_at timestamptz NOT NULL,
  note      text NOT NULL CHECK (length(note) <= 4000),
  PRIMARY KEY (tenant_id, tree_size, key_id),
  FOREIGN KEY (tenant_id, key_id) REFERENCES audit_signing_keys (tenant_id, id)
);
CREATE INDEX audit_checkpoints_by_time ON audit_checkpoints (tenant_id, signed_at DESC);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['audit_log_state', 'audit_log_leaves', 'audit_log_nodes', 'audit_signing_keys',
                           'audit_checkpoints'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
      USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
      WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)$p$, t);
  END LOOP;
END $$;

-- The tree and its checkpoints are append-only as the access log is: triggers reject UPDATE,
-- DELETE and TRUNCATE from anyone, the owner included (the state row moves; the keys retire).
CREATE FUNCTION credreg_reject_audit_tree_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['audit_log_leaves', 'audit_log_nodes', 'audit_checkpoints'] LOOP
    EXECUTE format('CREATE TRIGGER %s_append_only BEFORE UPDATE OR DELETE ON %I
      FOR EACH ROW EXECUTE FUNCTION credreg_reject_audit_tree_change()', t, t);
    EXECUTE format('CREATE TRIGGER %s_no_truncate BEFORE TRUNCATE ON %I
      FOR EACH STATEMENT EXECUTE FUNCTION credreg_reject_audit_tree_change()', t, t);
  END LOOP;
END $$;

-- The sealer finds the tenants with rows to seal as the platform role: it may read which tenant a
-- row belongs to, its id and its place in seal order, nothing of what the row says; which rows
-- are leaves; and each tree's low-water mark. Sealing itself is the tenant's, as the runtime role.
CREATE POLICY platform_finds_unsealed ON credential_access_log FOR SELECT TO {{platform_role}} USING (true);
GRANT SELECT (tenant_id, id, seal_xid) ON credential_access_log TO {{platform_role}};
CREATE POLICY platform_finds_unsealed ON audit_log_leaves FOR SELECT TO {{platform_role}} USING (true);
GRANT SELECT (tenant_id, log_id) ON audit_log_leaves TO {{platform_role}};
CREATE POLICY platform_finds_unsealed ON audit_log_state FOR SELECT TO {{platform_role}} USING (true);
GRANT SELECT (tenant_id, sealed_below) ON audit_log_state TO {{platform_role}};

REVOKE ALL ON audit_log_state, audit_log_leaves, audit_log_nodes, audit_signing_keys, audit_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON audit_log_state TO {{runtime_role}};
GRANT SELECT, INSERT ON audit_log_leaves, audit_log_nodes, audit_checkpoints TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE ON audit_signing_keys TO {{runtime_role}};
