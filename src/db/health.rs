//! Whether the database is known to be down, shared by every request of this process: while
//! it is, one request at a time tries it (and `/readyz` keeps probing), and the others are
//! answered 503 at once instead of each waiting out the deadline in a queue.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// The pool's view of the database.
#[derive(Debug, Default)]
pub struct Health {
    /// Unix milliseconds since the database has been down; 0 while it is up.
    down_since: AtomicI64,
    /// A request is trying the database while it is down.
    probing: AtomicBool,
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
            tracing::warn!("the database is not answering; failing fast until it does");
        }
    }

    pub fn mark_up(&self) {
        if self.down_since.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!("the database answers again");
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
