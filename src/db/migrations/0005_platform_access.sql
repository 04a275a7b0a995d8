-- A tenant token refused on a platform route (`GET /v1/tenants`, …) leaves a row in the token's
-- own tenant: the refusal happens before any tenant work, but the attempt is still that tenant's.
ALTER TABLE credential_access_log DROP CONSTRAINT credential_access_log_action_check;
ALTER TABLE credential_access_log ADD CONSTRAINT credential_access_log_action_check CHECK (action IN (
    'store', 'reveal', 'rotate', 'update', 'deactivate', 'reactivate', 'delete', 'restore',
    'purge', 'vault_create', 'vault_delete', 'key_create', 'key_rotate', 'key_rewrap',
    'key_destroy', 'token_create', 'token_revoke', 'token_list', 'principal_create',
    'principal_list', 'read', 'audit_read', 'platform_access'));
