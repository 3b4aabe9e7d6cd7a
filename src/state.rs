//! What every request handler shares.

use ipnetwork::IpNetwork;

use crate::db::Pool;

/// Shared, immutable application state (the pool is internally shared).
pub struct AppState {
    pub pool: Pool,
    pub trusted_proxies: Vec<IpNetwork>,
}
