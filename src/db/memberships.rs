//! Queries on `memberships`: who belongs to which project, with which role, and the team
//! changes (role change, removal, leaving), each in one transaction with its audit event and
//! the revocation of the pending invitations the member may no longer make.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::action::{Action, Target};
use crate::domain::actor::Actor;
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::role::Role;
use crate::domain::team::{self, Refusal};

use super::models::Membership;
use super::schema::memberships;
use super::{DbConnection, DbError};

/// The role of a user in a project, if they belong to it.
pub fn role_of(
    conn: &mut DbConnection,
    user_id: &UserId,
    project_id: &ProjectId,
) -> QueryResult<Option<Role>> {
    memberships::table
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::project_id.eq(project_id))
        .select(memberships::role)
        .first(conn)
        .optional()
}

/// Adds the user to the project, or changes their role when they already belong to it.
pub fn upsert(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    user_id: &UserId,
    role: Role,
    now: NaiveDateTime,
) -> QueryResult<()> {
    crate::db::transaction(conn, |conn| {
        let updated = diesel::update(
            memberships::table
                .filter(memberships::user_id.eq(user_id))
                .filter(memberships::project_id.eq(project_id)),
        )
        .set(memberships::role.eq(role))
        .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(memberships::table)
                .values(Membership {
                    project_id: project_id.clone(),
                    user_id: user_id.clone(),
                    role,
                    created_at: now,
                })
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Emails and ids of the users who own a project other than `except` (the people who set
/// this server up), each once.
pub fn owners_of_other_projects(
    conn: &mut DbConnection,
    except: &ProjectId,
) -> QueryResult<Vec<(UserId, String)>> {
    use super::schema::users;
    memberships::table
        .inner_join(users::table)
        .filter(memberships::role.eq(Role::Owner))
        .filter(memberships::project_id.ne(except))
        .select((users::id, users::email))
        .distinct()
        .order(users::email)
        .load(conn)
}

/// Why a team change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// The member (or the one asking) is not in the project.
    #[error("no such member")]
    NotFound,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for TeamError {
    fn from(e: diesel::result::Error) -> Self {
        TeamError::Db(DbError::Query(e))
    }
}

/// One member of a project, for Settings → Team.
#[derive(Debug, Clone, Queryable)]
pub struct MemberRow {
    pub user_id: UserId,
    pub email: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub joined_at: NaiveDateTime,
    pub last_sign_in_at: Option<NaiveDateTime>,
}

/// A project's members, Owners first, then by email.
pub fn members(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<Vec<MemberRow>> {
    use super::schema::users;
    let mut rows: Vec<MemberRow> = memberships::table
        .inner_join(users::table)
        .filter(memberships::project_id.eq(project_id))
        .select((
            users::id,
            users::email,
            users::display_name,
            memberships::role,
            memberships::created_at,
            users::last_sign_in_at,
        ))
        .order(users::email)
        .load(conn)?;
    rows.sort_by_key(|m| m.role.rank());
    Ok(rows)
}

/// Whether someone with this (normalised) email belongs to the project.
pub fn has_member_with_email(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    email: &str,
) -> QueryResult<bool> {
    use super::schema::users;
    diesel::select(diesel::dsl::exists(
        memberships::table
            .inner_join(users::table)
            .filter(memberships::project_id.eq(project_id))
            .filter(users::email.eq(email)),
    ))
    .get_result(conn)
}

/// Locks the project's Owner memberships until the transaction ends, and counts them. A
/// no-op UPDATE rather than `SELECT … FOR UPDATE`, because it locks on both backends: on
/// PostgreSQL the rows (a concurrent change waits, then re-reads who is still Owner), on
/// SQLite the database's write lock, taken before anything is read. So two Owners demoting
/// each other at once cannot both succeed.
fn lock_owners(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<i64> {
    let n = diesel::update(
        memberships::table
            .filter(memberships::project_id.eq(project_id))
            .filter(memberships::role.eq(Role::Owner)),
    )
    .set(memberships::role.eq(memberships::role))
    .execute(conn)?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A member of a project asking for a team change (the audit event's actor).
#[derive(Debug, Clone, Copy)]
struct ByMember<'a> {
    project_id: &'a ProjectId,
    user_id: &'a UserId,
    actor: &'a Actor,
}

impl<'a> ByMember<'a> {
    /// `actor` in `project_id`: a team change is only ever a member's, so any other actor
    /// is refused.
    fn new(project_id: &'a ProjectId, actor: &'a Actor) -> Result<ByMember<'a>, Refusal> {
        Ok(ByMember {
            project_id,
            user_id: actor.user_id().ok_or(Refusal::NotAllowed)?,
            actor,
        })
    }

    fn event(
        &self,
        action: Action,
        target: &'a UserId,
        detail: Option<String>,
    ) -> super::audit::Event<'a> {
        super::audit::Event {
            detail,
            ..super::audit::Event::new(self.project_id, self.actor, action, target.as_str())
        }
    }

    /// Revokes the pending invitations `member` made that their role `now_role` (None: gone)
    /// no longer allows, in the transaction of the change, the asker as the actor.
    fn revoke_invitations_of(
        &self,
        conn: &mut DbConnection,
        member: &UserId,
        now_role: Option<Role>,
        now: NaiveDateTime,
    ) -> Result<usize, DbError> {
        super::invitation_revocation::revoke_made_by(
            conn,
            self.project_id,
            member,
            now_role,
            self.actor,
            now,
        )
    }

    /// The asker's role and the target's, read after the Owners are locked.
    fn roles(
        &self,
        conn: &mut DbConnection,
        target: &UserId,
    ) -> Result<(i64, Role, Role), TeamError> {
        let owners = lock_owners(conn, self.project_id)?;
        let actor = role_of(conn, self.user_id, self.project_id)?.ok_or(TeamError::NotFound)?;
        let current = role_of(conn, target, self.project_id)?.ok_or(TeamError::NotFound)?;
        Ok((owners, actor, current))
    }
}

/// Gives `target` the role `to`, with its `member.role_changed` event; returns the role it
/// had. The rules (`domain::team`) are applied to the roles as they are in the transaction.
pub fn change_role(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    target: &UserId,
    to: Role,
    by: &Actor,
    now: NaiveDateTime,
) -> Result<Role, TeamError> {
    let by = ByMember::new(project_id, by)?;
    crate::db::transaction::<_, TeamError, _>(conn, |conn| {
        let (owners, actor, from) = by.roles(conn, target)?;
        team::may_change_role(actor, from, to, owners)?;
        if from == to {
            return Ok(from);
        }
        let event = by.event(
            Action::MemberRoleChanged,
            target,
            Some(team::role_change_detail(Some(from), to)),
        );
        super::audit::audited_if(conn, &event, now, |conn| {
            Ok(set_role(conn, by.project_id, target, to)? > 0)
        })?;
        by.revoke_invitations_of(conn, target, Some(to), now)?;
        Ok(from)
    })
}

fn set_role(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    user_id: &UserId,
    role: Role,
) -> QueryResult<usize> {
    diesel::update(
        memberships::table
            .filter(memberships::project_id.eq(project_id))
            .filter(memberships::user_id.eq(user_id)),
    )
    .set(memberships::role.eq(role))
    .execute(conn)
}

fn delete(conn: &mut DbConnection, project_id: &ProjectId, user_id: &UserId) -> QueryResult<bool> {
    diesel::delete(
        memberships::table
            .filter(memberships::project_id.eq(project_id))
            .filter(memberships::user_id.eq(user_id)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Removes `target` from the project (`member.removed`); returns the role they had. Their
/// next request to the project is a 404: membership is read on every request.
pub fn remove(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    target: &UserId,
    by: &Actor,
    now: NaiveDateTime,
) -> Result<Role, TeamError> {
    let by = ByMember::new(project_id, by)?;
    crate::db::transaction::<_, TeamError, _>(conn, |conn| {
        let (owners, actor, role) = by.roles(conn, target)?;
        team::may_remove(actor, role, owners)?;
        let event = by.event(Action::MemberRemoved, target, None);
        super::audit::audited_if(conn, &event, now, |conn| {
            delete(conn, by.project_id, target)
        })?;
        by.revoke_invitations_of(conn, target, None, now)?;
        Ok(role)
    })
}

/// The asker leaves the project (`member.left`), unless they are its last Owner.
pub fn leave(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    by: &Actor,
    now: NaiveDateTime,
) -> Result<(), TeamError> {
    let by = ByMember::new(project_id, by)?;
    crate::db::transaction::<_, TeamError, _>(conn, |conn| {
        let (owners, role, _) = by.roles(conn, by.user_id)?;
        team::may_leave(role, owners)?;
        let event = by.event(Action::MemberLeft, by.user_id, None);
        super::audit::audited_if(conn, &event, now, |conn| {
            delete(conn, by.project_id, by.user_id)
        })?;
        by.revoke_invitations_of(conn, by.user_id, None, now)?;
        Ok(())
    })
}

/// When a user who does not belong to a project was removed from it, and the project's name:
/// `None` when they belong to it, never did, or left it themselves since (the audit log's
/// latest `member.removed` / `member.left` about them decides).
pub fn removal(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    user_id: &UserId,
) -> QueryResult<Option<(String, NaiveDateTime)>> {
    use super::schema::{audit_events as ae, projects};
    if role_of(conn, user_id, project_id)?.is_some() {
        return Ok(None);
    }
    let last: Option<(String, NaiveDateTime)> = ae::table
        .filter(ae::project_id.eq(project_id))
        .filter(ae::target_type.eq(Target::Member.as_str()))
        .filter(ae::target_id.eq(user_id.as_str()))
        .filter(ae::action.eq_any([Action::MemberRemoved.as_str(), Action::MemberLeft.as_str()]))
        .order(ae::seq.desc())
        .select((ae::action, ae::created_at))
        .first(conn)
        .optional()?;
    let Some((_, at)) = last.filter(|(action, _)| action == Action::MemberRemoved.as_str()) else {
        return Ok(None);
    };
    let name: Option<String> = projects::table
        .find(project_id)
        .select(projects::name)
        .first(conn)
        .optional()?;
    Ok(name.map(|n| (n, at)))
}
