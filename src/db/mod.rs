//! Persistence: one Diesel query layer over PostgreSQL and SQLite. No actix here.

pub mod api_keys;
pub mod audit;
pub mod calls;
pub mod delivery_log;
pub mod health;
pub mod invitation_revocation;
pub mod invitations;
pub mod key_reminders;
pub mod key_usage;
pub mod knowledge;
pub mod memberships;
pub mod migrations;
pub mod models;
pub mod notifications;
pub mod password_resets;
pub mod projects;
pub mod schema;
pub mod settings;
pub mod sign_in_failures;
pub mod types;
pub mod users;
pub mod webhook_deliveries;
pub mod webhook_outbox;
pub mod webhooks;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

/// Where a batch of a newest-first list starts: after so many rows, or after a given row
/// (its `created_at` and id).
#[derive(Debug, Clone, Copy)]
pub enum Resume<'a> {
    Offset(i64),
    After(chrono::NaiveDateTime, &'a str),
}

/// A connection to whichever backend the URL named.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// A delete of one of a project's rows by id that records its audit event in the same
/// transaction (`calls::delete`, `knowledge::delete`): false, and no event, when there was none.
pub type AuditedDelete<Id> = fn(
    &mut DbConnection,
    &crate::domain::ids::ProjectId,
    &Id,
    &crate::domain::actor::Actor,
    chrono::NaiveDateTime,
) -> Result<bool, DbError>;

/// The pool every request and command takes connections from, with as many permits as
/// connections: requests beyond that wait asynchronously instead of parking a blocking thread
/// on the pool. For the server, one deadline bounds permit wait + checkout + query, and a
/// database known to be down is answered for at once (see [`health`]).
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<Manager>,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// `None` for one-shot commands (an import may take minutes).
    deadline: Option<Duration>,
    health: std::sync::Arc<health::Health>,
    /// `/readyz`'s own connection, so a busy pool is not reported as a dead database.
    probe: std::sync::Arc<tokio::sync::Mutex<Option<DbConnection>>>,
    manager: Manager,
    /// Connections the pool keeps open (all of them, on the server).
    min_idle: u32,
    /// Latched once the pool has opened `min_idle` connections.
    warm: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Pool {
    /// The pool's connections right now (open, idle).
    pub fn state(&self) -> r2d2::State {
        self.inner.state()
    }

    /// The connections the pool keeps open: `/readyz` waits for them.
    pub fn min_idle(&self) -> u32 {
        self.min_idle
    }

    /// Whether the pool has opened its connections (once it has, it stays warm: a
    /// connection replaced later is reopened in the background).
    pub fn is_warm(&self) -> bool {
        use std::sync::atomic::Ordering;
        if self.warm.load(Ordering::Acquire) {
            return true;
        }
        let warm = self.inner.state().connections >= self.min_idle;
        if warm {
            self.warm.store(true, Ordering::Release);
        }
        warm
    }

    /// Whether requests currently take the database for down (answered 503 at once).
    pub fn is_down(&self) -> bool {
        self.health.is_down()
    }

    /// Writes the count of 503s the database caused since the last call, if any (see
    /// [`health::Health::summarise`]); the refusal-summary job calls it every
    /// [`health::SUMMARY_EVERY`].
    pub fn summarise_refusals(&self) {
        self.health.summarise();
    }
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

    /// The database is up but could not take the work now (says nothing of its health).
    fn busy(&self) -> bool {
        false
    }
}

impl ConnectionLoss for DbError {
    fn connection_lost(&self) -> bool {
        DbError::connection_lost(self)
    }

    fn busy(&self) -> bool {
        self.is_busy()
    }
}

/// SQLite's "database is locked" / "database is busy": another writer holds the lock past
/// `busy_timeout`.
fn is_locked(kind: &diesel::result::DatabaseErrorKind, message: &str) -> bool {
    matches!(kind, diesel::result::DatabaseErrorKind::Unknown)
        && (message.contains("database is locked") || message.contains("database is busy"))
}

/// The messages of a full disk: SQLite's `SQLITE_FULL`, and PostgreSQL's SQLSTATE 53100
/// (`could not extend file …: No space left on device`) — Diesel passes on neither code.
fn is_disk_full(message: &str) -> bool {
    message.contains("database or disk is full") || message.contains("No space left on device")
}

