//! Queries on `invitations`: invite (replacing a pending invitation of the same email), list
//! the pending ones, revoke, find by token, and accept — single use, race-safe: the accept
//! marks the invitation in the same transaction that adds the membership, with a conditional
//! UPDATE, so two accepts of one token make one join.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{InvitationId, ProjectId, UserId};
use crate::domain::one_time_token::{self, OneTimeToken};
use crate::domain::role::Role;
use crate::domain::team::{self, Refusal, INVITATION_DAYS};

use super::audit::{self, Actor, Change, Event};
use super::memberships::TeamError;
use super::models::{Invitation, Membership, NewUser};
use super::schema::{invitations, memberships, projects, users};
use super::{DbConnection, DbError};

/// Not accepted, not revoked, not expired.
macro_rules! pending {
    ($now:expr) => {
        invitations::accepted_at
            .is_null()
            .and(invitations::revoked_at.is_null())
            .and(invitations::expires_at.gt($now))
    };
}

/// What an invitation is made of.
#[derive(Debug)]
pub struct Invite<'a> {
    pub project_id: &'a ProjectId,
    /// Normalised (`EmailAddress`).
    pub email: &'a str,
    pub role: Role,
    pub by: &'a UserId,
    /// The inviter's role, as the request found it.
    pub by_role: Role,
    pub ip: Option<&'a str>,
}

/// Why an invitation was not made.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("This person is already a member of the project.")]
    AlreadyMember,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for InviteError {
    fn from(e: diesel::result::Error) -> Self {
        InviteError::Db(DbError::Query(e))
    }
}

/// Creates an invitation and its `member.invited` event; a pending invitation of the same
/// email to the project is revoked first (replaced). Returns the token, the only time it
/// exists in clear.
pub fn create(
    conn: &mut DbConnection,
    invite: &Invite<'_>,
    now: NaiveDateTime,
) -> Result<(InvitationId, OneTimeToken), InviteError> {
    team::may_invite(invite.by_role, invite.role)?;
    conn.transaction::<_, InviteError, _>(|conn| {
        if super::memberships::has_member_with_email(conn, invite.project_id, invite.email)? {
            return Err(InviteError::AlreadyMember);
        }
        diesel::update(
            invitations::table
                .filter(invitations::project_id.eq(invite.project_id))
                .filter(invitations::email.eq(invite.email))
                .filter(invitations::accepted_at.is_null())
                .filter(invitations::revoked_at.is_null()),
        )
        .set(invitations::revoked_at.eq(Some(now)))
        .execute(conn)?;
        let id = InvitationId::generate();
        let token = OneTimeToken::generate();
        let detail = serde_json::json!({
            "email": [null, invite.email],
            "role": [null, invite.role.as_str()],
        })
        .to_string();
        let event = Event {
            project_id: invite.project_id,
            actor: Actor::User(invite.by),
            action: "member.invited",
            target_type: "invitation",
            target_id: id.as_str(),
            ip: invite.ip,
            detail: Some(detail),
        };
        audit::audited(conn, &event, now, |conn| {
            diesel::insert_into(invitations::table)
                .values(Invitation {
                    id: id.clone(),
                    project_id: invite.project_id.clone(),
                    email: invite.email.to_owned(),
                    role: invite.role,
                    token_hash: token.hash(),
                    invited_by: Some(invite.by.clone()),
                    created_at: now,
                    expires_at: now + chrono::Duration::days(INVITATION_DAYS as i64),
                    accepted_at: None,
                    revoked_at: None,
                })
                .execute(conn)?;
            Ok(Change::Made(()))
        })?;
        Ok((id, token))
    })
}

/// A pending invitation as Team lists it, with who invited.
#[derive(Debug, Clone, Queryable)]
pub struct PendingRow {
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    pub expires_at: NaiveDateTime,
    pub invited_by_email: Option<String>,
    pub invited_by_name: Option<String>,
}

/// The project's pending invitations, newest first.
pub fn pending(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    now: NaiveDateTime,
) -> QueryResult<Vec<PendingRow>> {
    invitations::table
        .left_join(users::table)
        .filter(invitations::project_id.eq(project_id))
        .filter(pending!(now))
        .order((invitations::created_at.desc(), invitations::id.desc()))
        .select((
            invitations::id,
            invitations::email,
            invitations::role,
            invitations::expires_at,
            users::email.nullable(),
            users::display_name.nullable(),
        ))
        .load(conn)
}

