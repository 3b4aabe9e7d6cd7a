//! Webhooks (Settings → Webhooks): which events exist and how a subscription is written,
//! where a webhook may point, and when a failed delivery is tried again. No I/O here: the
//! signing and the sending are in `crate::webhooks`, the rows in `db::webhooks`.

pub mod address;
pub mod event;
pub mod schedule;

pub use address::{AllowedRanges, WebhookUrl, REFUSED_URL};
pub use event::{EventKind, EventKinds};
pub use schedule::RetrySchedule;

use std::fmt;
use std::str::FromStr;

use super::Invalid;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Not delivered yet: due now, or retried at `next_attempt_at`.
    Pending,
    /// A 2xx came back.
    Delivered,
    /// Given up: its retries ran out, or its webhook was disabled or deleted meanwhile.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

impl FromStr for DeliveryState {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
        .ok_or_else(|| Invalid::new(format!("unknown delivery state '{s}'")))
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a webhook is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisabledReason {
    /// The receiver answered 410 Gone.
    Gone,
    /// Every attempt failed for [`AUTO_DISABLE_AFTER_DAYS`] days.
    Failing,
    /// An Owner or Admin (or the command line) disabled it.
    ByUser,
}

/// A webhook whose attempts have all failed for this long is disabled.
pub const AUTO_DISABLE_AFTER_DAYS: i64 = 5;
/// How long the delivery log keeps a delivery.
pub const LOG_KEPT_DAYS: i64 = 30;
/// How long both secrets sign after a roll.
pub const ROLL_OVERLAP_HOURS: i64 = 24;
/// The response body an attempt keeps.
pub const RESPONSE_KEPT_BYTES: usize = 4096;

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Gone => "gone",
            DisabledReason::Failing => "failing",
            DisabledReason::ByUser => "user",
        }
    }

    pub fn parse(s: &str) -> Option<DisabledReason> {
        [
            DisabledReason::Gone,
            DisabledReason::Failing,
            DisabledReason::ByUser,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }

    /// The status a webhook's page shows: `Disabled — 410 from the receiver`, `Disabled after
    /// 5 days of failures`, `Disabled by …` (`by` as it read at the time).
    pub fn status_label(self, by: Option<&str>) -> String {
        match self {
            DisabledReason::Gone => "Disabled — 410 from the receiver".to_owned(),
            DisabledReason::Failing => {
                format!("Disabled after {AUTO_DISABLE_AFTER_DAYS} days of failures")
            }
            DisabledReason::ByUser => format!("Disabled by {}", by.unwrap_or("a member")),
        }
    }
}

/// A webhook's status as the tab, its page and `callem webhooks list` show it: `Active`, or
/// why it is disabled ([`DisabledReason::status_label`]); an unknown stored reason reads as
/// disabled by someone.
pub fn webhook_status(enabled: bool, reason: Option<&str>, by: Option<&str>) -> String {
    if enabled {
        return "Active".to_owned();
    }
    reason
        .and_then(DisabledReason::parse)
        .unwrap_or(DisabledReason::ByUser)
        .status_label(by)
}

/// A delivery's status in the log: `Pending`, `Delivered`, `Retrying — next at …` (pending
/// after a failed attempt; `next_at` as people read it), `Failed`.
pub fn delivery_status(state: DeliveryState, attempts: i32, next_at: &str) -> String {
    match state {
        DeliveryState::Pending if attempts > 0 => format!("Retrying — next at {next_at}"),
        DeliveryState::Pending => "Pending".to_owned(),
        DeliveryState::Delivered => "Delivered".to_owned(),
        DeliveryState::Failed => "Failed".to_owned(),
    }
}

/// A webhook's description: optional, one paragraph at most.
pub fn parse_description(s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.chars().count() > 500 {
        return Err(Invalid::new("Description must be at most 500 characters."));
    }
    if s.chars().any(|c| c != '\n' && super::is_hidden_control(c)) {
        return Err(Invalid::new(
            "Description cannot contain control characters.",
        ));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_reasons_read_back_from_their_names() {
        for s in [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ] {
            assert_eq!(s.as_str().parse::<DeliveryState>(), Ok(s));
        }
        for r in [
            DisabledReason::Gone,
            DisabledReason::Failing,
            DisabledReason::ByUser,
        ] {
            assert_eq!(DisabledReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(
            DisabledReason::ByUser.status_label(Some("ada@example.com")),
            "Disabled by ada@example.com"
        );
    }

    #[test]
    fn statuses_read_as_the_spec_writes_them() {
        assert_eq!(webhook_status(true, None, None), "Active");
        assert_eq!(
            webhook_status(false, Some("gone"), None),
            "Disabled — 410 from the receiver"
        );
        assert_eq!(
            webhook_status(false, Some("failing"), None),
            "Disabled after 5 days of failures"
        );
        assert_eq!(
            webhook_status(false, Some("user"), Some("ada@example.com")),
            "Disabled by ada@example.com"
        );
        let at = "Mar 1, 2027, 14:30:00 UTC";
        assert_eq!(delivery_status(DeliveryState::Pending, 0, at), "Pending");
        assert_eq!(
            delivery_status(DeliveryState::Pending, 2, at),
            format!("Retrying — next at {at}")
        );
        assert_eq!(
            delivery_status(DeliveryState::Delivered, 1, at),
            "Delivered"
        );
        assert_eq!(delivery_status(DeliveryState::Failed, 4, at), "Failed");
    }

    #[test]
    fn a_description_is_trimmed_and_bounded() {
        assert_eq!(parse_description("  CRM sync ").unwrap(), "CRM sync");
        assert!(parse_description(&"x".repeat(501)).is_err());
        assert!(parse_description("a\u{202E}b").is_err());
    }
}
