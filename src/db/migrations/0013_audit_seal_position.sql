-- Where the sealer stands in a tenant's log (docs/audit.md, "The sealer"), so that a pass reads
-- only the rows it has not read yet, however long a transaction stays open.
--
-- Up to 0011 a pass read every row at or above the low-water mark and probed each against the
-- leaves: a transaction left open (a backup, an idle session) holds the mark down, and each pass
-- then read every row written since, its cost growing with the time the transaction stays open.
--
-- sealed_xid, sealed_id  the largest (seal_xid, id) the sealer has read in seal order: every row
--                        of a transaction that had ended then, up to that key, is a leaf. Null
--                        while the sealer reads every row and probes it against the leaves: a
--                        tree sealed before this migration, or one restored into another cluster.
-- pending                the transactions that were still running when the sealer read past their
--                        ids: their rows sort below the key, so they are read by id once the
--                        transaction has ended. Never longer than the transactions running at once.
-- sealed_below           stays the low-water mark: where a tree sealed before this migration, which
--                        has no key yet, is read from, with the probe of the leaves, until a pass
--                        reads to the end; from then on it has a key.
ALTER TABLE audit_log_state
  ADD COLUMN sealed_xid xid8,
  ADD COLUMN sealed_id uuid,
  ADD COLUMN pending xid8[] NOT NULL DEFAULT '{}',
  ADD CONSTRAINT audit_log_state_key_whole CHECK ((sealed_xid IS NULL) = (sealed_id IS NULL));

-- The platform role tells which tenants have rows to seal by the same key.
GRANT SELECT (sealed_xid, sealed_id, pending) ON audit_log_state TO {{platform_role}};
