-- Portable schema: TEXT ids (24 hex chars), TIMESTAMP holding UTC, JSON kept as TEXT.
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE memberships (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    allowed_ips TEXT NOT NULL,
    expires_at TIMESTAMP NULL,
    last_used_at TIMESTAMP NULL,
    last_used_ip TEXT NULL,
    created_by TEXT NULL REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_by TEXT NULL REFERENCES users(id) ON DELETE SET NULL,
    revoked_at TIMESTAMP NULL
);
CREATE UNIQUE INDEX api_keys_hash_idx ON api_keys (key_hash);
CREATE INDEX api_keys_project_idx ON api_keys (project_id, created_at);

CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    duration DOUBLE PRECISION NOT NULL,
    summary TEXT NULL,
    evaluation TEXT NULL,
    ended_reason TEXT NULL,
    caller_number TEXT NULL,
    called_number TEXT NULL,
    is_engaged BOOLEAN NOT NULL,
    call_analysis TEXT NOT NULL,
    transcript TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX calls_project_created_idx ON calls (project_id, created_at DESC, id DESC);

CREATE TABLE knowledge_items (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NULL,
    text TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX knowledge_project_created_idx ON knowledge_items (project_id, created_at DESC, id DESC);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    project_id TEXT NULL REFERENCES projects(id) ON DELETE CASCADE,
    actor_user_id TEXT NULL REFERENCES users(id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NULL,
    ip TEXT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_project_idx ON audit_events (project_id, created_at);
