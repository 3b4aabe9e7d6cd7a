//! Domain types: user input parsed into values that are valid by construction.
//! No actix and no SQL here. Ids, roles and call statuses derive Diesel's `AsExpression` and
//! `FromSqlRow` (they are stored as TEXT); how they are read and written is in `db::types`.

pub mod account;
pub mod action;
pub mod actor;
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
pub mod key_names;
pub mod key_status;
pub mod knowledge;
pub mod leak;
pub mod one_time_token;
pub mod pagination;
pub mod password_reset;
pub mod phone;
pub mod role;
pub mod scope;
pub mod session_policy;
pub mod sign_in;
pub mod team;
pub mod usage_chart;
pub mod webhook;

/// A refused input; the text is the message shown to the user, next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Invalid(message.into())
    }
}

/// Whether `c` is a character that changes how text around it reads without showing itself:
/// a control character (NUL, line breaks, TAB, escapes), a line or paragraph separator, or a
/// bidirectional-text control (the overrides, embeddings and isolates, and the marks), which
/// can make a name read backwards in a list or an email.
pub fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{061C}' | '\u{200E}' | '\u{200F}' // Arabic letter mark, LRM, RLM
            | '\u{202A}'..='\u{202E}' // embeddings and overrides
            | '\u{2066}'..='\u{2069}' // isolates
        )
}

/// Refuses a one-line name (a key's, a project's, a person's) holding control characters,
/// line breaks or text-direction controls, naming the field: the one check every such name
/// goes through, so what the dashboard refuses the command line refuses too.
pub fn plain_line<'a>(value: &'a str, label: &str) -> Result<&'a str, Invalid> {
    if value
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(Invalid::new(format!(
            "{label} must not contain line breaks or control characters."
        )));
    }
    if value.chars().any(is_hidden_control) {
        return Err(Invalid::new(format!(
            "{label} must not contain text-direction control characters."
        )));
    }
    Ok(value)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_refuse_control_line_break_and_direction_characters() {
        assert_eq!(plain_line("Acme Corp — EU", "Name"), Ok("Acme Corp — EU"));
        for bad in [
            "a\0b",
            "a\nb",
            "a\rb",
            "a\tb",
            "a\u{1b}[31m",
            "a\u{85}b",
            "a\u{2028}b",
        ] {
            assert_eq!(
                plain_line(bad, "Name").unwrap_err().0,
                "Name must not contain line breaks or control characters.",
                "{bad:?}"
            );
        }
        for bad in ["a\u{202E}gpj.exe", "a\u{2066}b", "a\u{200F}b", "a\u{061C}b"] {
            assert_eq!(
                plain_line(bad, "Display name").unwrap_err().0,
                "Display name must not contain text-direction control characters.",
                "{bad:?}"
            );
        }
        // Joiners and other format characters that scripts need stay allowed.
        assert!(plain_line("क्‍ष 👩‍💻", "Name").is_ok());
    }
}
