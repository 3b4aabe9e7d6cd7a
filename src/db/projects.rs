//! Queries on `projects`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::action::Action;
use crate::domain::actor::Actor;
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::role::Role;

use super::audit::{self, Change, Event};
use super::models::{NewProject, Project};
use super::schema::{memberships, projects};
use super::{DbConnection, DbError};

/// Creates a project, makes its creator its Owner when a user creates it (not the command
/// line), and records `project.created` — one transaction. Every new project is made here.
pub fn create(
    conn: &mut DbConnection,
    name: &str,
    creator: &Actor,
    now: NaiveDateTime,
) -> Result<ProjectId, DbError> {
    let id = ProjectId::generate();
    let event = Event::new(&id, creator, Action::ProjectCreated, id.as_str());
    audit::audited(conn, &event, now, |conn| {
        insert(conn, &id, name, now)?;
        if let Some(user_id) = creator.user_id() {
            super::memberships::upsert(conn, &id, user_id, Role::Owner, now)?;
        }
        Ok(Change::Made(()))
    })?;
    Ok(id)
}

/// Inserts a project row alone, with no event: prefer [`create`], which records
/// `project.created`.
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
