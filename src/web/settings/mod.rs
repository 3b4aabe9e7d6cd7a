//! Settings → tabs.

pub mod api_keys;
