//! Whether the database is known to be down, shared by every request of this process: while
//! it is, one request at a time tries it (and `/readyz` keeps probing), and the others are
//! answered 503 at once instead of each waiting out the deadline in a queue.
//!
//! And what the log says of it: the state changes (down; up again, after how long), the
//! cause of the first 503 of a spell, then one summary line per [`SUMMARY_EVERY`] — never a
//! line per refused request (a 30 s outage once wrote 1.63 million).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// How often the count of 503s is written while there are any.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// The pool's view of the database.
#[derive(Debug, Default)]
pub struct Health {
    /// Unix milliseconds since the database has been down; 0 while it is up.
    down_since: AtomicI64,
    /// A request is trying the database while it is down.
    probing: AtomicBool,
    /// Requests answered 503 (database down, stalled or busy) since the last summary.
    refused: AtomicU64,
    /// The cause of this spell of 503s is in the log already (cleared by a quiet period).
    spell_logged: AtomicBool,
}

/// Lets one request through; while the database is down, it is the one probe.
pub struct Admission<'a> {
    probe: Option<&'a AtomicBool>,
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if let Some(flag) = self.probe {
            flag.store(false, Ordering::Release);
        }
    }
}

impl Health {
    /// `None`: the database is down and another request is already trying it.
    pub fn admit(&self) -> Option<Admission<'_>> {
        if self.down_since.load(Ordering::Acquire) == 0 {
            return Some(Admission { probe: None });
        }
        self.probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Admission {
                probe: Some(&self.probing),
            })
    }

    pub fn mark_down(&self) {
        let now = chrono::Utc::now().timestamp_millis().max(1);
        if self
            .down_since
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            tracing::warn!("the database is down; answering 503 at once until it answers again");
        }
    }

    pub fn mark_up(&self) {
        let since = self.down_since.swap(0, Ordering::AcqRel);
        if since != 0 {
            let down_for = (chrono::Utc::now().timestamp_millis() - since).max(0) as f64 / 1000.0;
            tracing::info!(
                down_secs = down_for,
                "the database answers again after {down_for:.1} s down"
            );
        }
    }

    /// A request is answered 503 because of the database (down, stalled or busy): counted
    /// for the next summary; the first of a spell also logs its cause.
    pub fn refused(&self, cause: &dyn std::fmt::Display) {
        self.refused.fetch_add(1, Ordering::AcqRel);
        if !self.spell_logged.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                %cause,
                "answering 503: the database cannot take requests (a count follows every {} s)",
                SUMMARY_EVERY.as_secs()
            );
        }
    }

    /// Writes how many requests were answered 503 since the last call, if any; a period
    /// without any ends the spell (its next 503 logs its cause again). Called every
    /// [`SUMMARY_EVERY`].
    pub fn summarise(&self) {
        let n = self.refused.swap(0, Ordering::AcqRel);
        if n == 0 {
            self.spell_logged.store(false, Ordering::Release);
            return;
        }
        tracing::warn!(
            refused = n,
            "{} requests answered 503 in the last {} s",
            thousands(n),
            SUMMARY_EVERY.as_secs()
        );
    }

    pub fn is_down(&self) -> bool {
        self.down_since.load(Ordering::Acquire) != 0
    }

    /// Why a request was refused without trying, for the log.
    pub fn describe_down(&self) -> String {
        let since = self.down_since.load(Ordering::Acquire);
        let secs = (chrono::Utc::now().timestamp_millis() - since).max(0) / 1000;
        format!("the database has been down for {secs} s; not queueing")
    }
}

/// 1204 as "1,204".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_written_with_thousands_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_630_000), "1,630,000");
    }

    #[test]
    fn refusals_are_counted_until_the_summary_and_a_quiet_period_ends_the_spell() {
        let h = Health::default();
        h.refused(&"down");
        assert!(h.spell_logged.load(Ordering::Acquire));
        h.refused(&"down");
        assert_eq!(h.refused.load(Ordering::Acquire), 2);
        h.summarise();
        assert_eq!(h.refused.load(Ordering::Acquire), 0);
        assert!(
            h.spell_logged.load(Ordering::Acquire),
            "still the same spell"
        );
        h.summarise();
        assert!(
            !h.spell_logged.load(Ordering::Acquire),
            "a quiet period ends it"
        );
    }

    #[test]
    fn while_down_one_request_at_a_time_tries_the_database() {
        let h = Health::default();
        assert!(h.admit().is_some_and(|a| a.probe.is_none()));
        h.mark_down();
        let probe = h.admit().expect("the first request probes");
        assert!(h.admit().is_none(), "a second one is answered at once");
        drop(probe);
        assert!(h.admit().is_some(), "the next one may probe again");
        h.mark_up();
        let a = h.admit();
        let b = h.admit();
        assert!(a.is_some() && b.is_some());
        assert!(!h.is_down());
    }
}