fn query_found_disk_full(e: &diesel::result::Error) -> bool {
    use diesel::result::Error as E;
    match e {
        E::DatabaseError(_, info) => is_disk_full(info.message()),
        // A commit that failed for want of space, and whose rollback failed too.
        E::RollbackErrorOnCommit { commit_error, .. } => query_found_disk_full(commit_error),
        _ => false,
    }
}

/// Marks a PostgreSQL connection broken so the pool drops it instead of handing it out
/// again (connections are not pinged on checkout, which would cost a round trip each time).
/// A connection's work is done: the connection goes back to the pool unless its link was
/// lost or it is not `reusable`, and the result goes on.
fn returned<T, E: ConnectionLoss>(
    conn: &mut DbConnection,
    result: Result<T, E>,
    reusable: bool,
) -> Result<T, E> {
    if !reusable
        || result
            .as_ref()
            .err()
            .is_some_and(ConnectionLoss::connection_lost)
    {
        mark_broken(conn);
    }
    result
}

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
    /// The database is up but cannot take the work now (SQLite's write lock is held, or
    /// every connection stayed busy past the deadline): worth retrying in a moment.
    #[error("database busy: {0}")]
    Busy(String),
    /// The cause is part of the message, not a chained source, so a command prints it once.
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("database task failed: {0}")]
    Task(String),
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::Query(e)
    }
}

impl DbError {
    /// True when the database cannot do the work now (unreachable, busy, or its disk full),
    /// as opposed to a query that failed: answered 503 with `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        self.connection_lost() || self.is_busy() || self.is_disk_full()
    }

    /// True when the disk holding the database is full: SQLite's `SQLITE_FULL` ("database or
    /// disk is full"), PostgreSQL's `disk_full` (SQLSTATE 53100, "No space left on device").
    /// Reads still work, so this says nothing of the database's health.
    pub fn is_disk_full(&self) -> bool {
        match self {
            DbError::Query(e) => query_found_disk_full(e),
            // Migrations report Diesel's error as text.
            DbError::Migration(message) => is_disk_full(message),
            _ => false,
        }
    }

    /// True when the work should simply be retried shortly (answered 503 with `Retry-After`).
    pub fn is_busy(&self) -> bool {
        match self {
            DbError::Busy(_) => true,
            DbError::Query(diesel::result::Error::DatabaseError(kind, info)) => {
                is_locked(kind, info.message())
            }
            _ => false,
        }
    }

    /// True when the connection (or the database) is gone, not merely busy.
    fn connection_lost(&self) -> bool {
        use diesel::result::DatabaseErrorKind as K;
        match self {
            DbError::Unavailable(_) => true,
            DbError::Query(diesel::result::Error::DatabaseError(kind, info)) => {
                matches!(kind, K::ClosedConnection | K::UnableToSendCommand)
                    // The server cancelled a statement that ran past `statement_timeout`.
                    || info.message().contains("canceling statement due to statement timeout")
            }
            _ => false,
        }
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

/// Opens connections for the pool, setting SQLite's pragmas on each one. A server's
/// PostgreSQL connections get a connect timeout, TCP keepalives, a TCP user timeout and a
/// `statement_timeout`, so a stalled server cannot hold a connection for ever.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
    /// SQLite's `busy_timeout`.
    busy_timeout: Duration,
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Self {
        Manager {
            url,
            busy_timeout: Duration::from_secs(5),
        }
    }

    fn for_server(url: &DatabaseUrl, deadline: Duration) -> Self {
        let url = match url {
            DatabaseUrl::Postgres(u) => DatabaseUrl::Postgres(with_deadlines(u, deadline)),
            other => other.clone(),
        };
        Manager {
            url,
            // Give up on SQLite's lock before the request's deadline, so a locked database is
            // told apart ("busy", retry) from one that does not answer.
            busy_timeout: deadline.mul_f32(0.6),
        }
    }
}