/// Revokes a pending invitation of the project (`invitation.revoked`); false when there is
/// none by that id.
pub fn revoke(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &InvitationId,
    by: &UserId,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let event = Event {
        project_id,
        actor: Actor::User(by),
        action: "invitation.revoked",
        target_type: "invitation",
        target_id: id.as_str(),
        ip,
        detail: None,
    };
    audit::audited_if(conn, &event, now, |conn| {
        diesel::update(
            invitations::table
                .find(id)
                .filter(invitations::project_id.eq(project_id))
                .filter(invitations::accepted_at.is_null())
                .filter(invitations::revoked_at.is_null()),
        )
        .set(invitations::revoked_at.eq(Some(now)))
        .execute(conn)
        .map(|n| n > 0)
    })
}

/// A valid invitation, as the accept page shows it.
#[derive(Debug, Clone)]
pub struct Found {
    pub invitation: Invitation,
    pub project_name: String,
    /// The inviter's display name or email (None when that user is gone).
    pub invited_by: Option<String>,
    /// Whether an account with the invited email exists.
    pub account_exists: bool,
}

/// The pending invitation whose token this is (looked up by its hash), or None for an
/// unknown, used, revoked or expired one.
pub fn find_valid(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<Found>> {
    let Some(hash) = one_time_token::lookup_hash(token) else {
        return Ok(None);
    };
    let found: Option<(Invitation, String)> = invitations::table
        .inner_join(projects::table)
        .filter(invitations::token_hash.eq(&hash))
        .filter(pending!(now))
        .select((Invitation::as_select(), projects::name))
        .first(conn)
        .optional()?;
    let Some((invitation, project_name)) = found else {
        return Ok(None);
    };
    let invited_by = match &invitation.invited_by {
        Some(id) => users::table
            .find(id)
            .select((users::display_name, users::email))
            .first::<(Option<String>, String)>(conn)
            .optional()?
            .map(|(name, email)| name.unwrap_or(email)),
        None => None,
    };
    let account_exists = super::users::find_by_email(conn, &invitation.email)?.is_some();
    Ok(Some(Found {
        invitation,
        project_name,
        invited_by,
        account_exists,
    }))
}

/// Who accepts an invitation.
#[derive(Debug)]
pub enum Joiner<'a> {
    /// An account with the invited email (signed in, or who just gave its password).
    Existing(&'a UserId),
    /// A new account for the invited email.
    New {
        password_hash: &'a str,
        display_name: Option<&'a str>,
    },
}

/// Accepts the invitation: marks it accepted (only if still pending: a second accept of the
/// same token finds nothing), creates the account when new, adds the membership and records
/// `member.joined`, all in one transaction. Returns the user and project, or None when the
/// invitation is no longer valid.
pub fn accept(
    conn: &mut DbConnection,
    invitation: &Invitation,
    joiner: Joiner<'_>,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> Result<Option<UserId>, TeamError> {
    conn.transaction::<_, TeamError, _>(|conn| {
        let taken = diesel::update(
            invitations::table
                .find(&invitation.id)
                .filter(pending!(now)),
        )
        .set(invitations::accepted_at.eq(Some(now)))
        .execute(conn)?;
        if taken == 0 {
            return Ok(None);
        }
        let user_id = match joiner {
            Joiner::Existing(id) => id.clone(),
            Joiner::New {
                password_hash,
                display_name,
            } => {
                if super::users::find_by_email(conn, &invitation.email)?.is_some() {
                    // Someone made the account meanwhile: they sign in instead.
                    return Err(TeamError::NotFound);
                }
                let id = UserId::generate();
                super::users::insert(
                    conn,
                    &NewUser {
                        id: &id,
                        email: &invitation.email,
                        password_hash,
                        created_at: now,
                    },
                )?;
                if let Some(name) = display_name {
                    diesel::update(users::table.find(&id))
                        .set(users::display_name.eq(Some(name)))
                        .execute(conn)?;
                }
                id
            }
        };
        let event = Event {
            project_id: &invitation.project_id,
            actor: Actor::User(&user_id),
            action: "member.joined",
            target_type: "member",
            target_id: user_id.as_str(),
            ip,
            detail: Some(team::role_change_detail(None, invitation.role)),
        };
        audit::audited(conn, &event, now, |conn| {
            // Already a member (added another way meanwhile): the role they have stays.
            if super::memberships::role_of(conn, &user_id, &invitation.project_id)?.is_some() {
                return Ok(Change::Unchanged(()));
            }
            diesel::insert_into(memberships::table)
                .values(Membership {
                    project_id: invitation.project_id.clone(),
                    user_id: user_id.clone(),
                    role: invitation.role,
                    created_at: now,
                })
                .execute(conn)?;
            Ok(Change::Made(()))
        })?;
        Ok(Some(user_id))
    })
}
