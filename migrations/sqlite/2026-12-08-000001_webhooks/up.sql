-- Settings → Webhooks. A webhook's signing secret is stored sealed (AES-256-GCM under a key
-- derived from the server's secret key); during a roll the previous one signs too, until
-- `previous_secret_until`. `events` is the comma-separated list it is subscribed to.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    events TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    previous_secret_sealed TEXT,
    previous_secret_until TIMESTAMP,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    -- Why it is disabled: `gone` (a 410), `failing` (5 days of failures), `user`.
    disabled_reason TEXT,
    -- Who disabled it, as it read at the time (for `Disabled by …`).
    disabled_by TEXT,
    disabled_at TIMESTAMP,
    -- The first failed attempt with no success since (the 5 days count from it).
    failing_since TIMESTAMP,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhooks_by_project ON webhooks (project_id, created_at);

-- The outbox: one row per event, written in the transaction of the change that caused it.
-- `subject` is the call or key it is about; `seq` orders one subject's events (1, 2, …).
-- `payload` is the exact body sent.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    seq BIGINT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX webhook_events_subject_seq ON webhook_events (project_id, subject, seq);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- One delivery per event and subscribed webhook. Its id is the `webhook-id` header (`msg_…`),
-- the same for every attempt and resend. `state`: pending, delivered, failed. A worker claims a
-- pending delivery by setting `lease_until` (a killed worker's claim returns when it ends).
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    seq BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    last_status INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, subject, seq);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, created_at);

-- Each attempt of a delivery: what was sent (headers as JSON; the body is the event's payload)
-- and what came back (status or error, the first 4 KiB of the body).
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at TIMESTAMP NOT NULL,
    duration_ms BIGINT NOT NULL,
    status INTEGER,
    error TEXT,
    response_body TEXT NOT NULL DEFAULT '',
    request_headers TEXT NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, attempted_at);

-- Things done at most once across replicas (an expiry reminder per key and threshold, an
-- email): the unique `mark` is inserted before the thing is done. `payload` is what a queued
-- email needs; `claimed_at` is set by the one sender that took it.
CREATE TABLE notifications (
    mark TEXT PRIMARY KEY,
    project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    claimed_at TIMESTAMP
);
CREATE INDEX notifications_unclaimed ON notifications (created_at) WHERE claimed_at IS NULL;
