-- Uses of each API key, counted in memory and added here by each server's flush (every 10 s):
-- per UTC hour and outcome, and per client address. Rows go with their key.
CREATE TABLE key_usage_hourly (
    key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    hour TIMESTAMP NOT NULL,
    outcome TEXT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (key_id, hour, outcome)
);
CREATE INDEX key_usage_hourly_hour ON key_usage_hourly (hour);

CREATE TABLE key_usage_clients (
    key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    requests BIGINT NOT NULL,
    refused BIGINT NOT NULL,
    PRIMARY KEY (key_id, ip)
);
CREATE INDEX key_usage_clients_last_seen ON key_usage_clients (key_id, last_seen);
