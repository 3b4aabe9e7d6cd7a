//! Things done at most once across replicas: an expiry reminder per key and threshold, an
//! email about a leak or a disabled webhook. A unique `mark` row is written first — with the
//! change that causes it, or by the one replica whose insert wins — and an email is sent only
//! by the sender whose claim of the row changed it (it is marked sent before the send).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{memberships, notifications, projects, users};
use super::DbConnection;
use crate::domain::ids::ProjectId;
use crate::domain::role::Role;

/// A notification whose email is to be sent.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub mark: String,
    pub project_id: Option<ProjectId>,
    /// `key_expiring`, `key_leaked`, `webhook_disabled`.
    pub kind: String,
    /// What its email says, as JSON.
    pub payload: String,
    pub created_at: NaiveDateTime,
}

/// Writes the mark unless it exists; true when this call wrote it (the caller then does the
/// thing, once). `sent` marks it already dealt with (no email to send).
pub fn mark_once(
    conn: &mut DbConnection,
    mark: &str,
    project_id: &ProjectId,
    kind: &str,
    payload: &str,
    now: NaiveDateTime,
    sent: bool,
) -> QueryResult<bool> {
    let values = (
        notifications::mark.eq(mark),
        notifications::project_id.eq(project_id),
        notifications::kind.eq(kind),
        notifications::payload.eq(payload),
        notifications::created_at.eq(now),
        notifications::claimed_at.eq(sent.then_some(now)),
    );
    let written = match conn {
        DbConnection::Pg(pg) => diesel::insert_into(notifications::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(pg)?,
        DbConnection::Sqlite(lite) => diesel::insert_or_ignore_into(notifications::table)
            .values(values)
            .execute(lite)?,
    };
    Ok(written == 1)
}

/// Takes up to `limit` notifications not sent yet and created since `since`, each claimed by
/// this caller only (a row another sender claimed first is skipped). Older ones (email was
/// off then, or the server was down for days) are marked without sending: news that old
/// would only mislead.
pub fn claim_unsent(
    conn: &mut DbConnection,
    since: NaiveDateTime,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Notification>> {
    diesel::update(
        notifications::table
            .filter(notifications::claimed_at.is_null())
            .filter(notifications::created_at.lt(since)),
    )
    .set(notifications::claimed_at.eq(now))
    .execute(conn)?;
    let candidates: Vec<Notification> = notifications::table
        .filter(notifications::claimed_at.is_null())
        .order(notifications::created_at.asc())
        .limit(limit)
        .select(Notification::as_select())
        .load(conn)?;
    let mut mine = Vec::new();
    for n in candidates {
        let claimed = diesel::update(
            notifications::table
                .filter(notifications::mark.eq(&n.mark))
                .filter(notifications::claimed_at.is_null()),
        )
        .set(notifications::claimed_at.eq(now))
        .execute(conn)?;
        if claimed == 1 {
            mine.push(n);
        }
    }
    Ok(mine)
}

/// The emails of a project's Owners and Admins, and the project's name.
pub fn recipients(
    conn: &mut DbConnection,
    project_id: &ProjectId,
) -> QueryResult<(String, Vec<String>)> {
    let name: String = projects::table
        .find(project_id)
        .select(projects::name)
        .first(conn)?;
    let emails = memberships::table
        .inner_join(users::table)
        .filter(memberships::project_id.eq(project_id))
        .filter(memberships::role.eq_any([Role::Owner, Role::Admin]))
        .select(users::email)
        .order(users::email.asc())
        .load(conn)?;
    Ok((name, emails))
}
