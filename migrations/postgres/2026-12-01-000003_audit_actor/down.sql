ALTER TABLE audit_events DROP COLUMN actor_key_id;
ALTER TABLE audit_events DROP COLUMN actor_kind;
