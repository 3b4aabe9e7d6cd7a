//! What state a key is in, as its badge and the list's Expires column say it, and which
//! "Needs attention" categories an active key falls in.

use chrono::{Duration, NaiveDateTime};

/// A key expiring within this many days is shown in amber.
pub const EXPIRES_SOON_DAYS: i64 = 14;
/// A key created longer ago than this and never used needs attention.
pub const NEVER_USED_AFTER_DAYS: i64 = 7;
/// A key not used for this long needs attention.
pub const IDLE_DAYS: i64 = 90;
/// A key reported leaked this recently needs attention (revoked as it is: someone had it).
pub const LEAKED_WITHIN_DAYS: i64 = 7;

/// A key's status badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    /// Expires within [`EXPIRES_SOON_DAYS`]; the whole days left (0 = the last day).
    ExpiresSoon(i64),
    /// Rolled: still works until the overlap ends, in this many minutes.
    Rolling(i64),
    Expired,
    Revoked,
}

impl KeyStatus {
    /// The status at `now` of a key with this stored expiry (the last microsecond it works),
    /// revocation time, and whether it was rolled (replaced by another key).
    pub fn of(
        expires_at: Option<NaiveDateTime>,
        revoked_at: Option<NaiveDateTime>,
        rolled: bool,
        now: NaiveDateTime,
    ) -> Self {
        if revoked_at.is_some() {
            return KeyStatus::Revoked;
        }
        match expires_at {
            None => KeyStatus::Active,
            Some(at) if now > at => KeyStatus::Expired,
            Some(at) if rolled => KeyStatus::Rolling((at - now).num_minutes()),
            Some(at) => {
                let days = (at.date() - now.date()).num_days();
                if days <= EXPIRES_SOON_DAYS {
                    KeyStatus::ExpiresSoon(days)
                } else {
                    KeyStatus::Active
                }
            }
        }
    }

    /// `Active`, `Expires in 6 days`, `Expires tomorrow`, `Expires today`, `Expired`, `Revoked`.
    pub fn label(self) -> String {
        match self {
            KeyStatus::Active => "Active".to_owned(),
            KeyStatus::ExpiresSoon(0) => "Expires today".to_owned(),
            KeyStatus::ExpiresSoon(1) => "Expires tomorrow".to_owned(),
            KeyStatus::ExpiresSoon(n) => format!("Expires in {n} days"),
            KeyStatus::Rolling(minutes) => {
                format!("Rolling · {}", stops_in(Duration::minutes(minutes)))
            }
            KeyStatus::Expired => "Expired".to_owned(),
            KeyStatus::Revoked => "Revoked".to_owned(),
        }
    }

    /// The badge's look: `success`, `warning` (amber) or `danger`/`muted`.
    pub fn tone(self) -> &'static str {
        match self {
            KeyStatus::Active => "success",
            KeyStatus::ExpiresSoon(_) | KeyStatus::Rolling(_) => "warning",
            KeyStatus::Expired => "danger",
            KeyStatus::Revoked => "muted",
        }
    }

    /// Whether the key still works (neither revoked nor expired).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            KeyStatus::Active | KeyStatus::ExpiresSoon(_) | KeyStatus::Rolling(_)
        )
    }

    /// Whether it may be rolled: active and not already rolled.
    pub fn can_roll(self) -> bool {
        matches!(self, KeyStatus::Active | KeyStatus::ExpiresSoon(_))
    }
}

/// A reason an active key needs attention; the list can be filtered by each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attention {
    NeverUsed,
    Idle,
    AllIps,
    NeverExpires,
    Refused,
    /// Reported leaked (and so revoked) in the last [`LEAKED_WITHIN_DAYS`] days.
    Leaked,
}

impl Attention {
    /// In the order the strip shows them.
    pub const ALL: [Attention; 6] = [
        Attention::Leaked,
        Attention::NeverUsed,
        Attention::Idle,
        Attention::AllIps,
        Attention::NeverExpires,
        Attention::Refused,
    ];

