//! Domain types: user input parsed into values that are valid by construction.
//! No actix and no SQL here. Ids, roles and call statuses derive Diesel's `AsExpression` and
//! `FromSqlRow` (they are stored as TEXT); how they are read and written is in `db::types`.

pub mod account;
pub mod api_key;
pub mod audit_chain;
pub mod audit_log;
pub mod call_filter;
pub mod calls;
pub mod client_ip;
pub mod expiry;
pub mod ids;
pub mod ip_rules;
pub mod key_change;
pub mod key_status;
pub mod knowledge;
pub mod leak;
pub mod one_time_token;
pub mod pagination;
pub mod password_reset;
pub mod role;
pub mod scope;
pub mod sign_in;
pub mod team;
pub mod usage_chart;

/// A refused input; the text is the message shown to the user, next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Invalid(message.into())
    }
}

/// Refuses text holding a NUL character, naming the field: PostgreSQL cannot store one in a
/// text column (SQLite can), so every stored text refuses it, the same on both backends.
pub fn without_nul<'a>(value: &'a str, label: &str) -> Result<&'a str, Invalid> {
    if value.contains('\0') {
        Err(Invalid::new(format!(
            "{label} must not contain NUL characters"
        )))
    } else {
        Ok(value)
    }
}
