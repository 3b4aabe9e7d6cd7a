//! Queries on `calls`: always scoped to a project. Calls arriving over HTTP are written by
//! [`create`] and [`update`] alone, each one transaction (where their webhook events go).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use diesel::result::DatabaseErrorKind;

use crate::domain::action::Action;
use crate::domain::actor::Actor;
use crate::domain::calls::{CallChange, CallRecord};
use crate::domain::ids::{CallId, ProjectId};
use crate::domain::Invalid;

use super::audit::{self, Event};
use super::models::Call;
use super::schema::calls;
use super::webhook_outbox::{self, CallJson, NewEvent};
use super::{DbConnection, DbError};
use crate::domain::call_filter::{CallFilter, EvaluationFilter};
use crate::domain::phone::NumberPattern;

/// Up to `limit` of a project's calls, newest first (ties by id): after `offset` rows, or
/// after the row a previous batch ended on (keyset, so later batches neither skip nor repeat
/// rows when others are added or deleted meanwhile).
pub fn batch(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    from: super::Resume<'_>,
    limit: i64,
) -> QueryResult<Vec<Call>> {
    let mut q = calls::table
        .filter(calls::project_id.eq(project_id))
        .order((calls::created_at.desc(), calls::id.desc()))
        .limit(limit)
        .select(Call::as_select())
        .into_boxed();
    q = match from {
        super::Resume::Offset(n) => q.offset(n),
        super::Resume::After(at, id) => q.filter(
            calls::created_at
                .lt(at)
                .or(calls::created_at.eq(at).and(calls::id.lt(id))),
        ),
    };
    q.load(conn)
}

/// The project's number of calls.
pub fn total(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<i64> {
    Ok(super::projects::totals(conn, project_id)?.0)
}

type Backend = <DbConnection as Connection>::Backend;

/// A project's calls narrowed by the dashboard's filters.
fn filtered<'a>(project_id: &'a ProjectId, f: &'a CallFilter) -> calls::BoxedQuery<'a, Backend> {
    let mut q = calls::table
        .filter(calls::project_id.eq(project_id))
        .into_boxed();
    if f.search.is_some() {
        q = q.filter(searched(f));
    }
    if let Some(s) = &f.status {
        q = q.filter(calls::status.eq(s));
    }
    match &f.evaluation {
        Some(EvaluationFilter::Is(e)) => q = q.filter(calls::evaluation.eq(e)),
        Some(EvaluationFilter::Missing) => q = q.filter(calls::evaluation.is_null()),
        None => {}
    }
    if let Some(from) = f.from_time() {
        q = q.filter(calls::created_at.ge(from));
    }
    if let Some(until) = f.until_time() {
        q = q.filter(calls::created_at.lt(until));
    }
    q
}

type Condition<'a> = Box<
    dyn BoxableExpression<
            calls::table,
            Backend,
            SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>,
        > + 'a,
>;

/// One stored number column matching one search pattern (a macro: the two columns are two
/// types, and the bounds a generic function would need say less than this).
macro_rules! number_matches {
    ($column:expr, $pattern:expr) => {{
        let pattern: &NumberPattern = $pattern;
        let mut matched: Condition<'static> = Box::new($column.like(pattern.like.clone()));
        for unless in &pattern.unless {
            matched = Box::new(matched.and($column.not_like(unless.clone())));
        }
        matched
    }};
}

/// The calls a search finds: by caller or called number (the digits are all the pattern
/// holds: nothing to escape), or by id; a search that is neither finds none.
fn searched(f: &CallFilter) -> Condition<'static> {
    let mut found: Condition<'static> = Box::new(diesel::dsl::sql::<
        diesel::sql_types::Nullable<diesel::sql_types::Bool>,
    >("1 = 0"));
    if let Some(number) = f.number() {
        for pattern in number.patterns() {
            found = Box::new(
                found
                    .or(number_matches!(calls::caller_number, &pattern))
                    .or(number_matches!(calls::called_number, &pattern)),
            );
        }
    }
    if let Some(id) = f.call_id() {
        found = Box::new(found.or(calls::id.eq(id).nullable()));
    }
    found
}

/// How many of a project's calls match the filter.
pub fn count_matching(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    f: &CallFilter,
) -> QueryResult<i64> {
    filtered(project_id, f).count().get_result(conn)
}

