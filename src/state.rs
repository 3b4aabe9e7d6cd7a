//! What every request handler shares.

use ipnetwork::IpNetwork;

use crate::auth::api_key::LastUseThrottle;
use crate::db::Pool;
use crate::rate_limit::RateLimiter;

/// Shared, immutable application state (the pool is internally shared).
pub struct AppState {
    pub pool: Pool,
    pub trusted_proxies: Vec<IpNetwork>,
    /// Per-client request counters for `/v1` (this process only, on purpose).
    pub rate_limiter: RateLimiter,
    /// Sign-in attempts per client address (this process only, on purpose).
    pub sign_in_limiter: RateLimiter,
    /// Keeps "last used" writes to one a minute per key.
    pub last_use: LastUseThrottle,
}
