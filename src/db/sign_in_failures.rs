//! Queries on `sign_in_failures`: failed sign-ins per account, shared by every replica.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::sign_in_failures as f;
use super::DbConnection;

/// Failures so far for the email, and when the last one happened.
pub fn find(conn: &mut DbConnection, email: &str) -> QueryResult<Option<(i64, NaiveDateTime)>> {
    f::table
        .find(email)
        .select((f::failures, f::last_failure_at))
        .first(conn)
        .optional()
}

/// Counts one more failure (atomically, whichever replica records it); forgets failures
/// older than a day, so the table stays small.
pub fn record(conn: &mut DbConnection, email: &str, now: NaiveDateTime) -> QueryResult<()> {
    let bump = |conn: &mut DbConnection| {
        diesel::update(f::table.find(email))
            .set((f::failures.eq(f::failures + 1), f::last_failure_at.eq(now)))
            .execute(conn)
    };
    if bump(conn)? == 0 {
        let inserted = diesel::insert_into(f::table)
            .values((
                f::email.eq(email),
                f::failures.eq(1i64),
                f::last_failure_at.eq(now),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => {}
            // Another replica inserted it first: count on its row.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {
                bump(conn)?;
            }
            Err(e) => return Err(e),
        }
    }
    diesel::delete(f::table.filter(f::last_failure_at.lt(now - chrono::Duration::days(1))))
        .execute(conn)?;
    Ok(())
}

/// A successful sign-in starts the count over.
pub fn clear(conn: &mut DbConnection, email: &str) -> QueryResult<()> {
    diesel::delete(f::table.find(email))
        .execute(conn)
        .map(|_| ())
}
