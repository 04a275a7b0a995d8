-- The tree's leaves stored a batch to a row (docs/audit.md, "What is stored"), not a row each.
--
-- Up to 0013 each leaf was a row of audit_log_leaves with two index entries: about 330 bytes of
-- WAL a leaf, half again what the reveal that wrote the row costs, and on PostgreSQL a reveal
-- waits on WAL. A run is the leaves one statement of the sealer appends, in one row of arrays:
-- about 50 bytes a leaf, and an index entry or two a batch (its late rows, then the rest).
-- Copying the leaves is one transaction, with WAL for all of them: on a large log, migrate in a
-- quiet window.
--
-- audit_log_leaf_runs  leaves first_index to first_index + n − 1 of the tenant's tree: the rows
--                      they were sealed from (log_ids) and their hashes, concatenated (32 bytes
--                      each). Runs follow each other with no gap; one is never changed. Stored
--                      uncompressed (hashes do not compress), out of line once a run is over about
--                      2 kB (40 leaves or so), where a proof reads one hash of it as a slice.
-- audit_log_state.probe_below
--                      while set, a row of a transaction below it that the sealer reads past its
--                      key may be a leaf already (the tree came through the probing walk: sealed
--                      before 0013, or restored into another cluster), so those reads are checked
--                      against the leaves; cleared once the key and every pending transaction are
--                      past it. Up to 0013 the leaves' unique key on the row's id checked every
--                      read; a run has no such key, and needs none once the position is exact.
CREATE TABLE audit_log_leaf_runs (
  tenant_id   uuid NOT NULL,
  first_index bigint NOT NULL CHECK (first_index >= 0),
  log_ids     uuid[] NOT NULL CHECK (array_ndims(log_ids) = 1 AND array_lower(log_ids, 1) = 1
                                     AND array_position(log_ids, NULL) IS NULL),
  leaf_hashes bytea NOT NULL CHECK (length(leaf_hashes) > 0),
  CHECK (length(leaf_hashes) = 32 * cardinality(log_ids)),
  PRIMARY KEY (tenant_id, first_index)
);
ALTER TABLE audit_log_leaf_runs ALTER COLUMN log_ids SET STORAGE EXTERNAL,
                                ALTER COLUMN leaf_hashes SET STORAGE EXTERNAL;

-- The leaves so far, as runs of up to 1,000 (as the sealer's batches are), read and written past
-- row-level security: the migration reads every tenant's.
ALTER TABLE audit_log_leaves NO FORCE ROW LEVEL SECURITY;
INSERT INTO audit_log_leaf_runs (tenant_id, first_index, log_ids, leaf_hashes)
SELECT tenant_id, min(leaf_index), array_agg(log_id ORDER BY leaf_index),
       string_agg(leaf_hash, ''::bytea ORDER BY leaf_index)
  FROM audit_log_leaves
 GROUP BY tenant_id, leaf_index / 1000;
DROP TABLE audit_log_leaves;

ALTER TABLE audit_log_leaf_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log_leaf_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log_leaf_runs
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
CREATE TRIGGER audit_log_leaf_runs_append_only BEFORE UPDATE OR DELETE ON audit_log_leaf_runs
  FOR EACH ROW EXECUTE FUNCTION credreg_reject_audit_tree_change();
CREATE TRIGGER audit_log_leaf_runs_no_truncate BEFORE TRUNCATE ON audit_log_leaf_runs
  FOR EACH STATEMENT EXECUTE FUNCTION credreg_reject_audit_tree_change();
REVOKE ALL ON audit_log_leaf_runs FROM PUBLIC;
GRANT SELECT, INSERT ON audit_log_leaf_runs TO {{runtime_role}};

-- Trees with a key: their positions may have come out of a probing walk that another key check
-- no longer backs, so each is checked once, up to the transactions that can have run so far.
ALTER TABLE audit_log_state ADD COLUMN probe_below xid8;
ALTER TABLE audit_log_state NO FORCE ROW LEVEL SECURITY;
UPDATE audit_log_state SET probe_below = pg_snapshot_xmax(pg_current_snapshot()) WHERE sealed_xid IS NOT NULL;
ALTER TABLE audit_log_state FORCE ROW LEVEL SECURITY;
