//! Changing a key after it was made: what an edit may change (a key replaced by a roll keeps
//! the expiry its overlap gives it) and changes (before → after, as its audit event records
//! it), which recently seen clients new IP rules would cut off and which recent operations a
//! new scope would refuse, and a roll's overlap (when the old key stops, and when the new one
//! expires).

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};

use super::client_ip::{parse_recorded, UNKNOWN};
use super::ip_rules::IpRules;
use super::key_status::KeyStatus;
// Where it always was, for its callers; it is a status's wording, kept with the statuses.
pub use super::key_status::stops_in;
use super::scope::{Need, Scope};
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

/// Why an edit cannot be saved as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditRefused {
    /// A revoked key is no longer changed at all.
    Revoked,
    /// Replaced by a roll and still in its overlap: when it stops is changed with Stop now or
    /// Extend, never with a new expiry (that would make it a second live key).
    ExpiryInOverlap,
    /// Replaced by a roll and its overlap has ended: it stays stopped.
    ExpiryAfterOverlap,
}

impl EditRefused {
    /// What the edit form says (next to the Expiration field, for the expiry).
    pub fn message(self) -> &'static str {
        match self {
            EditRefused::Revoked => "This key is revoked: it can no longer be changed.",
            EditRefused::ExpiryInOverlap => {
                "This key was replaced by a roll: it stops when the overlap ends. Change when \
                 with Stop now or Extend on the key's page."
            }
            EditRefused::ExpiryAfterOverlap => {
                "This key was replaced by a roll and its overlap has ended: it cannot be given \
                 a new expiry. Use the key that replaced it, or create a new key."
            }
        }
    }
}

/// Whether an edit may give a key a new expiry: not when it is revoked, nor when a roll
/// replaced it (`replaced`), during the overlap or after. `None`: it may.
pub fn expiry_locked(status: KeyStatus, replaced: bool) -> Option<EditRefused> {
    match status {
        KeyStatus::Revoked => Some(EditRefused::Revoked),
        _ if !replaced => None,
        KeyStatus::Rolling(_) => Some(EditRefused::ExpiryInOverlap),
        _ => Some(EditRefused::ExpiryAfterOverlap),
    }
}

