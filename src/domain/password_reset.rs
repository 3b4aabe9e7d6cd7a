//! When "Forgot your password?" may email an account a new link: at most one every
//! [`EMAIL_GAP`] and [`EMAILS_PER_DAY`] a day per account, whichever addresses ask, so a
//! mailbox cannot be flooded (the per-address limit alone let 30 addresses send 30 emails).
//! Counted from the account's stored links, so every replica sees the same count.

use chrono::{Duration, NaiveDateTime};

/// The least time between two links for one account.
pub const EMAIL_GAP: Duration = Duration::minutes(5);
/// Links per account in any 24 hours.
pub const EMAILS_PER_DAY: usize = 5;
/// How far back [`may_send`] looks (links older than this no longer count).
pub const DAY: Duration = Duration::days(1);

/// Whether the account may get a new link at `now`, given when its links of the last day were
/// made (emailed, or printed by `callem user reset-password`). A link made less than
/// [`EMAIL_GAP`] ago is still valid (links last an hour), so the person has it or it is on its
/// way: no second one is minted.
pub fn may_send(recent: &[NaiveDateTime], now: NaiveDateTime) -> bool {
    let in_day = recent.iter().filter(|t| **t > now - DAY).count();
    let too_soon = recent.iter().any(|t| *t > now - EMAIL_GAP);
    in_day < EMAILS_PER_DAY && !too_soon
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn one_link_every_five_minutes() {
        let now = t0();
        assert!(may_send(&[], now));
        assert!(!may_send(&[now - Duration::minutes(4)], now));
        assert!(may_send(&[now - Duration::minutes(5)], now));
        // A clock a little ahead on another replica counts as recent too.
        assert!(!may_send(&[now + Duration::seconds(2)], now));
    }

    #[test]
    fn five_links_a_day() {
        let now = t0();
        let four: Vec<_> = (1..=4).map(|h| now - Duration::hours(h)).collect();
        assert!(may_send(&four, now));
        let five: Vec<_> = (1..=5).map(|h| now - Duration::hours(h)).collect();
        assert!(!may_send(&five, now));
        let old: Vec<_> = (20..=25).map(|h| now - Duration::hours(h)).collect();
        assert!(may_send(&old, now), "only four of them are within the day");
    }
}
