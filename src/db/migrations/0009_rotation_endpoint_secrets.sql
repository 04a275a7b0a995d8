-- The signing secrets of the `webhook` rotator: the `whsec_…` secret each request to a credential's
-- rotation endpoint is signed with (Standard Webhooks). Held by the registry, never in the rotation
-- settings (which every reader of the credential sees), shown to the caller once.
--
-- rotation_endpoint_secrets  one row per active secret of a credential, kept exactly as a webhook
--                            subscription keeps its secret (0007): each row has its own 256-bit
--                            key, wrapped by the root key provider as a vault key is (the row's id
--                            stands in the vault's place in the key context), and the secret is
--                            sealed under it with the envelope format. Deleting the row destroys
--                            both; a root rotation re-wraps the key.
--
-- A credential has one current secret (retires_at null) and, while it is being replaced, the one
-- before it, which is still signed with until retires_at and then dropped. Every request carries a
-- signature per active secret, so the endpoint can move to the new one at its own pace.

CREATE TABLE rotation_endpoint_secrets (
  tenant_id         uuid NOT NULL,
  id                uuid NOT NULL,
  credential_id     uuid NOT NULL,
  -- The row's own key, wrapped by the root key (as vault_keys holds a vault key).
  wrapped_key       bytea NOT NULL,
  provider          text NOT NULL,
  provider_key_id   text NOT NULL,
  -- The signing secret, sealed under the row's key (envelope format 1), bound to tenant, row and credential.
  secret_ciphertext bytea NOT NULL,
  -- Set when a newer secret replaced it: signed with until then, dropped after.
  retires_at        timestamptz,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, credential_id) REFERENCES stored_credentials (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX rotation_endpoint_secrets_by_credential ON rotation_endpoint_secrets (tenant_id, credential_id, id);
-- One current secret per credential, so at most two are active: the current one and the one it replaced.
CREATE UNIQUE INDEX rotation_endpoint_secrets_one_current ON rotation_endpoint_secrets (tenant_id, credential_id)
  WHERE retires_at IS NULL;
ALTER TABLE rotation_endpoint_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE rotation_endpoint_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rotation_endpoint_secrets
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

-- The runtime role only: the platform role never needs a credential's signing secret.
REVOKE ALL ON rotation_endpoint_secrets FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON rotation_endpoint_secrets TO {{runtime_role}};
