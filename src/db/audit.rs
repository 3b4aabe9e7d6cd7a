//! Queries on `audit_events`, and [`audited`]: every change with its audit event (who did what
//! to which key or item, when, from where) in one transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{EventId, KeyId, ProjectId, UserId};

use super::models::AuditEvent;
use super::schema::audit_events;
use super::{DbConnection, DbError};

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// A signed-in user, in the dashboard.
    User(&'a UserId),
    /// An API key, through `/v1`.
    Key(&'a KeyId),
    /// `callem` on the server.
    CommandLine,
    /// Someone who reported a key leaked (`POST /v1/leaked-keys`): anonymous, since holding
    /// the key is the proof.
    LeakReport,
}

impl<'a> Actor<'a> {
    /// A user when there is one, else the command line (the key commands' `created_by`).
    pub fn user_or_command_line(user_id: Option<&'a UserId>) -> Self {
        user_id.map_or(Actor::CommandLine, Actor::User)
    }

    fn kind(self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::Key(_) => "api_key",
            Actor::CommandLine => "command_line",
            Actor::LeakReport => "leak_report",
        }
    }
}

/// What happened, to be recorded in the same transaction as the change itself.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub project_id: &'a ProjectId,
    pub actor: Actor<'a>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub ip: Option<&'a str>,
    /// What changed, as JSON (`{"field": ["before", "after"], …}`), for events that say.
    pub detail: Option<String>,
}

fn record(conn: &mut DbConnection, event: &Event<'_>, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(AuditEvent {
            id: EventId::generate(),
            project_id: Some(event.project_id.clone()),
            actor_user_id: match event.actor {
                Actor::User(id) => Some(id.clone()),
                _ => None,
            },
            actor_kind: event.actor.kind().to_owned(),
            actor_key_id: match event.actor {
                Actor::Key(id) => Some(id.clone()),
                _ => None,
            },
            action: event.action.to_owned(),
            target_type: event.target_type.to_owned(),
            target_id: Some(event.target_id.to_owned()),
            ip: event.ip.map(str::to_owned),
            created_at: now,
            detail: event.detail.clone(),
        })
        .execute(conn)
        .map(|_| ())
}

/// Runs `change` and, when it reports that something changed, records `event` — both in one
/// transaction, so no change goes unrecorded and no event is left without its change. Every
/// audited change goes through here: the dashboard's, the API's and the command line's.
pub fn audited<T>(
    conn: &mut DbConnection,
    event: &Event<'_>,
    now: NaiveDateTime,
    change: impl FnOnce(&mut DbConnection) -> Result<Change<T>, DbError>,
) -> Result<T, DbError> {
    conn.transaction::<_, DbError, _>(|conn| match change(conn)? {
        Change::Made(value) => {
            record(conn, event, now)?;
            Ok(value)
        }
        Change::Unchanged(value) => Ok(value),
    })
}

/// What an audited change did: only a change that was made is recorded.
#[derive(Debug)]
pub enum Change<T> {
    Made(T),
    Unchanged(T),
}

/// [`audited`] for a change that either happened or found nothing to change (a delete).
pub fn audited_if(
    conn: &mut DbConnection,
    event: &Event<'_>,
    now: NaiveDateTime,
    change: impl FnOnce(&mut DbConnection) -> QueryResult<bool>,
) -> Result<bool, DbError> {
    audited(conn, event, now, |conn| {
        Ok(match change(conn)? {
            true => Change::Made(true),
            false => Change::Unchanged(false),
        })
    })
}

/// A project's events, newest first.
pub fn for_project(
    conn: &mut DbConnection,
    project_id: &ProjectId,
) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .filter(audit_events::project_id.eq(project_id))
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .select(AuditEvent::as_select())
        .load(conn)
}

/// The events of one key of a project (its target), newest first.
pub fn for_key(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    key_id: &KeyId,
) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .filter(audit_events::project_id.eq(project_id))
        .filter(audit_events::target_type.eq("api_key"))
        .filter(audit_events::target_id.eq(key_id.as_str()))
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .select(AuditEvent::as_select())
        .load(conn)
}

/// The email addresses of these users (those that still exist), to name actors.
pub fn user_emails(conn: &mut DbConnection, ids: &[&UserId]) -> QueryResult<Vec<(UserId, String)>> {
    use super::schema::users;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::email))
        .load(conn)
}
