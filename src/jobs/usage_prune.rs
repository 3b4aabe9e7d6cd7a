//! The usage prune: deletes the hourly key-usage counts older than
//! [`KEEP_DAYS`](crate::usage::KEEP_DAYS), soon after the start and then hourly.

use std::time::Duration;

use super::periodic::PeriodicJob;
use crate::db::{self, key_usage, DbError, Pool};
use crate::usage::{FLUSH_EVERY, FLUSH_LIMITS, KEEP_DAYS};

/// How often old counts are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The job's inputs.
pub struct UsagePrune {
    pub pool: Pool,
}

impl PeriodicJob for UsagePrune {
    type Error = DbError;

    fn name(&self) -> &'static str {
        "usage_prune"
    }

    fn interval(&self) -> Duration {
        PRUNE_EVERY
    }

    /// With the first flush: a server restarted more often than hourly still prunes.
    fn first_after(&self) -> Duration {
        FLUSH_EVERY
    }

    async fn run(&mut self) -> Result<(), DbError> {
        let before = crate::time::now() - chrono::Duration::days(KEEP_DAYS);
        // Like the flush, bounded by the database and never a "database down".
        db::run_background(&self.pool, FLUSH_LIMITS, move |conn| {
            Ok(key_usage::prune(conn, before)?)
        })
        .await
        .map(|_| ())
    }
}
