//! Settings → tabs.

pub mod api_keys;
pub mod audit_log;
pub mod key_edit;
pub mod key_page;
pub mod key_roll;
pub mod team;