/// Adds libpq's timeouts to a PostgreSQL URL, leaving any the operator set alone.
fn with_deadlines(url: &str, deadline: Duration) -> String {
    let ms = deadline.as_millis().max(1);
    let wanted = [
        ("connect_timeout", deadline.as_secs().max(1).to_string()),
        ("keepalives", "1".to_owned()),
        ("keepalives_idle", "5".to_owned()),
        ("keepalives_interval", "2".to_owned()),
        ("keepalives_count", "2".to_owned()),
        ("tcp_user_timeout", (ms * 3).to_string()),
        ("options", format!("-c statement_timeout={ms}")),
    ];
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let has = |name: &str| {
        query
            .split('&')
            .any(|kv| kv.split('=').next() == Some(name))
    };
    let mut out = url.to_owned();
    for (name, value) in wanted.iter().filter(|(n, _)| !has(n)) {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(name);
        out.push('=');
        // libpq decodes %XX only (a `+` would stay a plus).
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
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
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    self.busy_timeout.as_millis()
                ))
                .map_err(r2d2::Error::QueryError)?;
                knowledge::register_sqlite_functions(&mut conn).map_err(r2d2::Error::QueryError)?;
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

/// r2d2's error handler: each failed connection attempt at debug level only.
#[derive(Debug)]
struct QuietErrors;

impl r2d2::HandleError<r2d2::Error> for QuietErrors {
    fn handle_error(&self, error: r2d2::Error) {
        tracing::debug!(%error, "a database connection attempt failed");
    }
}

/// Who the pool is for: the server grows it on demand; a one-shot command keeps exactly one
/// connection, opened up front, so no background thread is still connecting when the
/// process exits (libpq torn down under a connecting thread crashes the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolUse {
    /// The server, with at most this many connections and this deadline for a request's
    /// whole time on the database.
    Server(u32, Duration),
    Command,
}

/// How long a server request may spend on the database in all (permit wait, checkout and
/// query), so that "503 within 2 s" holds however the database fails: the default of
/// `CALLEM_DB_DEADLINE_MS` (the fault tests lower it, so their 2 s check has a wide margin).
pub const SERVER_DEADLINE: Duration = Duration::from_millis(1800);

/// How long the server's start waits for its pool to open every connection (past it, the
/// server starts anyway and `/readyz` says "starting" until they are open).
pub const WARM_UP_WAIT: Duration = Duration::from_secs(5);

/// Opens the pool (failing when the database cannot be reached) and applies pending
/// migrations: what the server and every command start with.
pub async fn open(url: &DatabaseUrl, usage: PoolUse) -> Result<Pool, DbError> {
    let owned = url.clone();
    let pool = tokio::task::spawn_blocking(move || build_pool(&owned, usage))
        .await
        .map_err(|e| DbError::Task(e.to_string()))??;
    let applied = run(&pool, migrations::run_pending).await?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(pool)
}

/// Builds the pool, failing when the database cannot be reached. The server's pool keeps all
/// its connections open (`min_idle` = size), opened at start: a burst on a fresh replica finds
/// them ready instead of waiting on connections being established.
pub fn build_pool(url: &DatabaseUrl, usage: PoolUse) -> Result<Pool, DbError> {
    let (size, deadline, manager) = match usage {
        PoolUse::Command => (1, None, Manager::new(url.clone())),
        PoolUse::Server(n, deadline) => {
            (n.max(1), Some(deadline), Manager::for_server(url, deadline))
        }
    };
    // A checkout gives up a little before the request's deadline (1.5 s of 1.8 s).
    let checkout = deadline.map_or(Duration::from_millis(1500), |d| d * 5 / 6);
    let builder = r2d2::Pool::builder()
        // r2d2 would log each failed connection attempt (thousands in an outage); a command
        // reports its one failure itself, the server its outage (see `health`).
        .error_handler(Box::new(QuietErrors))
        .max_size(size)
        .min_idle(Some(size))
        // No ping on checkout: a dead connection is dropped when a query on it fails.
        .test_on_check_out(false)
        // A request waiting on an unreachable database gives up quickly (503 within 2 s).
        .connection_timeout(checkout);
    let inner = match usage {
        // One connection, opened before the command goes on.
        PoolUse::Command => builder
            .build(manager.clone())
            .map_err(|e| DbError::Unavailable(e.to_string()))?,
        PoolUse::Server(..) => {
            // Opens the connections in the background; one is enough to know the database
            // answers, the others are waited for below (not failing the start).
            let inner = builder.build_unchecked(manager.clone());
            drop(
                inner
                    .get()
                    .map_err(|e| DbError::Unavailable(e.to_string()))?,
            );
            let started = std::time::Instant::now();
            while inner.state().connections < size && started.elapsed() < WARM_UP_WAIT {
                std::thread::sleep(Duration::from_millis(10));
            }
            let opened = inner.state().connections;
            if opened < size {
                tracing::warn!(
                    opened,
                    size,
                    "the database pool is still opening its connections; /readyz says \
                     \"starting\" until it has"
                );
            }
            inner
        }
    };
    Ok(Pool {
        inner,
        permits: std::sync::Arc::new(tokio::sync::Semaphore::new(size as usize)),
        deadline,
        health: Default::default(),
        probe: Default::default(),
        manager,
        min_idle: size,
        warm: Default::default(),
    })
}

