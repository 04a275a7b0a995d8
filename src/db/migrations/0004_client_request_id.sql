-- The request id of an access-log row is the server's own, so no caller can make two rows share
-- one. The id a caller sent (X-Request-Id) is kept beside it, for matching with the caller's logs.
ALTER TABLE credential_access_log
  ADD COLUMN client_request_id text CHECK (length(client_request_id) <= 128);
