//! The events a webhook can subscribe to, and a subscription (a set of them) as it is stored:
//! their names, comma-separated, in the order [`EventKind::OFFERED`] lists them.

use std::fmt;
use std::str::FromStr;

use crate::domain::Invalid;

/// An event this server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    CallStarted,
    CallEnded,
    CallAnalyzed,
    ApiKeyExpiring,
    ApiKeyRevoked,
    ApiKeyLeaked,
    /// **Send test event**: sent to the one webhook it was asked for, subscribed or not.
    Test,
}

impl EventKind {
    /// The events a webhook subscribes to, grouped as the Add Webhook modal shows them.
    pub const OFFERED: [EventKind; 6] = [
        EventKind::CallStarted,
        EventKind::CallEnded,
        EventKind::CallAnalyzed,
        EventKind::ApiKeyExpiring,
        EventKind::ApiKeyRevoked,
        EventKind::ApiKeyLeaked,
    ];
    /// The Calls group.
    pub const CALLS: [EventKind; 3] = [
        EventKind::CallStarted,
        EventKind::CallEnded,
        EventKind::CallAnalyzed,
    ];
    /// The Keys group.
    pub const KEYS: [EventKind; 3] = [
        EventKind::ApiKeyExpiring,
        EventKind::ApiKeyRevoked,
        EventKind::ApiKeyLeaked,
    ];

    /// Its name in the body's `event` and the `x-callem-event` header.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CallStarted => "call_started",
            EventKind::CallEnded => "call_ended",
            EventKind::CallAnalyzed => "call_analyzed",
            EventKind::ApiKeyExpiring => "api_key_expiring",
            EventKind::ApiKeyRevoked => "api_key_revoked",
            EventKind::ApiKeyLeaked => "api_key_leaked",
            EventKind::Test => "test",
        }
    }

    /// What it means, in a few words (next to its checkbox).
    pub fn description(self) -> &'static str {
        match self {
            EventKind::CallStarted => "A call begins",
            EventKind::CallEnded => "A call ends; includes transcript and duration",
            EventKind::CallAnalyzed => "Post-call analysis completes",
            EventKind::ApiKeyExpiring => "An API key expires in 14, 7 or 1 day(s)",
            EventKind::ApiKeyRevoked => "An API key is revoked",
            EventKind::ApiKeyLeaked => "A leak report revoked an API key",
            EventKind::Test => "Send test event",
        }
    }

    pub fn is_about_a_call(self) -> bool {
        EventKind::CALLS.contains(&self)
    }
}

impl FromStr for EventKind {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        EventKind::OFFERED
            .into_iter()
            .chain([EventKind::Test])
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let hosted_only = ["chat_started", "chat_ended", "chat_analyzed"];
                if hosted_only.contains(&s) {
                    Invalid::new(format!(
                        "'{s}' is not offered here: this server has no chats."
                    ))
                } else {
                    Invalid::new(format!(
                        "Unknown event '{s}'. Choose from: {}.",
                        EventKind::OFFERED.map(EventKind::as_str).join(", ")
                    ))
                }
            })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The events a webhook is subscribed to: at least one, each offered, in the offered order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventKinds(Vec<EventKind>);

/// The message next to the Events field when none is chosen.
pub const NO_EVENTS: &str = "Choose at least one event.";

impl EventKinds {
    /// From the names given (a form's checkboxes, or `--events a,b`): each must be offered
    /// (`test` is not subscribed to), and at least one.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, Invalid> {
        let mut kinds = Vec::new();
        for name in names.into_iter().map(str::trim).filter(|n| !n.is_empty()) {
            let kind: EventKind = name.parse()?;
            if kind == EventKind::Test {
                return Err(Invalid::new(
                    "'test' is sent by Send test event, not subscribed to.",
                ));
            }
            kinds.push(kind);
        }
        kinds.sort();
        kinds.dedup();
        if kinds.is_empty() {
            return Err(Invalid::new(NO_EVENTS));
        }
        Ok(EventKinds(kinds))
    }

    /// As stored: `call_ended,call_analyzed`.
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Read back from the column (an unknown name, written by hand, is skipped).
    pub fn from_stored(s: &str) -> Self {
        let mut kinds: Vec<EventKind> = s.split(',').filter_map(|n| n.parse().ok()).collect();
        kinds.sort();
        kinds.dedup();
        EventKinds(kinds)
    }

    pub fn contains(&self, kind: EventKind) -> bool {
        kind == EventKind::Test || self.0.contains(&kind)
    }

    pub fn iter(&self) -> impl Iterator<Item = EventKind> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_is_parsed_ordered_and_stored() {
        let k = EventKinds::parse(["call_analyzed", "call_ended", "call_ended"]).unwrap();
        assert_eq!(k.to_stored(), "call_ended,call_analyzed");
        assert_eq!(EventKinds::from_stored(&k.to_stored()), k);
        assert!(k.contains(EventKind::CallEnded));
        assert!(!k.contains(EventKind::CallStarted));
        assert!(k.contains(EventKind::Test));
    }

    #[test]
    fn none_unknown_chats_and_test_are_refused_with_a_message() {
        assert_eq!(
            EventKinds::parse(Vec::<&str>::new()).unwrap_err().0,
            NO_EVENTS
        );
        assert!(EventKinds::parse(["call_finished"])
            .unwrap_err()
            .0
            .starts_with("Unknown event 'call_finished'"));
        assert!(EventKinds::parse(["chat_ended"])
            .unwrap_err()
            .0
            .contains("no chats"));
        assert!(EventKinds::parse(["test"]).is_err());
    }
}
