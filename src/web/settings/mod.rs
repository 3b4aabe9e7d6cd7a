//! Settings → tabs: one folder per tab (its handlers, its route table), and what the tabs'
//! pages share.

pub mod api_keys;
pub mod audit_log;
pub mod key_changes;
pub mod team;
pub mod webhooks;
