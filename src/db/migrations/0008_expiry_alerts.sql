-- Expiry alerts: `credential.expiring` once per window before a credential's `expires_at`, and
-- `credential.expired` once at it (see docs/rotation.md, "Expiry alerts").
--
-- expiry_alerts      on a credential or a vault: a JSON array of distinct ISO 8601 durations
--                    (["P30D","P7D","P1D"]); [] turns alerts off. Null on a credential: it inherits its
--                    vault's; null on a vault: the system default (["P30D","P7D","P1D"]).
-- last_expiry_alert  the narrowest window already announced for the credential's current
--                    `expires_at` (`expired` once the expiry itself was), null when none: a window is
--                    never announced twice for one expiry, however often its notices are rescheduled.
ALTER TABLE stored_credentials
  ADD COLUMN expiry_alerts     jsonb CHECK (expiry_alerts IS NULL OR jsonb_typeof(expiry_alerts) = 'array'),
  ADD COLUMN last_expiry_alert text CHECK (length(last_expiry_alert) <= 50);
ALTER TABLE credential_vaults
  ADD COLUMN expiry_alerts jsonb CHECK (expiry_alerts IS NULL OR jsonb_typeof(expiry_alerts) = 'array');

-- The notices still to send: one row per credential and window (`expired` for the expiry itself),
-- due at `due_at` by the registry's clock. Kept in step with the credential in the transaction that
-- changes its expiry, its alerts or its life cycle (always holding the credential's row lock), and
-- removed in the transaction that sends it, so each is sent once however many instances sweep. The
-- sweep finds due rows across every tenant by the index alone, so its cost is what is due, not what
-- is stored. The platform role may only read the four columns that find due work; sending is the
-- tenant's, as the runtime role.
CREATE TABLE expiry_notices (
  tenant_id     uuid NOT NULL,
  credential_id uuid NOT NULL,
  alert_window  text NOT NULL CHECK (length(alert_window) BETWEEN 1 AND 50),
  due_at        timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, credential_id, alert_window),
  FOREIGN KEY (tenant_id, credential_id) REFERENCES stored_credentials (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX expiry_notices_by_time ON expiry_notices (due_at);
ALTER TABLE expiry_notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE expiry_notices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON expiry_notices
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
-- Reading only: the platform role finds due notices and can change none.
CREATE POLICY platform_finds_due ON expiry_notices FOR SELECT TO {{platform_role}} USING (true);
REVOKE ALL ON expiry_notices FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON expiry_notices TO {{runtime_role}};
GRANT SELECT (tenant_id, credential_id, alert_window, due_at) ON expiry_notices TO {{platform_role}};

-- The access-log actions this adds (`vault_update`, `expiry_alert`) are allowed by 0010.
