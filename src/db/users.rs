//! Queries on `users`, and the first-run setup that creates the first Owner.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{ProjectId, UserId};
use crate::domain::role::Role;

use super::audit::{self, AccountEvent};
use super::models::{NewUser, User};
use super::schema::{password_resets, users};
use super::{memberships, projects, settings, DbConnection, DbError};
use crate::domain::action::Action;
use crate::domain::actor::Actor;
use crate::domain::client_ip::ClientAddr;

pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut DbConnection, new: &NewUser<'_>) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(new)
        .execute(conn)
        .map(|_| ())
}

/// The ids made by a first-run setup.
#[derive(Debug, Clone)]
pub struct SetupDone {
    pub user_id: UserId,
    pub project_id: ProjectId,
}

/// Why setup did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("setup has already been completed")]
    AlreadyDone,
    #[error("the setup link's token is missing or not the current one")]
    BadToken,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for SetupError {
    fn from(e: diesel::result::Error) -> Self {
        SetupError::Db(DbError::Query(e))
    }
}

/// Whether `token` is the one in the setup link `callem serve` printed last.
pub fn setup_token_is_current(conn: &mut DbConnection, token: &str) -> QueryResult<bool> {
    Ok(settings::get(conn, settings::SETUP_TOKEN)?
        .is_some_and(|stored| crate::domain::one_time_token::matches(token, &stored)))
}

/// Creates the first Owner and the first project in one transaction. A `settings` row with a
/// fixed name makes a second, concurrent setup fail on its primary key instead of creating a
/// second owner.
pub fn create_first_owner(
    conn: &mut DbConnection,
    setup_token: &str,
    email: &str,
    password_hash: &str,
    project_name: &str,
    from: ClientAddr,
    now: NaiveDateTime,
) -> Result<SetupDone, SetupError> {
    super::write_transaction::<_, SetupError, _>(conn, |conn| {
        if count(conn).map_err(DbError::from)? > 0 {
            return Err(SetupError::AlreadyDone);
        }
        if !setup_token_is_current(conn, setup_token).map_err(DbError::from)? {
            return Err(SetupError::BadToken);
        }
        settings::remove(conn, settings::SETUP_TOKEN).map_err(DbError::from)?;
        match settings::insert(conn, settings::SETUP_DONE, &now.to_string()) {
            Ok(()) => {}
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => return Err(SetupError::AlreadyDone),
            Err(e) => return Err(DbError::from(e).into()),
        }
        let user_id = UserId::generate();
        insert(
            conn,
            &NewUser {
                id: &user_id,
                email,
                password_hash,
                created_at: now,
                email_verified_at: Some(now),
            },
        )
        .map_err(DbError::from)?;
        let owner = Actor::user(user_id.clone(), from);
        let project_id = projects::create(conn, project_name, &owner, now)?;
        Ok(SetupDone {
            user_id,
            project_id,
        })
    })
}

/// Adds a user to a project with a role, creating the user when the email is new (then the
/// password hash is needed and stored; the operator vouches for the address). Returns the
/// user's id and whether it was created; None when the email is new and no hash was given,
/// or when its account's email was never verified (made from a link shown on screen, whose
/// holder chose the password): such an account is not adopted as it is, see
/// [`reset_password_and_add`].
pub fn add_to_project(
    conn: &mut DbConnection,
    email: &str,
    password_hash: Option<&str>,
    project_id: &ProjectId,
    role: Role,
    now: NaiveDateTime,
) -> Result<Option<(UserId, bool)>, DbError> {
    // Reads, then writes (and an audited change may join it): the write lock first.
    super::write_transaction::<_, DbError, _>(conn, |conn| {
        let (user_id, created) = match find_by_email(conn, email)? {
            Some(u) if u.email_verified_at.is_none() => return Ok(None),
            Some(u) => (u.id, false),
            None => {
                let Some(hash) = password_hash else {
                    return Ok(None);
                };
                let id = UserId::generate();
                insert(
                    conn,
                    &NewUser {
                        id: &id,
                        email,
                        password_hash: hash,
                        created_at: now,
                        email_verified_at: Some(now),
                    },
                )?;
                (id, true)
            }
        };
        memberships::upsert(conn, project_id, &user_id, role, now)?;
        Ok(Some((user_id, created)))
    })
}

