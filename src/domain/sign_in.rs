//! How long an account waits after repeated failed sign-ins: a few free tries, then a delay
//! that doubles with each further failure up to a cap. Never a permanent lock: the real
//! owner can always sign in once the delay is over, and a success starts the count over.

use chrono::{Duration, NaiveDateTime};

/// Failures allowed before any delay.
pub const FREE_FAILURES: i64 = 5;
/// The delay after the first failure past the free ones.
pub const FIRST_DELAY_SECS: i64 = 30;
/// The longest delay.
pub const MAX_DELAY_SECS: i64 = 15 * 60;

/// The wait imposed after `failures` consecutive failures.
pub fn delay_after(failures: i64) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::zero();
    }
    let doublings = (failures - FREE_FAILURES).min(16) as u32;
    Duration::seconds(
        FIRST_DELAY_SECS
            .saturating_mul(1 << doublings)
            .min(MAX_DELAY_SECS),
    )
}

/// Seconds still to wait at `now`, when the account is waiting.
pub fn wait_left(failures: i64, last_failure: NaiveDateTime, now: NaiveDateTime) -> Option<i64> {
    let until = last_failure + delay_after(failures);
    let left = (until - now).num_seconds();
    (until > now).then_some(left.max(1))
}

/// What a refused attempt says: `what` was exceeded, and when to try again (in minutes,
/// rounded up).
pub fn wait_message(what: &str, wait_secs: i64) -> String {
    let minutes = (wait_secs.max(1) + 59) / 60;
    format!(
        "{what} Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_grows_after_the_free_failures_and_is_capped() {
        assert_eq!(delay_after(4), Duration::zero());
        assert_eq!(delay_after(5), Duration::seconds(30));
        assert_eq!(delay_after(6), Duration::seconds(60));
        assert_eq!(delay_after(8), Duration::seconds(240));
        assert_eq!(delay_after(100), Duration::seconds(MAX_DELAY_SECS));
        assert_eq!(delay_after(i64::MAX), Duration::seconds(MAX_DELAY_SECS));
    }

    #[test]
    fn the_wait_ends() {
        let t = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        assert_eq!(wait_left(5, t, t + Duration::seconds(10)), Some(20));
        assert_eq!(wait_left(5, t, t + Duration::seconds(30)), None);
        assert_eq!(wait_left(3, t, t), None);
    }

    #[test]
    fn the_wait_reads_in_whole_minutes() {
        assert_eq!(wait_message("Held.", 30), "Held. Try again in 1 minute.");
        assert_eq!(wait_message("Held.", 61), "Held. Try again in 2 minutes.");
    }
}