    /// The query value (`?attention=never_used`).
    pub fn slug(self) -> &'static str {
        match self {
            Attention::NeverUsed => "never_used",
            Attention::Idle => "idle",
            Attention::AllIps => "all_ips",
            Attention::NeverExpires => "never_expires",
            Attention::Refused => "refused",
            Attention::Leaked => "leaked",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Attention::ALL.into_iter().find(|a| a.slug() == slug)
    }

    /// What the strip says after the count (`2 never used`).
    pub fn label(self) -> &'static str {
        match self {
            Attention::NeverUsed => "never used",
            Attention::Idle => "idle for 90+ days",
            Attention::AllIps => "allow all IPs",
            Attention::NeverExpires => "never expire",
            Attention::Refused => "refused in the last 24 h",
            Attention::Leaked => "reported leaked in the last 7 days",
        }
    }

    /// The strip's link, after `?`: the leaked keys are revoked, so their link is to the
    /// revoked list, filtered; the others filter the active list.
    pub fn query(self) -> String {
        match self {
            Attention::Leaked => format!("show=revoked&attention={}", self.slug()),
            other => format!("attention={}", other.slug()),
        }
    }

    /// Whether the keys in this category are revoked ones (read-only in the list).
    pub fn lists_revoked(self) -> bool {
        self == Attention::Leaked
    }
}

/// What the categories are decided on, for one key.
#[derive(Debug, Clone, Copy)]
pub struct KeyFacts {
    pub status: KeyStatus,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub unrestricted: bool,
    pub never_expires: bool,
    /// Requests refused in the last 24 hours.
    pub refused_last_24h: i64,
    pub leak_reported_at: Option<NaiveDateTime>,
}

/// The categories a key falls in at `now`: for a revoked or expired key, only
/// [`Attention::Leaked`] (a recent leak report).
pub fn attention(key: &KeyFacts, now: NaiveDateTime) -> Vec<Attention> {
    let recent_leak = key
        .leak_reported_at
        .is_some_and(|t| now - t <= Duration::days(LEAKED_WITHIN_DAYS));
    if recent_leak {
        return vec![Attention::Leaked];
    }
    if !key.status.is_active() {
        return Vec::new();
    }
    let mut found = Vec::new();
    match key.last_used_at {
        None if now - key.created_at > Duration::days(NEVER_USED_AFTER_DAYS) => {
            found.push(Attention::NeverUsed)
        }
        Some(t) if now - t >= Duration::days(IDLE_DAYS) => found.push(Attention::Idle),
        _ => {}
    }
    if key.unrestricted {
        found.push(Attention::AllIps);
    }
    if key.never_expires {
        found.push(Attention::NeverExpires);
    }
    if key.refused_last_24h > 0 {
        found.push(Attention::Refused);
    }
    found
}

