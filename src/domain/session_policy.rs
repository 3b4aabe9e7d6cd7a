//! How long a dashboard session lives: at most 14 days from sign-in, whatever its use, and
//! only while it is used at least once per idle limit (`CALLEM_SESSION_IDLE`). The cookie
//! carries the times; the server decides, so a copied cookie dies on schedule too.

/// The longest a session lives, however active.
pub const MAX_LIFETIME_SECS: i64 = 14 * 24 * 3600;

/// The default idle limit: 7 days.
pub const DEFAULT_IDLE_SECS: i64 = 7 * 24 * 3600;

/// The limits, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub lifetime_secs: i64,
    pub idle_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            lifetime_secs: MAX_LIFETIME_SECS,
            idle_secs: DEFAULT_IDLE_SECS,
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Older than the lifetime (or from before sessions carried their times).
    Lifetime,
    /// Unused for longer than the idle limit.
    Idle,
}

impl Ended {
    /// As it travels in `/login?ended=…`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::Lifetime => "lifetime",
            Ended::Idle => "idle",
        }
    }

    pub fn parse(s: &str) -> Option<Ended> {
        match s {
            "lifetime" => Some(Ended::Lifetime),
            "idle" => Some(Ended::Idle),
            _ => None,
        }
    }
}

/// A session's state at a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Still good; `renew` says to record this use (the idle clock restarts).
    Live {
        renew: bool,
    },
    Ended(Ended),
}

impl SessionPolicy {
    /// Judges a session issued at `issued` and last used at `seen` (Unix seconds; `None` for
    /// a cookie from before sessions carried them), at `now`.
    pub fn check(&self, issued: Option<i64>, seen: Option<i64>, now: i64) -> Verdict {
        let Some(issued) = issued else {
            return Verdict::Ended(Ended::Lifetime);
        };
        if now - issued >= self.lifetime_secs || issued > now + 300 {
            return Verdict::Ended(Ended::Lifetime);
        }
        let seen = seen.unwrap_or(issued);
        if now - seen >= self.idle_secs {
            return Verdict::Ended(Ended::Idle);
        }
        // Rewriting the cookie on every request is waste: once a minute is precise enough
        // for limits of days (and half the limit when it is set shorter).
        let step = (self.idle_secs / 2).clamp(1, 60);
        Verdict::Live {
            renew: now - seen >= step,
        }
    }

    /// The sentence on `/login` after a session ended.
    pub fn explain(&self, why: Ended) -> String {
        match why {
            Ended::Lifetime => format!(
                "You were signed out: a session lasts {} from sign-in. Sign in again to continue.",
                duration_words(self.lifetime_secs)
            ),
            Ended::Idle => format!(
                "You were signed out after {} without activity. Sign in again to continue.",
                duration_words(self.idle_secs)
            ),
        }
    }
}

/// `7 days`, `12 hours`, `30 minutes`, `1 second`: the largest whole unit.
pub fn duration_words(secs: i64) -> String {
    let (n, unit) = if secs % 86_400 == 0 && secs >= 86_400 {
        (secs / 86_400, "day")
    } else if secs % 3600 == 0 && secs >= 3600 {
        (secs / 3600, "hour")
    } else if secs % 60 == 0 && secs >= 60 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Parses `CALLEM_SESSION_IDLE`: a whole number with a unit, `30m`, `12h`, `7d` (or `90s`),
/// between a minute and the 14-day lifetime.
pub fn parse_idle(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = || {
        format!("CALLEM_SESSION_IDLE={s} is not a duration — use minutes, hours or days, e.g. 30m, 12h or 7d")
    };
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = s.split_at(split);
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if !(60..=MAX_LIFETIME_SECS).contains(&secs) {
        return Err(format!(
            "CALLEM_SESSION_IDLE={s} must be between 1m and 14d (a session lasts 14 days at most)"
        ));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn a_session_ends_fourteen_days_after_sign_in_however_active() {
        let p = SessionPolicy::default();
        let t0 = 1_000_000_000;
        assert_eq!(
            p.check(Some(t0), Some(t0), t0 + 10),
            Verdict::Live { renew: false }
        );
        let late = t0 + 14 * DAY - 1;
        assert!(matches!(
            p.check(Some(t0), Some(late - 5), late),
            Verdict::Live { .. }
        ));
        assert_eq!(
            p.check(Some(t0), Some(t0 + 14 * DAY - 1), t0 + 14 * DAY),
            Verdict::Ended(Ended::Lifetime)
        );
        // A cookie without times, or issued in the future, is not believed.
        assert_eq!(p.check(None, None, t0), Verdict::Ended(Ended::Lifetime));
        assert_eq!(
            p.check(Some(t0 + DAY), None, t0),
            Verdict::Ended(Ended::Lifetime)
        );
    }

    #[test]
    fn an_idle_session_ends_and_use_slides_the_idle_clock() {
        let p = SessionPolicy::default();
        let t0 = 1_000_000_000;
        assert_eq!(
            p.check(Some(t0), Some(t0), t0 + 7 * DAY),
            Verdict::Ended(Ended::Idle)
        );
        assert_eq!(
            p.check(Some(t0), Some(t0 + 6 * DAY), t0 + 12 * DAY),
            Verdict::Live { renew: true }
        );
        assert_eq!(
            p.check(Some(t0), Some(t0), t0 + 59),
            Verdict::Live { renew: false }
        );
        assert_eq!(
            p.check(Some(t0), Some(t0), t0 + 60),
            Verdict::Live { renew: true }
        );
    }

    #[test]
    fn the_idle_setting_reads_minutes_hours_and_days_within_the_lifetime() {
        assert_eq!(parse_idle("7d"), Ok(7 * DAY));
        assert_eq!(parse_idle("12h"), Ok(12 * 3600));
        assert_eq!(parse_idle(" 30m "), Ok(1800));
        assert_eq!(parse_idle("14d"), Ok(14 * DAY));
        for bad in ["", "7", "d", "7w", "-1d", "1.5h", "99999999999999999999d"] {
            assert!(
                parse_idle(bad).unwrap_err().contains("CALLEM_SESSION_IDLE"),
                "{bad}"
            );
        }
        assert!(parse_idle("15d")
            .unwrap_err()
            .contains("between 1m and 14d"));
        assert!(parse_idle("30s")
            .unwrap_err()
            .contains("between 1m and 14d"));
    }

    #[test]
    fn durations_read_in_their_largest_whole_unit() {
        assert_eq!(duration_words(7 * DAY), "7 days");
        assert_eq!(duration_words(DAY), "1 day");
        assert_eq!(duration_words(36 * 3600), "36 hours");
        assert_eq!(duration_words(90), "90 seconds");
        assert_eq!(duration_words(120), "2 minutes");
    }
}
