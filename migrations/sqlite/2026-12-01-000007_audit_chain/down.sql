DROP TABLE audit_chain_heads;
ALTER TABLE audit_events RENAME TO audit_events_chained;
DROP INDEX audit_events_chain;
DROP INDEX audit_events_time;
DROP INDEX audit_events_target;

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    project_id TEXT NULL REFERENCES projects(id) ON DELETE CASCADE,
    actor_user_id TEXT NULL REFERENCES users(id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NULL,
    ip TEXT NULL,
    created_at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL DEFAULT 'user',
    actor_key_id TEXT,
    detail TEXT
);
INSERT INTO audit_events
    (id, project_id, actor_user_id, action, target_type, target_id, ip, created_at,
     actor_kind, actor_key_id, detail)
SELECT c.id, c.project_id, (SELECT u.id FROM users u WHERE u.id = c.actor_user_id), c.action,
       c.target_type, c.target_id, c.ip, c.created_at, c.actor_kind, c.actor_key_id, c.detail
FROM audit_events_chained c
WHERE c.project_id IN (SELECT id FROM projects);
DROP TABLE audit_events_chained;
CREATE INDEX audit_events_project_idx ON audit_events (project_id, created_at);
