ALTER TABLE key_usage_clients DROP COLUMN knowledge_write;
ALTER TABLE key_usage_clients DROP COLUMN knowledge_read;
ALTER TABLE key_usage_clients DROP COLUMN calls_delete;
ALTER TABLE key_usage_clients DROP COLUMN calls_read;
ALTER TABLE key_usage_client_days DROP COLUMN knowledge_write;
ALTER TABLE key_usage_client_days DROP COLUMN knowledge_read;
ALTER TABLE key_usage_client_days DROP COLUMN calls_delete;
ALTER TABLE key_usage_client_days DROP COLUMN calls_read;
