//! Migrations embedded in the binary, one folder per backend with the same names.

use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{DbConnection, DbError};

/// The migrations of each backend, embedded in the binary.
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Any fixed number: replicas starting together queue on it instead of racing.
const MIGRATION_LOCK_ID: i64 = 0x6361_6c6c_656d;

/// Applies pending migrations; returns how many ran. On PostgreSQL this holds an advisory
/// lock for the duration, so two replicas starting at once do not race.
pub fn run_pending(conn: &mut DbConnection) -> Result<usize, DbError> {
    match conn {
        DbConnection::Pg(pg) => {
            // A migration may take longer than a request's statement_timeout.
            diesel::sql_query("SET statement_timeout = 0").execute(pg)?;
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_ID})"))
                .execute(pg)?;
            let result = pg
                .run_pending_migrations(POSTGRES)
                .map(|v| v.len())
                .map_err(|e| DbError::Migration(e.to_string()))
                .and_then(|n| after_migrations(conn).map(|()| n));
            let DbConnection::Pg(pg) = conn else {
                return result;
            };
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})"))
                .execute(pg)?;
            diesel::sql_query("RESET statement_timeout").execute(pg)?;
            result
        }
        DbConnection::Sqlite(lite) => {
            let n = lite
                .run_pending_migrations(SQLITE)
                .map(|v| v.len())
                .map_err(|e| DbError::Migration(e.to_string()))?;
            after_migrations(conn)?;
            Ok(n)
        }
    }
}

/// What a migration leaves to the code: the audit events recorded before the hash chain are
/// chained (SHA-256 is not in SQLite's SQL).
fn after_migrations(conn: &mut DbConnection) -> Result<(), DbError> {
    let moved = super::audit::chain_legacy_events(conn)?;
    if moved > 0 {
        tracing::info!(
            moved,
            "audit events from before the hash chain were chained"
        );
    }
    Ok(())
}
