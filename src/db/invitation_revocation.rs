//! Revoking pending invitations, with their `invitation.revoked` events: shared by the
//! invitation's own revocation (`invitations`) and by the team changes that take an inviter's
//! rights away (`memberships`), so neither of those two needs the other for it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{InvitationId, ProjectId, UserId};
use crate::domain::role::Role;
use crate::domain::team;

use super::audit::{self, Event};
use super::schema::invitations;
use super::{DbConnection, DbError};
use crate::domain::action::Action;
use crate::domain::actor::Actor;

/// Marks one invitation revoked, with its `invitation.revoked` event (and why, when it
/// was not revoked by hand).
pub fn revoke_one(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &InvitationId,
    actor: &Actor,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let event = Event {
        detail: reason.map(|r| serde_json::json!({ "reason": r }).to_string()),
        ..Event::new(project_id, actor, Action::InvitationRevoked, id.as_str())
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

/// Revokes the pending invitations `inviter` made in the project that their role `now_role`
/// (None: no longer a member) no longer allows, each with its `invitation.revoked` event by
/// `actor`. Called inside the transaction that removes the member or changes their role.
/// Returns how many were revoked.
pub fn revoke_made_by(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    inviter: &UserId,
    now_role: Option<Role>,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let made: Vec<(InvitationId, Role)> = invitations::table
        .filter(invitations::project_id.eq(project_id))
        .filter(invitations::invited_by.eq(inviter))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .select((invitations::id, invitations::role))
        .load(conn)?;
    let reason = match now_role {
        None => "inviter no longer a member",
        Some(_) => "inviter's role no longer grants it",
    };
    let mut revoked = 0;
    for (id, role) in made {
        if !team::invitation_stands(now_role, role)
            && revoke_one(conn, project_id, &id, actor, Some(reason), now)?
        {
            revoked += 1;
        }
    }
    Ok(revoked)
}
