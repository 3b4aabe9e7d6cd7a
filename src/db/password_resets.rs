//! Queries on `password_resets`: one-time links to set a new password, stored only as the
//! SHA-256 of their token, valid one hour, single use.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::User;
use super::schema::{password_resets, users};
use super::{users as user_queries, DbConnection, DbError};
use crate::domain::ids::UserId;

/// How long a reset link works.
pub const VALID_FOR: chrono::Duration = chrono::Duration::hours(1);

/// Stores a new reset link for the user (earlier unused ones keep working until they expire).
pub fn create(
    conn: &mut DbConnection,
    user_id: &UserId,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(password_resets::table)
        .values((
            password_resets::token_hash.eq(token_hash),
            password_resets::user_id.eq(user_id),
            password_resets::created_at.eq(now),
            password_resets::expires_at.eq(now + VALID_FOR),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The user a reset link is for, while it is unused and within its hour (through the primary
/// key on the hash).
pub fn find_valid(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<User>> {
    password_resets::table
        .inner_join(users::table)
        .filter(password_resets::token_hash.eq(token_hash))
        .filter(password_resets::used_at.is_null())
        .filter(password_resets::expires_at.ge(now))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Uses a reset link: in one transaction, marks it used (only if it still is valid: two uses
/// of one link set one password), sets the new password and ends every session of the user.
/// `None` when the link is no longer valid.
pub fn reset(
    conn: &mut DbConnection,
    token_hash: &str,
    password_hash: &str,
    now: NaiveDateTime,
) -> Result<Option<User>, DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        let Some(user) = find_valid(conn, token_hash, now)? else {
            return Ok(None);
        };
        let used = diesel::update(
            password_resets::table
                .filter(password_resets::token_hash.eq(token_hash))
                .filter(password_resets::used_at.is_null()),
        )
        .set(password_resets::used_at.eq(Some(now)))
        .execute(conn)?;
        if used == 0 {
            return Ok(None);
        }
        user_queries::set_password(conn, &user.id, password_hash)?;
        Ok(Some(user))
    })
}
