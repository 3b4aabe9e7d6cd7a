//! Queries on `calls`: always scoped to a project.

use diesel::prelude::*;

use super::models::Call;
use super::schema::calls;
use super::{DbConnection, DbError};

/// One page of a project's calls, newest first (ties by id), and the project's total.
pub fn list(
    conn: &mut DbConnection,
    project_id: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<Call>, i64)> {
    let rows = calls::table
        .filter(calls::project_id.eq(project_id))
        .order((calls::created_at.desc(), calls::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(Call::as_select())
        .load(conn)?;
    let total = calls::table
        .filter(calls::project_id.eq(project_id))
        .count()
        .get_result(conn)?;
    Ok((rows, total))
}

pub fn find(conn: &mut DbConnection, project_id: &str, id: &str) -> QueryResult<Option<Call>> {
    calls::table
        .filter(calls::project_id.eq(project_id))
        .filter(calls::id.eq(id))
        .select(Call::as_select())
        .first(conn)
        .optional()
}

/// Deletes a project's call; false when there was none.
pub fn delete(conn: &mut DbConnection, project_id: &str, id: &str) -> QueryResult<bool> {
    diesel::delete(
        calls::table
            .filter(calls::project_id.eq(project_id))
            .filter(calls::id.eq(id)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Which of these ids already exist (in any project: ids are global).
pub fn existing_ids(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<String>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(500) {
        found.extend(
            calls::table
                .filter(calls::id.eq_any(chunk))
                .select(calls::id)
                .load::<String>(conn)?,
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
    conn.transaction::<_, DbError, _>(|conn| {
        let mut done = 0;
        for chunk in rows.chunks(200) {
            for row in chunk {
                diesel::insert_into(calls::table)
                    .values(row)
                    .execute(conn)?;
            }
            done += chunk.len();
            progress(done);
        }
        Ok(done)
    })
}
