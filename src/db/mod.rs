//! Persistence: one Diesel query layer over PostgreSQL and SQLite. No actix here.

pub mod api_keys;
pub mod audit;
pub mod calls;
pub mod knowledge;
pub mod memberships;
pub mod migrations;
pub mod models;
pub mod projects;
pub mod schema;
pub mod settings;
pub mod users;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

/// A connection to whichever backend the URL named.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// The pool every request and command takes connections from, with as many permits as
/// connections: requests beyond that wait asynchronously instead of parking a blocking thread
/// on the pool.
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<Manager>,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("state", &self.inner.state())
            .finish()
    }
}

/// Errors that can tell whether the connection they came from is dead.
pub trait ConnectionLoss {
    fn connection_lost(&self) -> bool;
}

impl ConnectionLoss for DbError {
    fn connection_lost(&self) -> bool {
        self.is_unavailable()
    }
}

/// Marks a PostgreSQL connection broken so the pool drops it instead of handing it out
/// again (connections are not pinged on checkout, which would cost a round trip each time).
fn mark_broken(conn: &mut DbConnection) {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    if let DbConnection::Pg(pg) = conn {
        AnsiTransactionManager::transaction_manager_status_mut(pg).set_in_error();
    }
}

/// Which database the configuration points at, chosen by the URL's scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    /// A file path (or `:memory:`), without the `sqlite://` scheme.
    Sqlite(String),
}

/// Everything that can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("database task failed: {0}")]
    Task(String),
}

impl DbError {
    /// True when the database could not be reached (as opposed to a query that failed).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            DbError::Unavailable(_)
                | DbError::Query(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ClosedConnection
                        | diesel::result::DatabaseErrorKind::UnableToSendCommand,
                    _,
                ))
        )
    }
}

impl DatabaseUrl {
    /// Chooses the backend from the scheme; anything else is refused, so a mistyped
    /// `postgres://` never silently becomes a SQLite file.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("DATABASE_URL is empty".to_owned());
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Self::sqlite_path(path);
        }
        if let Some(path) = url.strip_prefix("sqlite:") {
            return Self::sqlite_path(path);
        }
        if let Some((scheme, _)) = url.split_once(':') {
            let looks_like_scheme = !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.');
            // A Windows drive letter (C:\…) is a path, not a scheme.
            if looks_like_scheme && scheme.len() > 1 {
                return Err(format!(
                    "unsupported database URL scheme '{scheme}:' in DATABASE_URL; \
                     use postgres://… (or postgresql://…) for PostgreSQL or sqlite://PATH for SQLite"
                ));
            }
        }
        Self::sqlite_path(url)
    }

    fn sqlite_path(path: &str) -> Result<Self, String> {
        if path.is_empty() {
            return Err("the SQLite URL has no file path (use sqlite://callem.db)".to_owned());
        }
        Ok(DatabaseUrl::Sqlite(path.to_owned()))
    }

    /// The URL with any password hidden, for logs and messages.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
            DatabaseUrl::Postgres(url) => match url::Url::parse(url) {
                Ok(mut u) if u.password().is_some() => {
                    let _ = u.set_password(Some("****"));
                    u.to_string()
                }
                _ => url.clone(),
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }
}

/// Opens connections for the pool, setting SQLite's pragmas on each one.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Self {
        Manager { url }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Pg)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// Who the pool is for: the server grows it on demand; a one-shot command keeps exactly one
/// connection, opened up front, so no background thread is still connecting when the
/// process exits (libpq torn down under a connecting thread crashes the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolUse {
    /// The server, with at most this many connections.
    Server(u32),
    Command,
}

/// Builds the pool, failing when the database cannot be reached.
pub fn build_pool(url: &DatabaseUrl, usage: PoolUse) -> Result<Pool, DbError> {
    let size: u32 = match usage {
        PoolUse::Command => 1,
        PoolUse::Server(n) => n.max(1),
    };
    let inner = r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        // No ping on checkout: a dead connection is dropped when a query on it fails.
        .test_on_check_out(false)
        // A request waiting on an unreachable database gives up quickly (503 within 2 s).
        .connection_timeout(Duration::from_millis(1500))
        .build(Manager::new(url.clone()))
        .map_err(|e| DbError::Unavailable(e.to_string()))?;
    Ok(Pool {
        inner,
        permits: std::sync::Arc::new(tokio::sync::Semaphore::new(size as usize)),
    })
}

/// Runs Diesel work on the blocking thread pool with a pooled connection, inside the
/// caller's tracing span. The one bridge from async handlers to the database.
pub async fn run<T, F>(pool: &Pool, work: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
{
    run_with(pool, work).await
}

/// Like [`run`], for callers whose work fails with their own error type (which must be able
/// to carry a [`DbError`]).
pub async fn run_with<T, E, F>(pool: &Pool, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DbError> + ConnectionLoss + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    let permit = pool
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| DbError::Task(e.to_string()))?;
    let inner = pool.inner.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let _permit = permit;
        let mut conn = inner
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        let result = work(&mut conn);
        if result
            .as_ref()
            .err()
            .is_some_and(ConnectionLoss::connection_lost)
        {
            mark_broken(&mut conn);
        }
        result
    })
    .await
    .map_err(|e| DbError::Task(e.to_string()))?
}

/// Whether the database answers a trivial query right now.
pub fn ping(conn: &mut DbConnection) -> Result<(), DbError> {
    conn.ping().map_err(DbError::Query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_by_scheme_and_unknown_schemes_are_refused() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap(),
            DatabaseUrl::Postgres("postgres://u@h/db".into())
        );
        assert!(DatabaseUrl::parse("postgresql://h/db")
            .unwrap()
            .is_postgres());
        assert_eq!(
            DatabaseUrl::parse("sqlite://callem.db").unwrap(),
            DatabaseUrl::Sqlite("callem.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("./data/callem.db").unwrap(),
            DatabaseUrl::Sqlite("./data/callem.db".into())
        );
        let e = DatabaseUrl::parse("postgress://h/db").unwrap_err();
        assert!(e.contains("'postgress:'"), "{e}");
        assert!(DatabaseUrl::parse("mysql://root@h/db")
            .unwrap_err()
            .contains("'mysql:'"));
        assert!(DatabaseUrl::parse("").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_are_hidden_in_messages() {
        let u = DatabaseUrl::parse("postgres://me:hunter2@db/x").unwrap();
        assert!(!u.redacted().contains("hunter2"));
    }
}
