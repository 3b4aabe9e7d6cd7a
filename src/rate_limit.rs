//! Fixed-window request counting per client: 120 requests a minute over all of `/v1`
//! (configurable), and a few sign-in attempts per address. Counters live in this process on
//! purpose: with several replicas each one counts separately (see docs/replicas.md).
//!
//! Each check is O(1): clients are spread over shards by hash, each shard under its own lock,
//! and a shard forgets its expired windows at most once per window (amortised O(1), never a
//! scan of every client on one request). An IPv6 client is counted by its /64, the block one
//! host is usually given, so a host cannot mint fresh budgets from its own addresses.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};
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

const SHARDS: usize = 64;

#[derive(Debug)]
struct Shard {
    windows: HashMap<IpAddr, (Instant, u32)>,
    swept_at: Instant,
}

/// Fixed windows per client.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<Mutex<Shard>>,
}

/// The key a client is counted under: IPv4 as is, IPv6 by its /64.
pub fn counting_key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

impl RateLimiter {
    /// `limit_per_minute` requests per minute.
    pub fn new(limit_per_minute: u32) -> Self {
        Self::with_window(limit_per_minute, Duration::from_secs(60))
    }

    /// `limit` requests per `window`.
    pub fn with_window(limit: u32, window: Duration) -> Self {
        let now = Instant::now();
        RateLimiter {
            limit,
            window,
            hasher: Default::default(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        windows: HashMap::new(),
                        swept_at: now,
                    })
                })
                .collect(),
        }
    }

    /// Counts a request from `client` at `now`.
    pub fn check(&self, client: IpAddr, now: Instant) -> Decision {
        let key = counting_key(client);
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        let mut shard = match shard.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if now.saturating_duration_since(shard.swept_at) >= self.window {
            let window = self.window;
            shard
                .windows
                .retain(|_, (start, _)| now.saturating_duration_since(*start) < window);
            shard.swept_at = now;
        }
        let entry = shard.windows.entry(key).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        let reset = self
            .window
            .saturating_sub(now.saturating_duration_since(entry.0));
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

    /// Clients with a window in memory (for tests and the benchmark).
    pub fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.windows.len()))
            .sum()
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

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        let rl = RateLimiter::new(2);
        let t0 = Instant::now();
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(rl.check(one, t0).allowed);
        assert!(rl.check(same_64, t0).allowed);
        assert!(!rl.check(same_64, t0).allowed, "one budget for the /64");
        assert!(rl.check(other_64, t0).allowed);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(counting_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn expired_windows_are_forgotten_without_a_full_scan_per_request() {
        let rl = RateLimiter::new(5);
        let t0 = Instant::now();
        for i in 0..100_000u32 {
            rl.check(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert_eq!(rl.tracked(), 100_000);
        // A minute on, each shard sweeps itself once, on its next request.
        let later = t0 + Duration::from_secs(61);
        for i in 0..10_000u32 {
            rl.check(IpAddr::from((i + 1_000_000).to_be_bytes()), later);
        }
        assert_eq!(rl.tracked(), 10_000);
    }
}
