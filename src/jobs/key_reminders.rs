//! Key expiry reminders (`db::key_reminders`): every 10 minutes on every replica; the marks
//! make each reminder go out once.

use std::time::Duration;

use super::periodic::PeriodicJob;
use crate::db::{self, key_reminders, DbError, Pool};
use crate::usage::FLUSH_LIMITS;

/// How often the keys are looked at.
pub const EVERY: Duration = Duration::from_secs(600);

/// The job's inputs.
pub struct KeyReminders {
    pub pool: Pool,
    /// Wakes the delivery job when a reminder was written.
    pub deliveries: std::sync::Arc<tokio::sync::Notify>,
}

impl PeriodicJob for KeyReminders {
    type Error = DbError;

    fn name(&self) -> &'static str {
        "key_reminders"
    }

    fn interval(&self) -> Duration {
        EVERY
    }

    fn first_after(&self) -> Duration {
        Duration::from_secs(20)
    }

    async fn run(&mut self) -> Result<(), DbError> {
        let now = crate::time::now();
        let sent = db::run_background(&self.pool, FLUSH_LIMITS, move |conn| {
            key_reminders::remind_expiring(conn, now)
        })
        .await?;
        if sent > 0 {
            self.deliveries.notify_one();
        }
        Ok(())
    }
}