/// Bounds of background work that has no request waiting on it (the usage flush): enforced
/// by the database itself, so the work ends (committed or rolled back) and its outcome is
/// always known.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a statement may wait for a lock (SQLite's `busy_timeout`, PostgreSQL's
    /// `lock_timeout`).
    pub lock_wait: Duration,
    /// How long one statement may run (PostgreSQL's `statement_timeout`).
    pub statement: Duration,
    /// PostgreSQL: commit without waiting for the WAL to reach the disk
    /// (`synchronous_commit = off`), for work whose last instant may be lost in a crash of
    /// the database server without breaking a promise (a delivery marked done or a lease,
    /// lost, means one more attempt: deliveries are at-least-once). Never for a change a
    /// client was told is made.
    pub relaxed_commit: bool,
}

/// Runs background work on the blocking pool with a pooled connection, waiting for it to end
/// however long it takes (within `limits`, which the database enforces): unlike [`run`], its
/// outcome is never abandoned, and neither a slow nor a failed run touches the pool's view of
/// the database's health (the request path's "database down"). While the database is known
/// to be down, it does not try.
pub async fn run_background<T, F>(pool: &Pool, limits: Limits, work: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
{
    if pool.health.is_down() {
        return Err(DbError::Unavailable(pool.health.describe_down()));
    }
    let permit = pool
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| DbError::Task(e.to_string()))?;
    let inner = pool.inner.clone();
    let busy_timeout = pool.manager.busy_timeout;
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let _permit = permit;
        let mut conn = inner.get().map_err(checkout_error)?;
        let (bound, unbound) = match &*conn {
            DbConnection::Sqlite(_) => (
                format!("PRAGMA busy_timeout = {};", limits.lock_wait.as_millis()),
                format!("PRAGMA busy_timeout = {};", busy_timeout.as_millis()),
            ),
            DbConnection::Pg(_) => (
                format!(
                    "SET lock_timeout = {}; SET statement_timeout = {};{}",
                    limits.lock_wait.as_millis().max(1),
                    limits.statement.as_millis().max(1),
                    if limits.relaxed_commit {
                        " SET synchronous_commit = off;"
                    } else {
                        ""
                    }
                ),
                // Back to the connection's own settings (those of its URL).
                "RESET lock_timeout; RESET statement_timeout; RESET synchronous_commit;".to_owned(),
            ),
        };
        conn.batch_execute(&bound)?;
        let result = work(&mut conn);
        // Never hand out a connection with the background work's bounds.
        let unbound = conn.batch_execute(&unbound).is_ok();
        returned(&mut conn, result, unbound)
    })
    .await
    .map_err(|e| DbError::Task(e.to_string()))?
}

