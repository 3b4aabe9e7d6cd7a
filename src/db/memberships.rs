//! Queries on `memberships`: who belongs to which project, with which role.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{ProjectId, UserId};
use crate::domain::role::Role;

use super::models::Membership;
use super::schema::memberships;
use super::DbConnection;

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
    conn.transaction(|conn| {
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
