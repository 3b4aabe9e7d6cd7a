//! Queries on `projects`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{ProjectId, UserId};
use crate::domain::role::Role;

use super::models::{NewProject, Project};
use super::schema::{memberships, projects};
use super::DbConnection;

pub fn insert(
    conn: &mut DbConnection,
    id: &ProjectId,
    name: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(projects::table)
        .values(NewProject {
            id,
            name,
            created_at: now,
        })
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: &ProjectId) -> QueryResult<Option<Project>> {
    projects::table
        .find(id)
        .select(Project::as_select())
        .first(conn)
        .optional()
}

/// The projects a user belongs to, with the role, oldest first.
pub fn for_user(conn: &mut DbConnection, user_id: &UserId) -> QueryResult<Vec<(Project, Role)>> {
    projects::table
        .inner_join(memberships::table)
        .filter(memberships::user_id.eq(user_id))
        .order((projects::created_at.asc(), projects::id.asc()))
        .select((Project::as_select(), memberships::role))
        .load(conn)
}

/// Finds a project by name (the demo refreshes its project by name).
pub fn find_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<Project>> {
    projects::table
        .filter(projects::name.eq(name))
        .order(projects::created_at.asc())
        .select(Project::as_select())
        .first(conn)
        .optional()
}

/// A project's totals: (calls, knowledge items), kept by triggers on `calls` and
/// `knowledge_items` (see the `counter_triggers` migration).
pub fn totals(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<(i64, i64)> {
    projects::table
        .find(project_id)
        .select((projects::calls_count, projects::knowledge_count))
        .first(conn)
        .optional()
        .map(|t| t.unwrap_or((0, 0)))
}

/// Creates a project whose creator (if any: `None` from the command line) becomes its Owner,
/// with its `project.created` audit event, in one transaction.
pub fn create(
    conn: &mut DbConnection,
    name: &str,
    creator: Option<&UserId>,
    now: NaiveDateTime,
) -> Result<ProjectId, super::DbError> {
    let id = ProjectId::generate();
    let event = super::audit::Event {
        project_id: &id,
        actor: super::audit::Actor::user_or_command_line(creator),
        action: "project.created",
        target_type: "project",
        target_id: id.as_str(),
        ip: None,
        detail: None,
    };
    super::audit::audited(conn, &event, now, |conn| {
        insert(conn, &id, name, now)?;
        if let Some(user) = creator {
            super::memberships::upsert(conn, &id, user, Role::Owner, now)?;
        }
        Ok(super::audit::Change::Made(()))
    })?;
    Ok(id)
}