/// A checkout that timed out: the database is down when opening a connection failed, busy
/// when one was still being opened (a connection being established is not a dead database).
fn checkout_error(e: r2d2::PoolError) -> DbError {
    let message = e.to_string();
    if message == "timed out waiting for connection" {
        DbError::Busy("a database connection is still being opened".to_owned())
    } else {
        DbError::Unavailable(message)
    }
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
///
/// On the server, the whole of it — waiting for a permit, the checkout and the query — has
/// one deadline; past it the caller gets `Unavailable` (the work was running: the database
/// stalls) or `Busy` (it never got a connection: the server is overloaded). While the
/// database is known to be down, only one request at a time tries it; the others are
/// answered at once.
pub async fn run_with<T, E, F>(pool: &Pool, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DbError> + ConnectionLoss + std::fmt::Display + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    let Some(_admission) = pool.health.admit() else {
        pool.health.refused(&"the database is down; not queueing");
        return Err(DbError::Unavailable(pool.health.describe_down()).into());
    };
    let started = std::sync::Arc::new(std::sync::OnceLock::new());
    let attempt = attempt(pool, work, started.clone());
    let result = match pool.deadline {
        None => attempt.await,
        Some(limit) => match tokio::time::timeout(limit, attempt).await {
            Ok(r) => r,
            // The work is still running on its thread (and keeps its permit, so stalled work
            // never exceeds the pool's size); the caller stops waiting for it. Only work that
            // had most of the deadline to itself says the database stalls: work that spent it
            // queueing behind others says the server is busy, and must not make every other
            // request fail fast.
            Err(_) => Err(match started.get() {
                Some(at) if at.elapsed() >= limit / 2 => DbError::Unavailable(format!(
                    "the database did not answer within {} ms",
                    limit.as_millis()
                )),
                Some(_) => DbError::Busy(format!(
                    "the work waited its turn and did not finish within {} ms",
                    limit.as_millis()
                )),
                None => DbError::Busy(format!(
                    "no database connection came free within {} ms",
                    limit.as_millis()
                )),
            }
            .into()),
        },
    };
    // Only the server keeps the database's health (and logs its outages); a command
    // reports its one failure itself.
    if pool.deadline.is_none() {
        return result;
    }
    match &result {
        Err(e) if e.connection_lost() => pool.health.mark_down(),
        // A full pool (or a locked SQLite file) tells nothing of the database's health.
        Err(e) if e.busy() => {}
        // An answer, even an error, means the database is there.
        _ => pool.health.mark_up(),
    }
    if let Err(e) = &result {
        // The server's 503s are counted and summarised, not logged one by one.
        if e.connection_lost() || e.busy() {
            pool.health.refused(e);
        }
    }
    result
}

async fn attempt<T, E, F>(
    pool: &Pool,
    work: F,
    started: std::sync::Arc<std::sync::OnceLock<std::time::Instant>>,
) -> Result<T, E>
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
        let mut conn = inner.get().map_err(checkout_error)?;
        // From the checkout on: time spent waiting for a connection being opened says
        // nothing of whether the database answers.
        let _ = started.set(std::time::Instant::now());
        let result = work(&mut conn);
        returned(&mut conn, result, true)
    })
    .await
    .map_err(|e| DbError::Task(e.to_string()))?
}

/// `/readyz`: a ping within the server deadline. Through the pool while it has a free
/// connection; when every connection is busy with real work, on a connection of its own, so
/// a busy server is not reported down. The outcome updates the pool's health, so recovery
/// is noticed even when no request comes.
pub async fn probe(pool: &Pool) -> Result<(), DbError> {
    if !pool.is_warm() {
        return Err(DbError::Busy(format!(
            "the pool has opened {} of its {} connections",
            pool.state().connections,
            pool.min_idle
        )));
    }
    if pool.permits.available_permits() > 0 {
        return run(pool, ping).await;
    }
    let limit = pool.deadline.unwrap_or(SERVER_DEADLINE);
    let (slot, manager) = (pool.probe.clone(), pool.manager.clone());
    let check = async move {
        // Waiting probes wait here, asynchronously: at most one thread is ever stuck on a
        // stalled database for them.
        let mut slot = slot.lock_owned().await;
        tokio::task::spawn_blocking(move || {
            if slot.is_none() {
                *slot = Some(
                    manager
                        .connect()
                        .map_err(|e| DbError::Unavailable(e.to_string()))?,
                );
            }
            let result = slot.as_mut().map(ping).unwrap_or(Ok(()));
            if result.is_err() {
                *slot = None;
            }
            result
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    };
    let result = match tokio::time::timeout(limit, check).await {
        Ok(r) => r,
        Err(_) => Err(DbError::Unavailable(format!(
            "the database did not answer within {} ms",
            limit.as_millis()
        ))),
    };
    match &result {
        Ok(()) => pool.health.mark_up(),
        Err(_) => pool.health.mark_down(),
    }
    result
}

/// A transaction for work that reads and then writes. On SQLite it starts with
/// `BEGIN IMMEDIATE`, taking the write lock first: a deferred `BEGIN` whose first write comes
/// after a read fails at once with `SQLITE_BUSY` when another connection (another server on
/// the same file) wrote in between, instead of waiting `busy_timeout`. On PostgreSQL, and
/// inside a transaction already open (a savepoint then), it is an ordinary transaction.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    E: From<diesel::result::Error>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    let outermost = matches!(
        Manager::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(None)
    );
    match conn {
        DbConnection::Sqlite(lite) if outermost => {
            AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?
        }
        _ => Manager::begin_transaction(conn)?,
    }
    finish(conn, work)
}

