//! Queries on `settings`: server-wide values that every replica must share.

use diesel::prelude::*;

use super::schema::settings;
use super::DbConnection;

/// The session signing key, generated at first start when `CALLEM_SECRET_KEY` is unset.
pub const SESSION_KEY: &str = "session_key";
/// Marks that `/setup` has run (guards against two concurrent setups).
pub const SETUP_DONE: &str = "setup_done";
/// The SHA-256 of the setup link's token, replaced at each start while no user exists.
pub const SETUP_TOKEN: &str = "setup_token_sha256";

pub fn get(conn: &mut DbConnection, name: &str) -> QueryResult<Option<String>> {
    settings::table
        .find(name)
        .select(settings::value)
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut DbConnection, name: &str, value: &str) -> QueryResult<()> {
    diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(value)))
        .execute(conn)
        .map(|_| ())
}

/// Stores `value` under `name` unless a value is already there, and returns the stored one:
/// when replicas start together, the first writer wins and every replica reads its value.
pub fn get_or_insert(conn: &mut DbConnection, name: &str, value: &str) -> QueryResult<String> {
    if let Some(v) = get(conn, name)? {
        return Ok(v);
    }
    match insert(conn, name, value) {
        Ok(()) => Ok(value.to_owned()),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => get(conn, name)?.ok_or(diesel::result::Error::NotFound),
        Err(e) => Err(e),
    }
}

/// Stores `value` under `name`, replacing what was there.
pub fn put(conn: &mut DbConnection, name: &str, value: &str) -> QueryResult<()> {
    crate::db::transaction(conn, |conn| {
        diesel::delete(settings::table.find(name)).execute(conn)?;
        insert(conn, name, value)
    })
}

pub fn remove(conn: &mut DbConnection, name: &str) -> QueryResult<()> {
    diesel::delete(settings::table.find(name))
        .execute(conn)
        .map(|_| ())
}
