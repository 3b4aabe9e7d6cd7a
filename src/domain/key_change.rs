//! Changing a key after it was made: what an edit changes (before → after, as its audit event
//! records it), which recently seen clients new IP rules would cut off, and a roll's overlap
//! (when the old key stops, and when the new one expires).

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{Duration, NaiveDateTime};

use super::ip_rules::IpRules;
use super::scope::Scope;
use super::Invalid;

/// The days of recorded use an edit's warning looks back over.
pub const WARN_LOOKBACK_DAYS: u64 = 7;

/// A key's editable settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySettings {
    pub name: String,
    /// The IP rules as stored (one per line; empty allows all).
    pub allowed_ips: String,
    pub expires_at: Option<NaiveDateTime>,
    pub scope: Scope,
}

/// One changed setting: its field name and its value before and after, as the audit event
/// stores them (`null` for "never" / "all IPs").
pub type Changes = BTreeMap<&'static str, (Option<String>, Option<String>)>;

impl KeySettings {
    /// What `after` changes of `self`; empty when nothing.
    pub fn changes_to(&self, after: &KeySettings) -> Changes {
        let mut changes = Changes::new();
        let mut note = |field, before: Option<String>, after: Option<String>| {
            if before != after {
                changes.insert(field, (before, after));
            }
        };
        note("name", Some(self.name.clone()), Some(after.name.clone()));
        let ips = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        note(
            "allowed_ips",
            ips(&self.allowed_ips),
            ips(&after.allowed_ips),
        );
        let at = |t: Option<NaiveDateTime>| t.map(crate::time::iso_millis);
        note("expires_at", at(self.expires_at), at(after.expires_at));
        note(
            "scope",
            Some(self.scope.as_str().to_owned()),
            Some(after.scope.as_str().to_owned()),
        );
        changes
    }
}

/// The audit event's `detail`: `{"field": ["before", "after"], …}`.
pub fn detail_json(changes: &Changes) -> String {
    serde_json::to_string(changes).unwrap_or_default()
}

/// A change read back from an event's `detail`, in words: (`Allowed IPs`, `All IPs`,
/// `203.0.113.7`). Unknown or unreadable details give nothing.
pub fn describe(detail: Option<&str>) -> Vec<(String, String, String)> {
    let Some(map) = detail.and_then(|d| {
        serde_json::from_str::<BTreeMap<String, (Option<String>, Option<String>)>>(d).ok()
    }) else {
        return Vec::new();
    };
    map.into_iter()
        .map(|(field, (before, after))| {
            let words = |v: Option<String>| value_in_words(&field, v);
            (field_label(&field), words(before), words(after))
        })
        .collect()
}

fn field_label(field: &str) -> String {
    match field {
        "name" => "Name",
        "allowed_ips" => "Allowed IPs",
        "expires_at" => "Expires",
        "scope" => "Access",
        "replaced_by" => "Replaced by",
        "replaces" => "Replaces",
        "role" => "Role",
        other => other,
    }
    .to_owned()
}

fn value_in_words(field: &str, value: Option<String>) -> String {
    match (field, value) {
        ("allowed_ips", None) => "All IPs".to_owned(),
        ("allowed_ips", Some(v)) => v.lines().collect::<Vec<_>>().join(", "),
        ("expires_at", None) => "Never".to_owned(),
        ("expires_at", Some(v)) => chrono::DateTime::parse_from_rfc3339(&v)
            .map(|t| crate::time::full_label(t.naive_utc()))
            .unwrap_or(v),
        ("scope", Some(v)) => v.parse::<Scope>().map(Scope::label).unwrap_or(v),
        // A link made by a roll has no "before": the page shows the new value alone.
        ("replaces" | "replaced_by", None) => String::new(),
        ("role", Some(v)) => v
            .parse::<crate::domain::role::Role>()
            .map(|r| r.label().to_owned())
            .unwrap_or(v),
        (_, None) => "—".to_owned(),
        (_, Some(v)) => v,
    }
}

/// A client address seen with allowed requests in the last [`WARN_LOOKBACK_DAYS`] days that
/// the new rules would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WouldBeRefused {
    pub ip: String,
    pub allowed_requests: i64,
}

