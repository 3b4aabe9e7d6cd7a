-- Allowed requests by the kind of operation they were, as the key's scope decides it:
-- calls read (GET), calls delete, knowledge read (GET), knowledge write (create, delete).
-- Added by the same flush as `allowed` and `requests`. Rows counted before these columns
-- existed keep 0 in each: their requests are of no known kind (`allowed` less the four), and
-- an edit's "a new scope would refuse" warning does not count them.
ALTER TABLE key_usage_client_days ADD COLUMN calls_read BIGINT NOT NULL DEFAULT 0;
ALTER TABLE key_usage_client_days ADD COLUMN calls_delete BIGINT NOT NULL DEFAULT 0;
ALTER TABLE key_usage_client_days ADD COLUMN knowledge_read BIGINT NOT NULL DEFAULT 0;
ALTER TABLE key_usage_client_days ADD COLUMN knowledge_write BIGINT NOT NULL DEFAULT 0;
ALTER TABLE key_usage_clients ADD COLUMN calls_read BIGINT NOT NULL DEFAULT 0;
ALTER TABLE key_usage_clients ADD COLUMN calls_delete BIGINT NOT NULL DEFAULT 0;
ALTER TABLE key_usage_clients ADD COLUMN knowledge_read BIGINT NOT NULL DEFAULT 0;
ALTER TABLE key_usage_clients ADD COLUMN knowledge_write BIGINT NOT NULL DEFAULT 0;
