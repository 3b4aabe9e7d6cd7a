//! Settings → tabs.

pub mod api_keys;
pub mod key_page;
