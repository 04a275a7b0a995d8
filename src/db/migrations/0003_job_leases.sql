-- Scheduled upkeep runs once per interval across every instance sharing the database, not once per
-- instance. An instance runs a job only after claiming its lease: one atomic UPDATE of the job's
-- row that moves next_run_at forward, and only if it was due. Nothing is held between statements
-- (no session advisory lock), so it works behind a pooler in transaction mode; a holder that
-- crashes simply lets its lease lapse.
--
-- A job belongs to no tenant: only the platform role reaches the table, as for platform_tokens.
CREATE TABLE job_leases (
  name        text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
  next_run_at timestamptz NOT NULL,
  -- Who claimed the last run (host and process): for operators, never for a decision.
  holder      text CHECK (length(holder) BETWEEN 1 AND 200)
);

-- One row per job, due from now on. Seeded before row-level security is forced: a forced policy for
-- the platform role alone would refuse this insert to an owner that is not a superuser.
INSERT INTO job_leases (name, next_run_at) VALUES ('maintenance', now());

ALTER TABLE job_leases ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_leases FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON job_leases TO {{platform_role}} USING (true) WITH CHECK (true);

-- Exactly what the claim needs: its WHERE and RETURNING read name and next_run_at, its SET writes
-- next_run_at and holder. No INSERT or DELETE (jobs come from migrations), nothing for the runtime role.
REVOKE ALL ON job_leases FROM PUBLIC;
GRANT SELECT (name, next_run_at), UPDATE (next_run_at, holder) ON job_leases TO {{platform_role}};
