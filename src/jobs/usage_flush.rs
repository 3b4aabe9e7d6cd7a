//! The usage flush: writes the key-usage counts of this process every
//! [`FLUSH_EVERY`](crate::usage::FLUSH_EVERY), or as soon as the pending addresses fill up
//! ([`UsageRecorder::filled`]). How a flush writes, and keeps what it could not, is the
//! recorder's ([`crate::usage`]); the last flush, on shutdown, is
//! [`Application::run_until_stopped`](crate::startup::Application::run_until_stopped)'s, after
//! the drain.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::periodic::PeriodicJob;
use crate::db::{DbError, Pool};
use crate::usage::{UsageRecorder, FLUSH_EVERY};

/// The job's inputs.
pub struct UsageFlush {
    pub usage: Arc<UsageRecorder>,
    pub pool: Pool,
}

impl PeriodicJob for UsageFlush {
    type Error = DbError;

    fn name(&self) -> &'static str {
        "usage_flush"
    }

    fn interval(&self) -> Duration {
        FLUSH_EVERY
    }

    fn woken(&self) -> impl Future<Output = ()> {
        self.usage.filled()
    }

    /// A failed flush has logged what it kept for the next one already.
    async fn run(&mut self) -> Result<(), DbError> {
        self.usage.flush(&self.pool).await.map(|_| ())
    }
}
