//! Queries on `calls`: always scoped to a project.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::action::Action;
use crate::domain::actor::Actor;
use crate::domain::ids::{CallId, ProjectId};

use super::audit::{self, Event};
use super::models::Call;
use super::schema::calls;
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

/// Inserts calls in one transaction, calling `progress` with the running count.
pub fn insert_all(
    conn: &mut DbConnection,
    rows: &[Call],
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
            done += chunk.len();
            progress(done);
        }
        Ok(done)
    })
}

/// Deletes all of a project's calls; returns how many.
pub fn delete_all(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<usize> {
    diesel::delete(calls::table.filter(calls::project_id.eq(project_id))).execute(conn)
}