/// How many keys fall in each category, in [`Attention::ALL`]'s order, leaving out empty ones.
pub fn counts<'a>(keys: impl IntoIterator<Item = &'a [Attention]>) -> Vec<(Attention, usize)> {
    let mut n = [0usize; Attention::ALL.len()];
    for cats in keys {
        for c in cats {
            if let Some(i) = Attention::ALL.iter().position(|a| a == c) {
                n[i] += 1;
            }
        }
    }
    Attention::ALL
        .into_iter()
        .zip(n)
        .filter(|(_, n)| *n > 0)
        .collect()
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
    use chrono::NaiveDate;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn end_of(d: &str) -> NaiveDateTime {
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .unwrap()
            .and_hms_micro_opt(23, 59, 59, 999_999)
            .unwrap()
    }

    #[test]
    fn status_follows_expiry_and_revocation() {
        let now = at("2026-12-01 12:00:00");
        assert_eq!(KeyStatus::of(None, None, false, now), KeyStatus::Active);
        assert_eq!(
            KeyStatus::of(Some(end_of("2026-12-16")), None, false, now),
            KeyStatus::Active
        );
        assert_eq!(
            KeyStatus::of(Some(end_of("2026-12-15")), None, false, now),
            KeyStatus::ExpiresSoon(14)
        );
        assert_eq!(
            KeyStatus::of(Some(end_of("2026-12-07")), None, false, now).label(),
            "Expires in 6 days"
        );
        assert_eq!(
            KeyStatus::of(Some(end_of("2026-12-01")), None, false, now).label(),
            "Expires today"
        );
        assert_eq!(
            KeyStatus::of(Some(end_of("2026-11-30")), None, false, now),
            KeyStatus::Expired
        );
        assert_eq!(
            KeyStatus::of(None, Some(now), false, now).label(),
            "Revoked"
        );
        assert_eq!(KeyStatus::ExpiresSoon(3).tone(), "warning");
        let overlap_end = at("2026-12-02 11:00:00");
        let rolling = KeyStatus::of(Some(overlap_end), None, true, now);
        assert_eq!(rolling.label(), "Rolling · stops in 23 h");
        assert!(rolling.is_active() && !rolling.can_roll());
        assert_eq!(
            KeyStatus::of(Some(at("2026-12-01 11:00:00")), None, true, now),
            KeyStatus::Expired
        );
    }

    fn facts(now: NaiveDateTime) -> KeyFacts {
        KeyFacts {
            status: KeyStatus::Active,
            created_at: now - Duration::days(30),
            last_used_at: Some(now - Duration::hours(1)),
            unrestricted: false,
            never_expires: false,
            refused_last_24h: 0,
            leak_reported_at: None,
        }
    }

    #[test]
    fn a_healthy_key_needs_no_attention() {
        let now = at("2026-12-01 12:00:00");
        assert!(attention(&facts(now), now).is_empty());
    }

    #[test]
    fn never_used_counts_only_after_seven_days() {
        let now = at("2026-12-01 12:00:00");
        let mut k = facts(now);
        k.last_used_at = None;
        k.created_at = now - Duration::days(7);
        assert!(attention(&k, now).is_empty());
        k.created_at = now - Duration::days(8);
        assert_eq!(attention(&k, now), vec![Attention::NeverUsed]);
    }

    #[test]
    fn idle_from_ninety_days() {
        let now = at("2026-12-01 12:00:00");
        let mut k = facts(now);
        k.last_used_at = Some(now - Duration::days(89));
        assert!(attention(&k, now).is_empty());
        k.last_used_at = Some(now - Duration::days(90));
        assert_eq!(attention(&k, now), vec![Attention::Idle]);
    }

    #[test]
    fn rules_expiry_and_refusals_each_count() {
        let now = at("2026-12-01 12:00:00");
        let mut k = facts(now);
        k.unrestricted = true;
        k.never_expires = true;
        k.refused_last_24h = 3;
        assert_eq!(
            attention(&k, now),
            vec![
                Attention::AllIps,
                Attention::NeverExpires,
                Attention::Refused
            ]
        );
    }

    #[test]
    fn revoked_and_expired_keys_need_no_attention() {
        let now = at("2026-12-01 12:00:00");
        let mut k = facts(now);
        k.unrestricted = true;
        k.status = KeyStatus::Revoked;
        assert!(attention(&k, now).is_empty());
        k.status = KeyStatus::Expired;
        assert!(attention(&k, now).is_empty());
    }

    #[test]
    fn a_key_reported_leaked_needs_attention_for_seven_days() {
        let now = at("2026-12-01 12:00:00");
        let mut k = facts(now);
        k.status = KeyStatus::Revoked;
        k.unrestricted = true;
        k.leak_reported_at = Some(now - Duration::days(7));
        assert_eq!(attention(&k, now), vec![Attention::Leaked]);
        k.leak_reported_at = Some(now - Duration::days(7) - Duration::seconds(1));
        assert!(attention(&k, now).is_empty());
        assert_eq!(Attention::Leaked.query(), "show=revoked&attention=leaked");
        assert_eq!(Attention::Idle.query(), "attention=idle");
    }

    #[test]
    fn counts_leave_out_empty_categories_in_strip_order() {
        let a = [Attention::Refused, Attention::AllIps];
        let b = [Attention::AllIps];
        let c: [Attention; 0] = [];
        let got = counts([&a[..], &b[..], &c[..]]);
        assert_eq!(got, vec![(Attention::AllIps, 2), (Attention::Refused, 1)]);
    }

    #[test]
    fn slugs_round_trip() {
        for a in Attention::ALL {
            assert_eq!(Attention::from_slug(a.slug()), Some(a));
        }
        assert_eq!(Attention::from_slug("nope"), None);
    }
}
