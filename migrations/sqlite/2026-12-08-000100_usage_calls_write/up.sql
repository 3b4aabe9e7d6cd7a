-- Allowed requests that created or updated calls (POST /v1/calls, PATCH /v1/calls/{id}): the
-- kind of operation the new calls:write scope allows. Rows counted before keep 0.
ALTER TABLE key_usage_client_days ADD COLUMN calls_write BIGINT NOT NULL DEFAULT 0;
ALTER TABLE key_usage_clients ADD COLUMN calls_write BIGINT NOT NULL DEFAULT 0;
