DROP INDEX invitations_by_email;
DROP INDEX invitations_by_project;
DROP INDEX invitations_by_inviter;
ALTER TABLE invitations DROP COLUMN link_shown;
ALTER TABLE users DROP COLUMN email_verified_at;