/// `callem user create --reset-password` on an existing account: replaces its password (which
/// ends all its sessions and reset links, audited in each of its projects, as
/// [`change_password`] does), records that the operator vouched for its email, and adds it to
/// the project with the role — in one transaction. `None` when there is no account with that
/// email.
pub fn reset_password_and_add(
    conn: &mut DbConnection,
    email: &str,
    password_hash: &str,
    project_id: &ProjectId,
    role: Role,
    now: NaiveDateTime,
) -> Result<Option<UserId>, DbError> {
    super::write_transaction::<_, DbError, _>(conn, |conn| {
        let Some(user) = find_by_email(conn, email)? else {
            return Ok(None);
        };
        change_password(
            conn,
            &PasswordChange {
                user_id: &user.id,
                password_hash,
                how: PasswordSet::Changed,
                actor: &Actor::command_line(),
            },
            now,
        )?;
        diesel::update(users::table.find(&user.id))
            .set(users::email_verified_at.eq(Some(now)))
            .execute(conn)?;
        memberships::upsert(conn, project_id, &user.id, role, now)?;
        Ok(Some(user.id))
    })
}

/// Replaces a user's password hash and, in the same transaction, ends every session of the
/// user (as sign-out does) and every unused reset link: whoever knew the old password, or
/// holds an older link, is shut out everywhere. Unaudited: a change someone makes goes
/// through [`change_password`].
pub fn set_password(
    conn: &mut DbConnection,
    user_id: &UserId,
    password_hash: &str,
) -> QueryResult<()> {
    crate::db::transaction(conn, |conn| {
        diesel::update(users::table.find(user_id))
            .set((
                users::password_hash.eq(password_hash),
                users::session_epoch.eq(users::session_epoch + 1),
            ))
            .execute(conn)?;
        end_unused_resets(conn, user_id, crate::time::now()).map(|_| ())
    })
}

/// The user a session names, if that session is still valid (issued in the current epoch).
pub fn find_signed_in(
    conn: &mut DbConnection,
    user_id: &UserId,
    epoch: i64,
) -> QueryResult<Option<User>> {
    users::table
        .find(user_id)
        .filter(users::session_epoch.eq(epoch))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Ends every session of the user, on every replica.
pub fn end_sessions(conn: &mut DbConnection, user_id: &UserId) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::session_epoch.eq(users::session_epoch + 1))
        .execute(conn)
        .map(|_| ())
}

/// Notes a successful sign-in (Team's "last sign-in").
pub fn record_sign_in(
    conn: &mut DbConnection,
    user_id: &UserId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::last_sign_in_at.eq(Some(now)))
        .execute(conn)
        .map(|_| ())
}

/// A user by id.
pub fn find(conn: &mut DbConnection, user_id: &UserId) -> QueryResult<Option<User>> {
    users::table
        .find(user_id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Sets (or clears) the name others see.
pub fn set_display_name(
    conn: &mut DbConnection,
    user_id: &UserId,
    name: Option<&str>,
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::display_name.eq(name))
        .execute(conn)
        .map(|_| ())
}

/// How a password was set, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSet {
    /// On the account page (knowing the current one), or by the command line:
    /// `user.password_changed`.
    Changed,
    /// With a one-time reset link: `user.password_reset`.
    Reset,
}

impl PasswordSet {
    /// The audit event's action.
    pub fn action(self) -> Action {
        match self {
            PasswordSet::Changed => Action::UserPasswordChanged,
            PasswordSet::Reset => Action::UserPasswordReset,
        }
    }
}

/// A password being set: whose, the new hash, how, by whom and from where.
#[derive(Debug, Clone)]
pub struct PasswordChange<'a> {
    pub user_id: &'a UserId,
    pub password_hash: &'a str,
    pub how: PasswordSet,
    pub actor: &'a Actor,
}

/// Sets a password as one use case, in one transaction: the hash, every session and every
/// unused reset link of the user ended ([`set_password`]), and the audit event in each project
/// the user belongs to. Returns the new session epoch, so the session that asked can be issued
/// again in it.
pub fn change_password(
    conn: &mut DbConnection,
    change: &PasswordChange<'_>,
    now: NaiveDateTime,
) -> Result<i64, DbError> {
    super::write_transaction::<_, DbError, _>(conn, |conn| {
        let projects: Vec<ProjectId> = projects::for_user(conn, change.user_id)?
            .into_iter()
            .map(|(p, _)| p.id)
            .collect();
        let event = AccountEvent {
            actor: change.actor,
            action: change.how.action(),
            user_id: change.user_id,
        };
        audit::audited_in_each(conn, &projects, &event, now, |conn| {
            set_password(conn, change.user_id, change.password_hash)?;
            Ok(users::table
                .find(change.user_id)
                .select(users::session_epoch)
                .first(conn)?)
        })
    })
}

/// Ends every unused password-reset link of the user (marked used: none of them works any
/// more). Here, with the password change that does it, so `password_resets` (which sets a
/// password through this file) is not needed back.
pub fn end_unused_resets(
    conn: &mut DbConnection,
    user_id: &UserId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        password_resets::table
            .filter(password_resets::user_id.eq(user_id))
            .filter(password_resets::used_at.is_null()),
    )
    .set(password_resets::used_at.eq(Some(now)))
    .execute(conn)
}
