//! The refusal summary: every [`SUMMARY_EVERY`](crate::db::health::SUMMARY_EVERY), the count
//! of requests the database made the server answer 503 since the last one, while there are
//! any ([`Pool::summarise_refusals`]).

use std::convert::Infallible;
use std::time::Duration;

use super::periodic::PeriodicJob;
use crate::db::{health::SUMMARY_EVERY, Pool};

/// The job's input.
pub struct RefusalSummary {
    pub pool: Pool,
}

impl PeriodicJob for RefusalSummary {
    type Error = Infallible;

    fn name(&self) -> &'static str {
        "refusal_summary"
    }

    fn interval(&self) -> Duration {
        SUMMARY_EVERY
    }

    async fn run(&mut self) -> Result<(), Infallible> {
        self.pool.summarise_refusals();
        Ok(())
    }
}
