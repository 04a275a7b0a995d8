-- Events and webhooks: the transactional outbox and the tenant's subscriptions to it.
--
-- events                 the outbox: one row per change, written in the change's own transaction,
--                        so an event exists exactly when its change committed. ids and metadata
--                        only, never a credential value.
-- webhook_subscriptions  where a tenant's events go. The receiver's `whsec_…` signing secret is
--                        never stored in clear: each subscription has its own 256-bit key, wrapped
--                        by the root key provider exactly as a vault key is (the subscription's id
--                        stands in the vault's place in the key context), and the secret is sealed
--                        under it with the envelope format. Deleting the row destroys both.
-- webhook_deliveries     one row per (event, subscription): the work queue of the delivery worker,
--                        enqueued in the event's transaction.

CREATE TABLE events (
  tenant_id  uuid NOT NULL,
  id         uuid NOT NULL,
  type       text NOT NULL CHECK (type ~ '^[a-z]+(\.[a-z_]+)+$' AND length(type) <= 100),
  data       jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
  created_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON events
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

CREATE TABLE webhook_subscriptions (
  tenant_id            uuid NOT NULL REFERENCES tenants (tenant_id),
  id                   uuid NOT NULL,
  url                  text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
  -- null: every event type
  events               text[] CHECK (events IS NULL OR cardinality(events) BETWEEN 1 AND 50),
  -- The subscription key, wrapped by the root key (as vault_keys holds a vault key).
  wrapped_key          bytea NOT NULL,
  provider             text NOT NULL,
  provider_key_id      text NOT NULL,
  -- The signing secret, sealed under the subscription key (envelope format 1).
  secret_ciphertext    bytea NOT NULL,
  consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  disabled_at          timestamptz,
  created_by           text NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
ALTER TABLE webhook_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_subscriptions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_subscriptions
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

CREATE TABLE webhook_deliveries (
  tenant_id       uuid NOT NULL,
  id              uuid NOT NULL,
  subscription_id uuid NOT NULL,
  event_id        uuid NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL,
  -- The receiver's last HTTP status, and a short safe message (never its body).
  last_status     integer,
  last_error      text CHECK (length(last_error) <= 500),
  delivered_at    timestamptz,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, subscription_id, event_id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES webhook_subscriptions (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (tenant_id, subscription_id, id DESC);
-- The one index that does not lead with tenant_id: the worker finds due work across every tenant
-- by it alone, so a tick costs what is due, not what is stored (on Citus, one per shard).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
-- The platform role claims due deliveries across tenants, and sees nothing else: pending rows only,
-- four columns, and the one it may change is when the row is next due (the claim's lease). The
-- delivery itself (subscription, secret, event) is read in the tenant, as the runtime role.
CREATE POLICY platform_claims_due ON webhook_deliveries TO {{platform_role}}
  USING (status = 'pending') WITH CHECK (status = 'pending');

REVOKE ALL ON events, webhook_subscriptions, webhook_deliveries FROM PUBLIC;
-- The outbox is appended to and read, never changed. Deliveries go with their subscription (the
-- cascade), so the runtime role deletes subscriptions only.
GRANT SELECT, INSERT ON events TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_subscriptions TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE ON webhook_deliveries TO {{runtime_role}};
GRANT SELECT (tenant_id, id, status, next_attempt_at), UPDATE (next_attempt_at)
  ON webhook_deliveries TO {{platform_role}};

-- Webhook management is logged. The allowed actions are read from the constraint as it stands
-- (another migration may have widened it) and these added, so the order of such migrations does
-- not matter.
DO $$
DECLARE
  allowed text[];
BEGIN
  SELECT array_agg(DISTINCT m[1]) INTO allowed
    FROM pg_constraint k, regexp_matches(pg_get_constraintdef(k.oid), '''([a-z_]+)''', 'g') AS m
   WHERE k.conrelid = 'credential_access_log'::regclass AND k.conname = 'credential_access_log_action_check';
  allowed := allowed || ARRAY['webhook_create', 'webhook_delete', 'webhook_test'];
  ALTER TABLE credential_access_log DROP CONSTRAINT credential_access_log_action_check;
  EXECUTE format(
    'ALTER TABLE credential_access_log ADD CONSTRAINT credential_access_log_action_check CHECK (action = ANY (%L::text[]))',
    allowed);
END $$;
