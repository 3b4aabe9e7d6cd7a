ALTER TABLE key_usage_clients DROP COLUMN calls_write;
ALTER TABLE key_usage_client_days DROP COLUMN calls_write;