/// The filter's page of a project's matching calls, newest first.
pub fn search(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    f: &CallFilter,
) -> QueryResult<Vec<Call>> {
    filtered(project_id, f)
        .order((calls::created_at.desc(), calls::id.desc()))
        .limit(f.per_page)
        .offset(f.offset())
        .load::<Call>(conn)
}

/// The distinct evaluations used in a project, for the filter's choices.
pub fn evaluations(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<Vec<String>> {
    calls::table
        .filter(calls::project_id.eq(project_id))
        .filter(calls::evaluation.is_not_null())
        .select(calls::evaluation.assume_not_null())
        .distinct()
        .order(calls::evaluation.assume_not_null().asc())
        .load(conn)
}

pub fn find(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &CallId,
) -> QueryResult<Option<Call>> {
    calls::table
        .filter(calls::project_id.eq(project_id))
        .filter(calls::id.eq(id))
        .select(Call::as_select())
        .first(conn)
        .optional()
}

/// Deletes a project's call with its `call.deleted` event, in one transaction; false (and no
/// event) when there was none. (The project's total is kept by a trigger, as for every insert
/// and delete.)
pub fn delete(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &CallId,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let event = Event::new(project_id, actor, Action::CallDeleted, id.as_str());
    audit::audited_if(conn, &event, now, |conn| remove(conn, project_id, id))
}

fn remove(conn: &mut DbConnection, project_id: &ProjectId, id: &CallId) -> QueryResult<bool> {
    diesel::delete(
        calls::table
            .filter(calls::project_id.eq(project_id))
            .filter(calls::id.eq(id)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Which of these ids already exist (in any project: ids are global).
pub fn existing_ids(conn: &mut DbConnection, ids: &[CallId]) -> QueryResult<Vec<CallId>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(500) {
        found.extend(
            calls::table
                .filter(calls::id.eq_any(chunk))
                .select(calls::id)
                .load::<CallId>(conn)?,
        );
    }
    Ok(found)
}

/// Inserts calls in one transaction, calling `progress` with the running count. With
/// `fire_webhooks` (`callem import calls --webhooks`) the calls' webhook events are enqueued
/// in the same transaction; without it (the default, and `callem demo`) none are: a backfill
/// must not flood receivers.
pub fn insert_all(
    conn: &mut DbConnection,
    rows: &[Call],
    fire_webhooks: Option<CallJson>,
    mut progress: impl FnMut(usize),
) -> Result<usize, DbError> {
    crate::db::transaction::<_, DbError, _>(conn, |conn| {
        let mut done = 0;
        for chunk in rows.chunks(200) {
            match conn {
                // One statement per chunk: PostgreSQL's counting trigger then updates the
                // project row once per chunk, not once per row (in one transaction each
                // update lengthens that row's version chain: 100,000 rows took 9x as long).
                DbConnection::Pg(pg) => {
                    diesel::insert_into(calls::table)
                        .values(chunk)
                        .execute(pg)?;
                }
                // SQLite has no multi-row insert through Diesel here, and no version chain.
                DbConnection::Sqlite(_) => {
                    for row in chunk {
                        diesel::insert_into(calls::table)
                            .values(row)
                            .execute(conn)?;
                    }
                }
            }
            if let Some(render) = fire_webhooks {
                let now = crate::time::now();
                for row in chunk {
                    let events = events_of(None, row, render, now);
                    webhook_outbox::enqueue(conn, &row.project_id, &events, now)?;
                }
            }
            done += chunk.len();
            progress(done);
        }
        Ok(done)
    })
}

/// Why [`create`] stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// A call with this id exists already, in this project or another (ids are global).
    #[error("a call with this id already exists")]
    Exists,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for CreateError {
    fn from(e: diesel::result::Error) -> Self {
        CreateError::Db(e.into())
    }
}

/// Stores a call that arrived over HTTP (`POST /v1/calls`) in the project, as the import
/// stores one ([`Call::from_record`]), in one transaction; returns it as stored. A taken id is
/// [`CreateError::Exists`], found by the insert itself (the primary key's unique violation),
/// so two creates of one id at once store one call and refuse the other. The one write path
/// of calls created through the API: their webhook events are enqueued here.
pub fn create(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    record: &CallRecord,
    render: CallJson,
    now: NaiveDateTime,
) -> Result<Call, CreateError> {
    let row = Call::from_record(record.clone(), project_id, now);
    crate::db::transaction(conn, |conn| {
        match diesel::insert_into(calls::table).values(&row).execute(conn) {
            Err(diesel::result::Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                return Err(CreateError::Exists)
            }
            inserted => inserted?,
        };
        // Read back: MultiConnection has no RETURNING.
        let stored = calls::table
            .find(&row.id)
            .select(Call::as_select())
            .first(conn)?;
        let events = events_of(None, &stored, render, now);
        webhook_outbox::enqueue(conn, project_id, &events, now)?;
        Ok(stored)
    })
}

/// Why [`update`] changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The change is not one this call may take (a completed call going back to live).
    #[error("{0}")]
    Refused(Invalid),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for UpdateError {
    fn from(e: diesel::result::Error) -> Self {
        UpdateError::Db(e.into())
    }
}

/// Applies a change to one of the project's calls (`PATCH /v1/calls/{id}`), in one
/// transaction; returns the call before and after, or `None` when the project has no such
/// call. `updated_at` becomes `now` when a value changed; a change that changes nothing
/// writes nothing more. The row is written first (a write that changes nothing), so that two
/// updates of one call at once take turns on its lock and the second sees what the first
/// wrote; the change is then judged against the row as it is. The one write path of calls
/// updated through the API: their webhook events are enqueued here.
pub fn update(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &CallId,
    change: &CallChange,
    render: CallJson,
    now: NaiveDateTime,
) -> Result<Option<(Call, Call)>, UpdateError> {
    let the_call = || {
        calls::table
            .filter(calls::project_id.eq(project_id))
            .filter(calls::id.eq(id))
    };
    crate::db::write_transaction(conn, |conn| {
        let locked = diesel::update(the_call())
            .set(calls::updated_at.eq(calls::updated_at))
            .execute(conn)?;
        if locked == 0 {
            return Ok(None);
        }
        let before: Call = the_call().select(Call::as_select()).first(conn)?;
        if let Some(to) = change.status {
            before.status.may_become(to).map_err(UpdateError::Refused)?;
        }
        let c = change.clone();
        let mut after = Call {
            status: c.status.unwrap_or(before.status),
            duration: c.duration.unwrap_or(before.duration),
            summary: c.summary.unwrap_or_else(|| before.summary.clone()),
            evaluation: c.evaluation.unwrap_or_else(|| before.evaluation.clone()),
            ended_reason: c
                .ended_reason
                .unwrap_or_else(|| before.ended_reason.clone()),
            is_engaged: c.is_engaged.unwrap_or(before.is_engaged),
            call_analysis: c
                .call_analysis
                .unwrap_or_else(|| before.call_analysis.clone()),
            transcript: c.transcript.unwrap_or_else(|| before.transcript.clone()),
            ..before.clone()
        };
        if after == before {
            return Ok(Some((before, after)));
        }
        after.updated_at = now;
        diesel::update(the_call())
            .set((
                calls::status.eq(after.status),
                calls::duration.eq(after.duration),
                calls::summary.eq(&after.summary),
                calls::evaluation.eq(&after.evaluation),
                calls::ended_reason.eq(&after.ended_reason),
                calls::is_engaged.eq(after.is_engaged),
                calls::call_analysis.eq(&after.call_analysis),
                calls::transcript.eq(&after.transcript),
                calls::updated_at.eq(after.updated_at),
            ))
            .execute(conn)?;
        let after: Call = the_call().select(Call::as_select()).first(conn)?;
        let events = events_of(Some(&before), &after, render, now);
        webhook_outbox::enqueue(conn, project_id, &events, now)?;
        Ok(Some((before, after)))
    })
}

/// The webhook events a change of a call causes, in order, with their bodies.
fn events_of(
    before: Option<&Call>,
    after: &Call,
    render: CallJson,
    now: NaiveDateTime,
) -> Vec<NewEvent> {
    webhook_outbox::call_events(before, after)
        .into_iter()
        .map(|kind| NewEvent::call(kind, after, render, now))
        .collect()
}

/// Deletes all of a project's calls; returns how many.
pub fn delete_all(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<usize> {
    diesel::delete(calls::table.filter(calls::project_id.eq(project_id))).execute(conn)
}
