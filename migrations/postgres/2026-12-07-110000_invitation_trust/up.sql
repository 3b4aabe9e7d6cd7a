-- Invitations a team can trust (issue 18).
--
-- `users.email_verified_at`: when the account's email was shown to belong to it — by the
-- operator (setup, `callem user create`) or by accepting an invitation whose link was only
-- emailed. NULL for an account made from a link that was shown on screen: whoever held the
-- link chose its password, so `callem user create` will not adopt it without
-- `--reset-password`. Accounts made before this migration count as verified, except those
-- made by accepting an invitation (then the link had always been shown): the account's
-- creation and the invitation's acceptance carry the same instant.
ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMP;
UPDATE users SET email_verified_at = created_at
    WHERE NOT EXISTS (
        SELECT 1 FROM invitations
        WHERE invitations.email = users.email AND invitations.accepted_at = users.created_at
    );

-- `invitations.link_shown`: whether the inviter saw the link (email off, or an existing
-- account, which must still give its password). Invitations made before were all shown.
ALTER TABLE invitations ADD COLUMN link_shown BOOLEAN NOT NULL DEFAULT TRUE;

-- The invitation limits count recent invitations per inviter, per project and per address.
CREATE INDEX invitations_by_inviter ON invitations (invited_by, created_at);
CREATE INDEX invitations_by_project ON invitations (project_id, created_at);
CREATE INDEX invitations_by_email ON invitations (email, created_at);
