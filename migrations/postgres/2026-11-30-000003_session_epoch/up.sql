-- Bumped at sign-out: every session cookie issued before is refused, on every replica.
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
