//! The delivery log's prune: deliveries (with their attempts) and events older than
//! [`LOG_KEPT_DAYS`](crate::domain::webhook::LOG_KEPT_DAYS) go, hourly.

use std::time::Duration;

use super::periodic::PeriodicJob;
use crate::db::{self, webhook_deliveries, DbError, Pool};
use crate::usage::FLUSH_LIMITS;

/// The job's inputs.
pub struct WebhookPrune {
    pub pool: Pool,
}

impl PeriodicJob for WebhookPrune {
    type Error = DbError;

    fn name(&self) -> &'static str {
        "webhook_prune"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(3600)
    }

    fn first_after(&self) -> Duration {
        Duration::from_secs(60)
    }

    async fn run(&mut self) -> Result<(), DbError> {
        let now = crate::time::now();
        db::run_background(&self.pool, FLUSH_LIMITS, move |conn| {
            Ok(webhook_deliveries::prune(conn, now)?)
        })
        .await
        .map(|_| ())
    }
}
