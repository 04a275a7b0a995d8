-- Rotation that runs by itself: a credential's rotation settings, its state, and the version a
-- rotation has staged (pending) before it was tested and promoted.
--
-- rotation            {"schedule": "P30D" | cron, "rotator": {"type": …, …its settings}}; ids and
--                     options only, never a secret (it is shown in the credential's metadata)
-- next_rotation_at    when the scheduler should rotate it next (null: never by itself)
-- rotation_state      idle | rotating | failed | needs_reauthorization
-- pending_version     the version a rotation created and has not promoted yet; it is not current,
--                     and a reveal gets it only when asked for the pending stage
-- previous_version    the version that was current before the last promotion
-- rotation_lease_until while a rotation runs: no other caller or instance starts one before this
ALTER TABLE stored_credentials
  ADD COLUMN rotation             jsonb CHECK (rotation IS NULL OR jsonb_typeof(rotation) = 'object'),
  ADD COLUMN next_rotation_at     timestamptz,
  ADD COLUMN rotation_state       text NOT NULL DEFAULT 'idle'
                                  CHECK (rotation_state IN ('idle', 'rotating', 'failed', 'needs_reauthorization')),
  ADD COLUMN rotation_attempts    integer NOT NULL DEFAULT 0 CHECK (rotation_attempts >= 0),
  ADD COLUMN last_rotation_error  jsonb,
  ADD COLUMN pending_version      integer CHECK (pending_version IS NULL OR pending_version > current_version),
  ADD COLUMN previous_version     integer CHECK (previous_version IS NULL OR previous_version < current_version),
  ADD COLUMN rotation_lease_until timestamptz;

-- The scheduler's queue: one row per credential that rotates by itself, due at `due_at`. It is found
-- across every tenant by its index alone, so a tick costs what is due, not what is stored. The
-- platform role claims from it and sees nothing else of a credential: its id, its tenant and the
-- time. A claim moves `due_at` forward by a lease, so no other instance takes it meanwhile; the
-- rotation itself runs in the tenant, as the runtime role, which sets the next due time (or
-- removes the row) in the same transaction as the credential's own `next_rotation_at`.
CREATE TABLE due_rotations (
  tenant_id     uuid NOT NULL,
  credential_id uuid NOT NULL,
  due_at        timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, credential_id),
  FOREIGN KEY (tenant_id, credential_id) REFERENCES stored_credentials (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX due_rotations_by_time ON due_rotations (due_at);
ALTER TABLE due_rotations ENABLE ROW LEVEL SECURITY;
ALTER TABLE due_rotations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON due_rotations
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
CREATE POLICY platform_claims ON due_rotations TO {{platform_role}} USING (true) WITH CHECK (true);
REVOKE ALL ON due_rotations FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON due_rotations TO {{runtime_role}};
GRANT SELECT (tenant_id, credential_id, due_at), UPDATE (due_at) ON due_rotations TO {{platform_role}};

-- Rotation steps are logged as `rotate` rows; what the registry reveals for a rotator (an admin
-- credential, an OAuth client) is a `reveal` row with the rotation as its reason.