/// Which of these recently seen clients (address, allowed requests) `rules` would refuse, the
/// busiest first. Addresses that do not parse (none should) are left out.
pub fn would_be_refused(recent: &[(String, i64)], rules: &IpRules) -> Vec<WouldBeRefused> {
    let mut refused: Vec<WouldBeRefused> = recent
        .iter()
        .filter(|(_, n)| *n > 0)
        .filter(|(ip, _)| ip.parse::<IpAddr>().is_ok_and(|ip| !rules.allows(ip)))
        .map(|(ip, n)| WouldBeRefused {
            ip: ip.clone(),
            allowed_requests: *n,
        })
        .collect();
    refused.sort_by(|a, b| {
        b.allowed_requests
            .cmp(&a.allowed_requests)
            .then_with(|| a.ip.cmp(&b.ip))
    });
    refused
}

/// When a rolled key's old key stops working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    Immediately,
    OneHour,
    OneDay,
    SevenDays,
}

impl Overlap {
    /// The dashboard's default.
    pub const DEFAULT: Overlap = Overlap::OneDay;

    /// The choices, as the form and `--overlap` spell them, with their labels.
    pub const CHOICES: [(Overlap, &'static str, &'static str); 4] = [
        (Overlap::Immediately, "0", "Immediately"),
        (Overlap::OneHour, "1h", "In 1 hour"),
        (Overlap::OneDay, "24h", "In 24 hours"),
        (Overlap::SevenDays, "7d", "In 7 days"),
    ];

    /// `0`, `1h`, `24h` or `7d`.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let v = value.trim();
        Self::CHOICES
            .iter()
            .find(|(_, spelling, _)| *spelling == v)
            .map(|(o, _, _)| *o)
            .ok_or_else(|| Invalid::new(format!("'{v}' is not an overlap: use 0, 1h, 24h or 7d.")))
    }

    pub fn spelling(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|(o, _, _)| *o == self)
            .map_or("24h", |(_, s, _)| s)
    }

    pub fn duration(self) -> Duration {
        match self {
            Overlap::Immediately => Duration::zero(),
            Overlap::OneHour => Duration::hours(1),
            Overlap::OneDay => Duration::hours(24),
            Overlap::SevenDays => Duration::days(7),
        }
    }
}

/// How long "Extend by 24 hours" adds to an overlap.
pub const EXTENSION: Duration = Duration::hours(24);

/// The expiries a roll gives, decided at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollPlan {
    /// The old key's new expiry: the earlier of its own and the end of the overlap. It is the
    /// last instant the key works, so "immediately" is the instant before `now`.
    pub old_expires_at: NaiveDateTime,
    /// The new key's: as long after its creation as the old one's was after its own; or never.
    pub new_expires_at: Option<NaiveDateTime>,
}

impl RollPlan {
    pub fn new(
        created_at: NaiveDateTime,
        expires_at: Option<NaiveDateTime>,
        overlap: Overlap,
        now: NaiveDateTime,
    ) -> Self {
        let end = match overlap {
            Overlap::Immediately => now - Duration::microseconds(1),
            o => now + o.duration(),
        };
        RollPlan {
            old_expires_at: expires_at.map_or(end, |at| at.min(end)),
            new_expires_at: expires_at.map(|at| now + (at - created_at)),
        }
    }
}

