-- Each project's audit events form a hash chain (seq 1, 2, …; hash = SHA-256(prev_hash ‖ the
-- event's canonical bytes)), and keep what they show as it was at the time (actor_label,
-- target_label). The table is rebuilt without foreign keys: an event must outlive the user,
-- key or project it names (ON DELETE SET NULL / CASCADE would alter or delete recorded
-- events). The events recorded before the chain are moved in, chained, at start-up (the
-- hashes need SHA-256, which SQLite's SQL lacks): see `db::audit::chain_legacy_events`.
ALTER TABLE audit_events RENAME TO audit_events_legacy;

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_user_id TEXT,
    actor_key_id TEXT,
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT,
    target_label TEXT NOT NULL,
    ip TEXT,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- One event per place in a project's chain, whatever happens to the lock.
CREATE UNIQUE INDEX audit_events_chain ON audit_events (project_id, seq);
CREATE INDEX audit_events_time ON audit_events (project_id, created_at, id);
CREATE INDEX audit_events_target ON audit_events (project_id, target_type, target_id);

-- The end of each project's chain: appends lock this row (SELECT … FOR UPDATE), so they are
-- serialised per project and each event links to the one before it.
CREATE TABLE audit_chain_heads (
    project_id TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
