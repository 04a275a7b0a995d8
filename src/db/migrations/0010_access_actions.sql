-- The access-log actions of the lifecycle: a vault's settings changed (`vault_update`, 0008), a
-- failed attempt at sending a credential's expiry notice (`expiry_alert`, 0008; a notice sent is
-- its event, not an access), and a disabled webhook subscription enabled again (`webhook_enable`).
-- The whole list is written out, as 0005 did: migrations run in order, so the set before this one
-- is known, and a test compares the constraint with the actions the code logs. Added NOT VALID and
-- validated after, so the check of the existing rows does not hold writes to the log meanwhile.
ALTER TABLE credential_access_log DROP CONSTRAINT credential_access_log_action_check;
ALTER TABLE credential_access_log ADD CONSTRAINT credential_access_log_action_check CHECK (action IN (
  'store', 'reveal', 'rotate', 'update', 'deactivate', 'reactivate', 'delete', 'restore', 'purge',
  'vault_create', 'vault_update', 'vault_delete',
  'key_create', 'key_rotate', 'key_rewrap', 'key_destroy',
  'token_create', 'token_revoke', 'token_list', 'principal_create', 'principal_list',
  'read', 'audit_read', 'platform_access',
  'webhook_create', 'webhook_delete', 'webhook_test', 'webhook_enable',
  'expiry_alert'
)) NOT VALID;
ALTER TABLE credential_access_log VALIDATE CONSTRAINT credential_access_log_action_check;
