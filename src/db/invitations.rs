//! Queries on `invitations`: invite (replacing a pending invitation of the same email, within
//! the limits counted here), list the pending ones, revoke (by hand, or those a removed or
//! demoted inviter made), find by token, and accept — single use, race-safe: the accept
//! marks the invitation in the same transaction that adds the membership, with a conditional
//! UPDATE, so two accepts of one token make one join; and only while the inviter may still
//! grant the role.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{InvitationId, ProjectId, UserId};
use crate::domain::one_time_token::{self, OneTimeToken};
use crate::domain::role::Role;
use crate::domain::team::{self, RecentInvitations, Refusal, TooMany, INVITATION_DAYS};

use super::audit::{self, Change, Event};
use super::memberships::TeamError;
use super::models::{Invitation, Membership, NewUser};
use super::schema::{invitations, memberships, projects, users};
use super::{DbConnection, DbError};
use crate::domain::action::Action;
use crate::domain::actor::Actor;
use crate::domain::client_ip::ClientAddr;

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
    /// A member of the project (any other actor is refused).
    pub by: &'a Actor,
    /// Whether email is set up: the invitation is then emailed (and counted against the
    /// address's limit) and its link is not shown.
    pub email_configured: bool,
}

/// A new invitation: its token (the only time it exists in clear) and whether its link may
/// be shown to the inviter.
#[derive(Debug)]
pub struct Created {
    pub id: InvitationId,
    pub token: OneTimeToken,
    pub link_shown: bool,
}

/// Why an invitation was not made.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("This person is already a member of the project.")]
    AlreadyMember,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    TooMany(#[from] TooMany),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for InviteError {
    fn from(e: diesel::result::Error) -> Self {
        InviteError::Db(DbError::Query(e))
    }
}

/// Serialises the invitation limits' counts on PostgreSQL, where two replicas could otherwise
/// both count 19 and both make the 20th: a transaction-scoped advisory lock per inviter and
/// per address (the project's own count is already serialised by its audit chain's lock),
/// taken in a fixed order so two invitations cannot deadlock. SQLite serialises writers.
fn lock_counts(conn: &mut DbConnection, keys: &mut [String]) -> QueryResult<()> {
    if let DbConnection::Pg(pg) = conn {
        keys.sort();
        for key in keys.iter() {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind::<diesel::sql_types::Text, _>(key)
                .execute(pg)?;
        }
    }
    Ok(())
}

/// The invitations counted against the limits before a new one is made.
fn recent(
    conn: &mut DbConnection,
    invite: &Invite<'_>,
    inviter: &UserId,
    now: NaiveDateTime,
) -> QueryResult<RecentInvitations> {
    let hour_ago = now - chrono::Duration::hours(1);
    let by_inviter = invitations::table
        .filter(invitations::invited_by.eq(inviter))
        .filter(invitations::created_at.gt(hour_ago))
        .count()
        .get_result(conn)?;
    let in_project = invitations::table
        .filter(invitations::project_id.eq(invite.project_id))
        .filter(invitations::created_at.gt(hour_ago))
        .count()
        .get_result(conn)?;
    let to_address = if invite.email_configured {
        Some(
            invitations::table
                .filter(invitations::email.eq(invite.email))
                .filter(invitations::created_at.gt(now - chrono::Duration::days(1)))
                .count()
                .get_result(conn)?,
        )
    } else {
        None
    };
    Ok(RecentInvitations {
        by_inviter,
        in_project,
        to_address,
    })
}

