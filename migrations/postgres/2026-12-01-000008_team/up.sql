-- Invitations to join a project (Settings → Team): the token is stored only as its SHA-256
-- (looked up through the unique index), valid 7 days, single use. One pending invitation per
-- email and project: inviting the email again revokes the old one first.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    invited_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE UNIQUE INDEX invitations_one_pending ON invitations (project_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
