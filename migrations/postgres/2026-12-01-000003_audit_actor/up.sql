-- Who made a change: a user (actor_user_id), an API key (actor_key_id, for changes made
-- through /v1) or the command line (neither).
ALTER TABLE audit_events ADD COLUMN actor_kind TEXT NOT NULL DEFAULT 'user';
ALTER TABLE audit_events ADD COLUMN actor_key_id TEXT;
UPDATE audit_events SET actor_kind = 'command_line' WHERE actor_user_id IS NULL;