/// Creates an invitation and its `member.invited` event; a pending invitation of the same
/// email to the project is revoked first (replaced). The inviter's role is read in the
/// transaction (a demotion that commits first is seen), and the limits are counted there.
pub fn create(
    conn: &mut DbConnection,
    invite: &Invite<'_>,
    now: NaiveDateTime,
) -> Result<Created, InviteError> {
    super::audit::locked::<_, InviteError, _>(conn, invite.project_id, |conn| {
        let inviter = invite.by.user_id().ok_or(Refusal::NotAllowed)?;
        let actor = super::memberships::role_of(conn, inviter, invite.project_id)?
            .ok_or(Refusal::NotAllowed)?;
        team::may_invite(actor, invite.role)?;
        if super::memberships::has_member_with_email(conn, invite.project_id, invite.email)? {
            return Err(InviteError::AlreadyMember);
        }
        lock_counts(
            conn,
            &mut [
                format!("callem.invitations.by.{inviter}"),
                format!("callem.invitations.to.{}", invite.email),
            ],
        )?;
        team::within_limits(recent(conn, invite, inviter, now)?)?;
        let replaced: Option<Role> = invitations::table
            .filter(invitations::project_id.eq(invite.project_id))
            .filter(invitations::email.eq(invite.email))
            .filter(pending!(now))
            .select(invitations::role)
            .first(conn)
            .optional()?;
        if let Some(role) = replaced {
            team::may_revoke_invitation(actor, role)?;
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
        let link_shown = team::link_is_shown(invite.email_configured);
        let detail = serde_json::json!({
            "email": [null, invite.email],
            "role": [null, invite.role.as_str()],
        })
        .to_string();
        let event = Event {
            detail: Some(detail),
            ..Event::new(
                invite.project_id,
                invite.by,
                Action::MemberInvited,
                id.as_str(),
            )
        };
        audit::audited(conn, &event, now, |conn| {
            diesel::insert_into(invitations::table)
                .values(Invitation {
                    id: id.clone(),
                    project_id: invite.project_id.clone(),
                    email: invite.email.to_owned(),
                    role: invite.role,
                    token_hash: token.hash(),
                    invited_by: Some(inviter.clone()),
                    created_at: now,
                    expires_at: now + chrono::Duration::days(INVITATION_DAYS as i64),
                    accepted_at: None,
                    revoked_at: None,
                    link_shown,
                })
                .execute(conn)?;
            Ok(Change::Made(()))
        })?;
        Ok(Created {
            id,
            token,
            link_shown,
        })
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

/// Revokes a pending invitation of the project (`invitation.revoked`). Ok(false) when there
/// is none by that id; refused when the asker may not (an Admin and an invitation to the
/// Owner role). The asker's role is read in the transaction.
pub fn revoke(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &InvitationId,
    by: &Actor,
    now: NaiveDateTime,
) -> Result<bool, TeamError> {
    super::audit::locked::<_, TeamError, _>(conn, project_id, |conn| {
        let asker = by.user_id().ok_or(Refusal::NotAllowed)?;
        let actor =
            super::memberships::role_of(conn, asker, project_id)?.ok_or(Refusal::NotAllowed)?;
        let role: Option<Role> = invitations::table
            .find(id)
            .filter(invitations::project_id.eq(project_id))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .select(invitations::role)
            .first(conn)
            .optional()?;
        let Some(role) = role else {
            return Ok(false);
        };
        team::may_revoke_invitation(actor, role)?;
        Ok(super::invitation_revocation::revoke_one(
            conn, project_id, id, by, None, now,
        )?)
    })
}

/// A valid invitation, as the accept page shows it.
#[derive(Debug, Clone)]
pub struct Found {
    pub invitation: Invitation,
    pub project_name: String,
    /// The inviter's display name or email.
    pub invited_by: String,
}

/// The role the invitation's maker has in its project now (None: gone, or no longer a
/// member).
fn inviter_role(conn: &mut DbConnection, invitation: &Invitation) -> QueryResult<Option<Role>> {
    match &invitation.invited_by {
        Some(by) => super::memberships::role_of(conn, by, &invitation.project_id),
        None => Ok(None),
    }
}

/// The pending invitation whose token this is (looked up by its hash), or None for an
/// unknown, used, revoked or expired one, and for one whose inviter may no longer grant its
/// role (removed, left, or demoted since).
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
    if !team::invitation_stands(inviter_role(conn, &invitation)?, invitation.role) {
        return Ok(None);
    }
    let invited_by = match &invitation.invited_by {
        Some(id) => users::table
            .find(id)
            .select((users::display_name, users::email))
            .first::<(Option<String>, String)>(conn)
            .optional()?
            .map(|(name, email)| name.unwrap_or(email)),
        None => None,
    };
    let Some(invited_by) = invited_by else {
        return Ok(None);
    };
    Ok(Some(Found {
        invitation,
        project_name,
        invited_by,
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

/// What accepting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// The user joined with the invitation's role.
    Joined(UserId),
    /// The user was a member already (added another way meanwhile): their role, unchanged.
    AlreadyMember(UserId, Role),
}

impl Accepted {
    pub fn user_id(&self) -> &UserId {
        match self {
            Accepted::Joined(id) | Accepted::AlreadyMember(id, _) => id,
        }
    }
}

/// Accepts the invitation: marks it accepted (only if still pending: a second accept of the
/// same token finds nothing), creates the account when new, adds the membership and records
/// `member.joined`, all in one transaction. The inviter's right to grant the role is checked
/// again first, under the project's lock (a removal or demotion that commits first revokes
/// the invitation, or is seen here). Returns None when the invitation is no longer valid.
pub fn accept(
    conn: &mut DbConnection,
    invitation: &Invitation,
    joiner: Joiner<'_>,
    from: ClientAddr,
    now: NaiveDateTime,
) -> Result<Option<Accepted>, TeamError> {
    super::audit::locked::<_, TeamError, _>(conn, &invitation.project_id, |conn| {
        if !team::invitation_stands(inviter_role(conn, invitation)?, invitation.role) {
            return Ok(None);
        }
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
                        // Only the emailed link reached anyone: its reader owns the address.
                        email_verified_at: (!invitation.link_shown).then_some(now),
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
        if let Some(role) = super::memberships::role_of(conn, &user_id, &invitation.project_id)? {
            // A member already (added another way meanwhile): the role they have stays, and
            // nothing joined.
            return Ok(Some(Accepted::AlreadyMember(user_id, role)));
        }
        let joiner = Actor::user(user_id.clone(), from);
        let event = Event {
            detail: Some(team::role_change_detail(None, invitation.role)),
            ..Event::new(
                &invitation.project_id,
                &joiner,
                Action::MemberJoined,
                user_id.as_str(),
            )
        };
        audit::audited(conn, &event, now, |conn| {
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
        Ok(Some(Accepted::Joined(user_id)))
    })
}