/// A transaction (a savepoint inside one already open), as `Connection::transaction` runs
/// it, except that a failed rollback does not hide why the work failed: SQLite rolls back
/// by itself on a full disk, and the rollback's "cannot rollback - no transaction is active"
/// would replace "database or disk is full".
pub fn transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    E: From<diesel::result::Error>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    use diesel::connection::TransactionManager;
    type Manager = <DbConnection as Connection>::TransactionManager;
    Manager::begin_transaction(conn)?;
    finish(conn, work)
}

/// Runs the work of a transaction just begun, then commits it or rolls it back. When the
/// rollback fails too, the work's own error is the one returned (Diesel marks the
/// connection broken, so the pool drops it).
fn finish<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    E: From<diesel::result::Error>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    use diesel::connection::TransactionManager;
    type Manager = <DbConnection as Connection>::TransactionManager;
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = Manager::rollback_transaction(conn) {
                tracing::debug!(%rollback, "rollback after a failed transaction failed too");
            }
            Err(e)
        }
    }
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

    /// Connections that take a while to open, or that cannot be opened.
    struct Opening {
        fails: bool,
    }

    impl ManageConnection for Opening {
        type Connection = ();
        type Error = std::io::Error;

        fn connect(&self) -> Result<(), std::io::Error> {
            if self.fails {
                return Err(std::io::Error::other("connection refused"));
            }
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        }

        fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> {
            Ok(())
        }

        fn has_broken(&self, _: &mut ()) -> bool {
            false
        }
    }

    #[test]
    fn a_connection_still_opening_is_busy_and_one_that_cannot_open_is_down() {
        let opening = r2d2::Pool::builder()
            .max_size(1)
            .build_unchecked(Opening { fails: false });
        let e = checkout_error(opening.get_timeout(Duration::from_millis(50)).unwrap_err());
        assert!(e.is_busy() && !e.connection_lost(), "{e}");

        let refused = r2d2::Pool::builder()
            .max_size(1)
            .build_unchecked(Opening { fails: true });
        std::thread::sleep(Duration::from_millis(100));
        let e = checkout_error(refused.get_timeout(Duration::from_millis(50)).unwrap_err());
        assert!(e.connection_lost(), "{e}");
        assert!(e.to_string().contains("connection refused"), "{e}");
    }

    /// A database error as Diesel reports it: a kind and a message, no SQLSTATE.
    fn database_error(message: &str) -> DbError {
        use diesel::result::{DatabaseErrorKind, Error};
        DbError::Query(Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(message.to_owned()),
        ))
    }

    #[test]
    fn a_full_disk_is_told_apart_on_both_backends_and_is_unavailable_not_down() {
        // SQLite's SQLITE_FULL.
        let sqlite = database_error("database or disk is full");
        // PostgreSQL's disk_full, SQLSTATE 53100.
        let pg =
            database_error("could not extend file \"base/16384/16397\": No space left on device");
        for e in [&sqlite, &pg] {
            assert!(e.is_disk_full(), "{e}");
            assert!(e.is_unavailable(), "{e}");
            assert!(!e.connection_lost() && !e.is_busy(), "{e}");
        }
        let other = database_error("duplicate key value violates unique constraint");
        assert!(!other.is_disk_full() && !other.is_unavailable());
        let migration = DbError::Migration("database or disk is full".to_owned());
        assert!(migration.is_disk_full());
    }

    #[test]
    fn passwords_are_hidden_in_messages() {
        let u = DatabaseUrl::parse("postgres://me:hunter2@db/x").unwrap();
        assert!(!u.redacted().contains("hunter2"));
    }
}
