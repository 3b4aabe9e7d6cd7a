-- A key's life after creation: what it may do (scope: 'full', 'read' or a list such as
-- 'calls:read,knowledge:write'), the key that replaced it when it was rolled (with when, and
-- how many of its requests the usage tables already held in the roll's hour, so "requests
-- since the roll" can be told apart), and when it was reported leaked.
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'full';
ALTER TABLE api_keys ADD COLUMN replaced_by TEXT;
ALTER TABLE api_keys ADD COLUMN rolled_at TIMESTAMP;
ALTER TABLE api_keys ADD COLUMN roll_baseline BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN leak_reported_at TIMESTAMP;

-- What a change changed, as JSON ({"field": ["before", "after"], …}), for the events that say.
ALTER TABLE audit_events ADD COLUMN detail TEXT;

-- Allowed requests per key, client address and UTC day, added by the same flush as the other
-- usage tables: what an edit's "would be refused" warning counts over the last 7 days.
-- Pruned after 8 days.
CREATE TABLE key_usage_client_days (
    key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    day TIMESTAMP NOT NULL,
    allowed BIGINT NOT NULL,
    PRIMARY KEY (key_id, ip, day)
);
CREATE INDEX key_usage_client_days_day ON key_usage_client_days (day);
