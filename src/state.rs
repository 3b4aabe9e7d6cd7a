//! What every request handler shares.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ipnetwork::IpNetwork;

use crate::db::Pool;
use crate::origin::Origin;
use crate::rate_limit::RateLimiter;

/// Shared application state (the pool is internally shared).
pub struct AppState {
    pub pool: Pool,
    pub trusted_proxies: Vec<IpNetwork>,
    /// `CALLEM_PUBLIC_URL`: when set, the only `Host` and `Origin` accepted.
    pub public_origin: Option<Origin>,
    /// `CALLEM_SECURE_COOKIES`: the site is served over HTTPS (also sends HSTS).
    pub secure_cookies: bool,
    /// Per-client request counters for `/v1` (this process only, on purpose).
    pub rate_limiter: RateLimiter,
    /// Sign-in attempts per client address (this process only, on purpose).
    pub sign_in_limiter: RateLimiter,
    /// Invitation accepts per client address, counted like sign-ins.
    pub invitation_limiter: RateLimiter,
    /// Outgoing email, when `CALLEM_SMTP_URL` is set.
    pub mailer: Option<crate::email::Mailer>,
    /// Where every link the server sends away starts (`CALLEM_PUBLIC_URL`, else the bound
    /// address; see `config::link_base`): decided at start, never from a request.
    /// `None` when the server listens on every interface without `CALLEM_PUBLIC_URL`.
    pub link_base: Option<String>,
    /// Background work: handlers enqueue, the jobs' tasks do it.
    pub jobs: crate::jobs::Jobs,
    /// Counts the uses of keys in memory; its flusher writes them every 10 s.
    pub usage: std::sync::Arc<crate::usage::UsageRecorder>,
    /// Bounds concurrent argon2 work (each hash takes ~19 MiB).
    pub password_slots: HashSlots,
    /// How long a dashboard session lives (`CALLEM_SESSION_IDLE`, and 14 days at most).
    pub session_policy: crate::domain::session_policy::SessionPolicy,
    /// Set on SIGTERM: `/readyz` fails while the server drains.
    pub draining: AtomicBool,
    /// Where webhooks may point, their retries, and the key sealing their secrets.
    pub webhooks: crate::webhooks::Config,
}

impl AppState {
    /// Whether the server can email a one-time link: email is set up and it knows the address
    /// links start at. Only then is "Forgot your password?" offered.
    pub fn emails_links(&self) -> bool {
        self.mailer.is_some() && self.link_base.is_some()
    }
}

/// Too many passwords are being hashed at once; the request may be retried shortly.
#[derive(Debug, thiserror::Error)]
#[error("too many sign-ins at once")]
pub struct Busy;

/// At most one argon2 computation per core at a time: each one takes ~19 MiB and a core for
/// tens of milliseconds, so unbounded concurrency only costs memory. A request waits up to
/// [`HashSlots::WAIT`] for a slot, then gets [`Busy`] (a 503 with `Retry-After`).
#[derive(Debug)]
pub struct HashSlots {
    permits: tokio::sync::Semaphore,
}

impl Default for HashSlots {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        HashSlots::new(cores)
    }
}

impl HashSlots {
    pub const WAIT: Duration = Duration::from_secs(3);

    pub fn new(slots: usize) -> Self {
        HashSlots {
            permits: tokio::sync::Semaphore::new(slots.max(1)),
        }
    }

    /// Runs `work` (a hash or a verification) on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = tokio::time::timeout(Self::WAIT, self.permits.acquire())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let out = tokio::task::spawn_blocking(work).await.map_err(|_| Busy);
        drop(permit);
        out
    }
}
