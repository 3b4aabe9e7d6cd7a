//! What every request handler shares.

use std::sync::atomic::AtomicBool;

use ipnetwork::IpNetwork;

use crate::auth::password::HashSlots;
use crate::db::Pool;
use crate::edge::Origin;
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
    /// Counts the uses of keys in memory; its flusher writes them every 10 s.
    pub usage: std::sync::Arc<crate::usage::UsageRecorder>,
    /// Bounds concurrent argon2 work (each hash takes ~19 MiB).
    pub password_slots: HashSlots,
    /// How long a dashboard session lives (`CALLEM_SESSION_IDLE`, and 14 days at most).
    pub session_policy: crate::domain::session_policy::SessionPolicy,
    /// Set on SIGTERM: `/readyz` fails while the server drains.
    pub draining: AtomicBool,
}