/// Whether an edit from `before` to `after` may be saved on a key in `status` that a roll
/// did (`replaced`) or did not replace: a revoked key takes no change; a replaced one takes
/// any change but a new expiry (its name, rules and scope stay editable).
pub fn check_edit(
    status: KeyStatus,
    replaced: bool,
    before: &KeySettings,
    after: &KeySettings,
) -> Result<(), EditRefused> {
    if status == KeyStatus::Revoked {
        return Err(EditRefused::Revoked);
    }
    match expiry_locked(status, replaced) {
        Some(why) if before.expires_at != after.expires_at => Err(why),
        _ => Ok(()),
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
        "url" => "URL",
        "description" => "Description",
        "events" => "Events",
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
    /// The address as recorded, or [`UNKNOWN`] for the clients behind a trusted proxy that
    /// sent no address (refused by any rule).
    pub ip: String,
    pub allowed_requests: i64,
}

impl WouldBeRefused {
    /// Whether these are the clients behind a trusted proxy that sent no address.
    pub fn is_unknown(&self) -> bool {
        self.ip == UNKNOWN
    }
}

/// Which of these recently seen clients (address as recorded, allowed requests) `rules` would
/// refuse, the busiest first: the clients recorded as [`UNKNOWN`] match no rule, so any rule
/// refuses them. Anything else that does not parse (nothing else is recorded) is left out.
pub fn would_be_refused(recent: &[(String, i64)], rules: &IpRules) -> Vec<WouldBeRefused> {
    let mut refused: Vec<WouldBeRefused> = recent
        .iter()
        .filter(|(_, n)| *n > 0)
        .filter(|(ip, _)| parse_recorded(ip).is_some_and(|client| !rules.allows_client(client)))
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

/// Recent allowed requests of one kind of operation that a new scope would refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusedOperations {
    pub need: Need,
    pub allowed_requests: i64,
}

/// Which of the key's recent allowed requests, counted by what each operation needed of the
/// scope, `scope` would refuse, the busiest kind first. Requests whose kind was not recorded
/// (counted before kinds were) are not in `used`, so they never warn.
pub fn operations_refused(used: &[(Need, i64)], scope: Scope) -> Vec<RefusedOperations> {
    let mut refused: Vec<RefusedOperations> = used
        .iter()
        .filter(|(need, n)| *n > 0 && !scope.allows(*need))
        .map(|(need, n)| RefusedOperations {
            need: *need,
            allowed_requests: *n,
        })
        .collect();
    refused.sort_by(|a, b| {
        b.allowed_requests
            .cmp(&a.allowed_requests)
            .then_with(|| a.need.spelling().cmp(b.need.spelling()))
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
    fn clients_behind_a_proxy_that_sent_no_address_are_refused_by_any_rule() {
        let recent = vec![
            ("10.0.0.5".to_owned(), 50),
            (UNKNOWN.to_owned(), 120),
            ("not an address".to_owned(), 9),
        ];
        let refused = would_be_refused(&recent, &IpRules::parse("10.0.0.0/24").unwrap());
        assert_eq!(
            refused,
            [WouldBeRefused {
                ip: UNKNOWN.to_owned(),
                allowed_requests: 120
            }]
        );
        assert!(refused[0].is_unknown());
        for allowing_all in ["", "*"] {
            let rules = IpRules::parse(allowing_all).unwrap();
            assert!(
                would_be_refused(&recent, &rules).is_empty(),
                "{allowing_all}"
            );
        }
    }

    #[test]
    fn a_replaced_key_keeps_its_expiry_during_and_after_the_overlap_but_takes_a_new_name() {
        let now = t("2026-12-01 12:00:00");
        let stops = t("2026-12-02 12:00:00");
        let before = KeySettings {
            expires_at: Some(stops),
            ..settings()
        };
        let renamed = KeySettings {
            name: "CRM (old)".into(),
            scope: Scope::READ_ONLY,
            ..before.clone()
        };
        let revived = KeySettings {
            expires_at: None,
            ..before.clone()
        };
        let rolling = KeyStatus::of(Some(stops), None, true, now);
        let stopped = KeyStatus::of(Some(now - Duration::seconds(1)), None, true, now);
        assert_eq!(stopped, KeyStatus::Expired);
        assert_eq!(check_edit(rolling, true, &before, &renamed), Ok(()));
        assert_eq!(check_edit(stopped, true, &before, &renamed), Ok(()));
        assert_eq!(
            check_edit(rolling, true, &before, &revived),
            Err(EditRefused::ExpiryInOverlap)
        );
        assert_eq!(
            check_edit(stopped, true, &before, &revived),
            Err(EditRefused::ExpiryAfterOverlap)
        );
        assert!(EditRefused::ExpiryAfterOverlap
            .message()
            .contains("cannot be given a new expiry"));
        // A key that expired on its own, never replaced, may be given a new expiry.
        assert_eq!(check_edit(stopped, false, &before, &revived), Ok(()));
        assert_eq!(expiry_locked(stopped, false), None);
        assert_eq!(
            check_edit(KeyStatus::Revoked, false, &before, &renamed),
            Err(EditRefused::Revoked)
        );
    }

    #[test]
    fn a_narrower_scope_warns_of_the_recent_operations_it_would_refuse() {
        use crate::domain::scope::{Access, Level, Resource};
        let [calls_read, calls_write, calls_delete, knowledge_read, knowledge_write] = Need::ALL;
        let used = [
            (calls_read, 500),
            (calls_write, 0),
            (calls_delete, 1204),
            (knowledge_read, 0),
            (knowledge_write, 7),
        ];
        let refused = operations_refused(&used, Scope::READ_ONLY);
        assert_eq!(
            refused,
            [
                RefusedOperations {
                    need: calls_delete,
                    allowed_requests: 1204
                },
                RefusedOperations {
                    need: knowledge_write,
                    allowed_requests: 7
                },
            ]
        );
        let knowledge_only = Scope {
            calls: Level::NONE,
            knowledge: Level::READ_WRITE_DELETE,
        };
        let refused: Vec<Need> = operations_refused(&used, knowledge_only)
            .into_iter()
            .map(|r| r.need)
            .collect();
        assert_eq!(refused, [calls_delete, calls_read]);
        assert!(operations_refused(&used, Scope::FULL).is_empty());
        // Kinds never used refuse nothing: no warning when only reads were recorded.
        let reads = [(Need::new(Resource::Calls, Access::Read), 9)];
        assert!(operations_refused(&reads, Scope::READ_ONLY).is_empty());
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
