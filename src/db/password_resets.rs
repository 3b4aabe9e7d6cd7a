//! Queries on `password_resets`: one-time links to set a new password, stored only as the
//! SHA-256 of their token, valid one hour, single use. Only the newest link of an account
//! works: a new one ends the earlier unused ones, and so does any change of the password
//! ([`super::users::set_password`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::User;
use super::schema::{password_resets, users};
use super::users::{self as user_queries, PasswordChange, PasswordSet};
use super::{DbConnection, DbError};
use crate::domain::actor::Actor;
use crate::domain::client_ip::ClientAddr;
use crate::domain::ids::UserId;
use crate::domain::password_reset;

/// How long a reset link works.
pub const VALID_FOR: chrono::Duration = chrono::Duration::hours(1);

/// Stores a new reset link for the user and ends the earlier unused ones (only the newest
/// link works); forgets the user's links older than a day, so the table stays small.
pub fn create(
    conn: &mut DbConnection,
    user_id: &UserId,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    super::write_transaction(conn, |conn| {
        user_queries::end_unused_resets(conn, user_id, now)?;
        diesel::delete(
            password_resets::table
                .filter(password_resets::user_id.eq(user_id))
                .filter(password_resets::created_at.lt(now - password_reset::DAY)),
        )
        .execute(conn)?;
        diesel::insert_into(password_resets::table)
            .values((
                password_resets::token_hash.eq(token_hash),
                password_resets::user_id.eq(user_id),
                password_resets::created_at.eq(now),
                password_resets::expires_at.eq(now + VALID_FOR),
            ))
            .execute(conn)
            .map(|_| ())
    })
}

/// What came of a "Forgot your password?" request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// No account has that email: nothing to send.
    NoAccount,
    /// The account got a link recently (see [`password_reset::may_send`]): nothing to send.
    Limited,
    /// A new link was stored for the account with this email: send it.
    Issued { email: String },
}

/// For "Forgot your password?": stores a new link (`token_hash`) for the account with this
/// email, unless the per-account limit says it had one recently. The account's row is locked
/// while its links are counted (on PostgreSQL; SQLite's write transaction holds the database),
/// so two replicas asked at once mint one link.
pub fn request(
    conn: &mut DbConnection,
    email: &str,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<Requested, DbError> {
    // Read first: an unknown email takes no write lock.
    let Some(user) = user_queries::find_by_email(conn, email)? else {
        return Ok(Requested::NoAccount);
    };
    super::write_transaction::<_, DbError, _>(conn, |conn| {
        if let DbConnection::Pg(pg) = conn {
            users::table
                .find(&user.id)
                .select(users::id)
                .for_update()
                .first::<UserId>(pg)?;
        }
        let recent: Vec<NaiveDateTime> = password_resets::table
            .filter(password_resets::user_id.eq(&user.id))
            .filter(password_resets::created_at.gt(now - password_reset::DAY))
            .select(password_resets::created_at)
            .load(conn)?;
        if !password_reset::may_send(&recent, now) {
            return Ok(Requested::Limited);
        }
        create(conn, &user.id, token_hash, now)?;
        Ok(Requested::Issued { email: user.email })
    })
}

/// Removes a link whose email could not be sent: nobody has it, and it must not count
/// against the account's limit (the person may ask again at once).
pub fn withdraw(conn: &mut DbConnection, token_hash: &str) -> QueryResult<()> {
    diesel::delete(
        password_resets::table
            .filter(password_resets::token_hash.eq(token_hash))
            .filter(password_resets::used_at.is_null()),
    )
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
/// of one link set one password), sets the new password, ends every session of the user and
/// every other unused link, and records `user.password_reset` in each of the user's projects
/// with the client address. `None` when the link is no longer valid.
pub fn reset(
    conn: &mut DbConnection,
    token_hash: &str,
    password_hash: &str,
    from: ClientAddr,
    now: NaiveDateTime,
) -> Result<Option<User>, DbError> {
    super::write_transaction::<_, DbError, _>(conn, |conn| {
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
        // Whoever holds the link acts as the account.
        let holder = Actor::user(user.id.clone(), from);
        user_queries::change_password(
            conn,
            &PasswordChange {
                user_id: &user.id,
                password_hash,
                how: PasswordSet::Reset,
                actor: &holder,
            },
            now,
        )?;
        // The link reached its holder by the account's email, or from the operator's
        // `user reset-password`: either way someone answerable vouched for the address.
        diesel::update(users::table.find(&user.id))
            .filter(users::email_verified_at.is_null())
            .set(users::email_verified_at.eq(Some(now)))
            .execute(conn)?;
        Ok(Some(user))
    })
}
