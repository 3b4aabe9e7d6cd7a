//! Fixed-window request counting per client address: 120 requests a minute over all of `/v1`
//! (configurable), and a few sign-in attempts per address. Counters live in this process on
//! purpose: with several replicas each one counts separately (see the README).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the client's window starts over.
    pub reset_secs: u64,
}

/// Fixed windows per client address.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    /// `limit_per_minute` requests per minute.
    pub fn new(limit_per_minute: u32) -> Self {
        Self::with_window(limit_per_minute, Duration::from_secs(60))
    }

    /// `limit` requests per `window`.
    pub fn with_window(limit: u32, window: Duration) -> Self {
        RateLimiter {
            limit,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request from `client` at `now`.
    pub fn check(&self, client: IpAddr, now: Instant) -> Decision {
        let mut windows = match self.windows.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() > 50_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = windows.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        let reset = self.window.saturating_sub(now.duration_since(entry.0));
        let reset_secs = reset.as_secs() + u64::from(reset.subsec_nanos() > 0);
        if entry.1 >= self.limit {
            return Decision {
                allowed: false,
                limit: self.limit,
                remaining: 0,
                reset_secs,
            };
        }
        entry.1 += 1;
        Decision {
            allowed: true,
            limit: self.limit,
            remaining: self.limit - entry.1,
            reset_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_client_and_starts_over_after_a_minute() {
        let rl = RateLimiter::new(3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(rl.check(a, t0).remaining, 2);
        assert_eq!(rl.check(a, t0).remaining, 1);
        let third = rl.check(a, t0 + Duration::from_secs(10));
        assert_eq!(
            (third.allowed, third.remaining, third.reset_secs),
            (true, 0, 50)
        );
        let fourth = rl.check(a, t0 + Duration::from_secs(10));
        assert!(!fourth.allowed);
        assert!(rl.check(b, t0).allowed, "another client has its own budget");
        assert!(
            rl.check(a, t0 + Duration::from_secs(61)).allowed,
            "a new window"
        );
    }

    #[test]
    fn windows_can_be_longer_than_a_minute() {
        let rl = RateLimiter::with_window(1, Duration::from_secs(300));
        let a: IpAddr = "::1".parse().unwrap();
        let t0 = Instant::now();
        assert!(rl.check(a, t0).allowed);
        let later = rl.check(a, t0 + Duration::from_secs(120));
        assert_eq!((later.allowed, later.reset_secs), (false, 180));
        assert!(rl.check(a, t0 + Duration::from_secs(300)).allowed);
    }
}