/// "stops in 23 h", "stops in 45 min", "stops in 6 days", for a rolling key with `left` to go.
pub fn stops_in(left: Duration) -> String {
    let minutes = left.num_minutes();
    if left <= Duration::zero() {
        "stopped".to_owned()
    } else if minutes < 1 {
        "stops in under a minute".to_owned()
    } else if minutes < 60 {
        format!("stops in {minutes} min")
    } else if left < Duration::hours(48) {
        format!("stops in {} h", left.num_hours())
    } else {
        format!("stops in {} days", left.num_days())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn settings() -> KeySettings {
        KeySettings {
            name: "CRM".into(),
            allowed_ips: String::new(),
            expires_at: None,
            scope: Scope::FULL,
        }
    }

    #[test]
    fn an_edit_records_only_what_changed_before_and_after() {
        let before = settings();
        assert!(before.changes_to(&before).is_empty());
        let after = KeySettings {
            allowed_ips: "203.0.113.7\n10.0.0.0/24".into(),
            scope: Scope::READ_ONLY,
            ..settings()
        };
        let changes = before.changes_to(&after);
        assert_eq!(changes.len(), 2);
        let words = describe(Some(&detail_json(&changes)));
        assert_eq!(
            words,
            vec![
                (
                    "Allowed IPs".to_owned(),
                    "All IPs".to_owned(),
                    "203.0.113.7, 10.0.0.0/24".to_owned()
                ),
                (
                    "Access".to_owned(),
                    "Full access".to_owned(),
                    "Read only".to_owned()
                ),
            ]
        );
        let dated = KeySettings {
            expires_at: Some(t("2027-03-01 23:59:59")),
            ..settings()
        };
        assert_eq!(
            describe(Some(&detail_json(&before.changes_to(&dated))))[0],
            (
                "Expires".to_owned(),
                "Never".to_owned(),
                "Mar 1, 2027, 23:59:59 UTC".to_owned()
            )
        );
        assert!(describe(Some("not json")).is_empty());
        assert!(describe(None).is_empty());
    }

    #[test]
    fn the_warning_lists_exactly_the_recent_clients_the_new_rules_refuse() {
        let recent = vec![
            ("203.0.113.9".to_owned(), 1204),
            ("10.0.0.5".to_owned(), 50),
            ("198.51.100.1".to_owned(), 3),
            ("2001:db8::1".to_owned(), 7),
            ("192.0.2.1".to_owned(), 0),
        ];
        let rules = IpRules::parse("10.0.0.0/24").unwrap();
        let refused = would_be_refused(&recent, &rules);
        let ips: Vec<&str> = refused.iter().map(|r| r.ip.as_str()).collect();
        assert_eq!(ips, ["203.0.113.9", "2001:db8::1", "198.51.100.1"]);
        assert!(would_be_refused(&recent, &IpRules::parse("").unwrap()).is_empty());
    }

    #[test]
    fn a_roll_stops_the_old_key_at_the_earlier_of_its_expiry_and_the_overlap() {
        let now = t("2026-12-01 12:00:00");
        let created = t("2026-11-01 12:00:00");
        let plan = RollPlan::new(created, None, Overlap::OneDay, now);
        assert_eq!(plan.old_expires_at, t("2026-12-02 12:00:00"));
        assert_eq!(plan.new_expires_at, None);

        let soon = t("2026-12-01 18:00:00");
        let plan = RollPlan::new(created, Some(soon), Overlap::SevenDays, now);
        assert_eq!(plan.old_expires_at, soon);
        // 30 days and 6 hours after creation, as the old one had.
        assert_eq!(plan.new_expires_at, Some(t("2026-12-31 18:00:00")));

        let plan = RollPlan::new(created, None, Overlap::Immediately, now);
        assert!(crate::domain::expiry::is_expired(
            Some(plan.old_expires_at),
            now
        ));
        let plan = RollPlan::new(created, None, Overlap::OneHour, now);
        assert!(!crate::domain::expiry::is_expired(
            Some(plan.old_expires_at),
            now
        ));
    }

    #[test]
    fn overlaps_are_spelled_as_the_form_and_the_command_line_take_them() {
        for (o, spelling, _) in Overlap::CHOICES {
            assert_eq!(Overlap::parse(spelling).unwrap(), o);
            assert_eq!(o.spelling(), spelling);
        }
        assert_eq!(
            Overlap::parse("2h").unwrap_err().0,
            "'2h' is not an overlap: use 0, 1h, 24h or 7d."
        );
    }

    #[test]
    fn the_time_left_reads_in_the_largest_useful_unit() {
        let now = t("2026-12-01 12:00:00");
        let left = |s| t(s) - now;
        assert_eq!(stops_in(left("2026-12-02 11:00:00")), "stops in 23 h");
        assert_eq!(stops_in(left("2026-12-01 12:45:00")), "stops in 45 min");
        assert_eq!(stops_in(left("2026-12-08 12:00:00")), "stops in 7 days");
        assert_eq!(stops_in(left("2026-12-01 11:00:00")), "stopped");
    }
}
