//! What every request handler shares.

use ipnetwork::IpNetwork;

use crate::api::rate_limit::RateLimiter;
use crate::auth::api_key::LastUseThrottle;
use crate::db::Pool;

/// Shared, immutable application state (the pool is internally shared).
pub struct AppState {
    pub pool: Pool,
    pub trusted_proxies: Vec<IpNetwork>,
    /// Per-client request counters for `/v1` (this process only, on purpose).
    pub rate_limiter: RateLimiter,
    /// Keeps "last used" writes to one a minute per key.
    pub last_use: LastUseThrottle,
}
