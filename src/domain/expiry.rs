//! When a key stops working: a preset, a custom date, or never. A dated key works until the
//! end of that day, UTC.

use chrono::{Days, Months, NaiveDate, NaiveDateTime, NaiveTime};

use super::Invalid;

/// The default choice, matching the 90-day rotation advice.
pub const DEFAULT_CHOICE: &str = "90d";

/// The choices offered by the dashboard and the CLI (besides a custom date).
pub const PRESETS: [(&str, &str); 5] = [
    ("30d", "30 days"),
    ("60d", "60 days"),
    ("90d", "90 days"),
    ("1y", "1 year"),
    ("never", "No expiration"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Never,
    /// The last day the key works (inclusive).
    On(NaiveDate),
}

impl Expiry {
    /// Parses the dashboard's choice (`30d`, `60d`, `90d`, `1y`, `never`, `custom`) with the
    /// custom date field, relative to `today` (UTC).
    pub fn from_form(choice: &str, custom_date: &str, today: NaiveDate) -> Result<Self, Invalid> {
        match choice.trim() {
            "custom" => Self::custom(custom_date, today),
            other => Self::preset(other, today).ok_or_else(|| {
                Invalid::new("Choose an expiration: 30, 60 or 90 days, 1 year, a date, or none.")
            }),
        }
    }

    /// Parses the CLI's `--expires`: `30d|60d|90d|1y|YYYY-MM-DD|never`.
    pub fn from_cli(value: &str, today: NaiveDate) -> Result<Self, Invalid> {
        let v = value.trim();
        if let Some(e) = Self::preset(v, today) {
            return Ok(e);
        }
        if v.len() == 10 && v.as_bytes()[4] == b'-' {
            return Self::custom(v, today);
        }
        Err(Invalid::new(format!(
            "invalid expiry '{v}': use 30d, 60d, 90d, 1y, a date YYYY-MM-DD, or never"
        )))
    }

    fn preset(choice: &str, today: NaiveDate) -> Option<Self> {
        let on = match choice {
            "never" => return Some(Expiry::Never),
            "30d" => today.checked_add_days(Days::new(30)),
            "60d" => today.checked_add_days(Days::new(60)),
            "90d" => today.checked_add_days(Days::new(90)),
            "1y" => today.checked_add_months(Months::new(12)),
            _ => None,
        }?;
        Some(Expiry::On(on))
    }

    fn custom(date: &str, today: NaiveDate) -> Result<Self, Invalid> {
        let date = date.trim();
        if date.is_empty() {
            return Err(Invalid::new("Pick the date the key expires."));
        }
        let d = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|_| Invalid::new(format!("'{date}' is not a date (YYYY-MM-DD).")))?;
        if d <= today {
            return Err(Invalid::new("The expiration date must be after today."));
        }
        Ok(Expiry::On(d))
    }

    /// The instant after which the key is refused: the last microsecond of the day, UTC.
    pub fn expires_at(self) -> Option<NaiveDateTime> {
        match self {
            Expiry::Never => None,
            Expiry::On(d) => Some(d.and_time(end_of_day())),
        }
    }
}

fn end_of_day() -> NaiveTime {
    NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap_or(NaiveTime::MIN)
}

/// Whether a key with this stored expiry is expired at `now` (UTC).
pub fn is_expired(expires_at: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    expires_at.is_some_and(|at| now > at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn presets_count_from_today() {
        let today = d("2026-11-30");
        assert_eq!(
            Expiry::from_form("30d", "", today).unwrap(),
            Expiry::On(d("2026-12-30"))
        );
        assert_eq!(
            Expiry::from_form("60d", "", today).unwrap(),
            Expiry::On(d("2027-01-29"))
        );
        assert_eq!(
            Expiry::from_form("90d", "", today).unwrap(),
            Expiry::On(d("2027-02-28"))
        );
        assert_eq!(
            Expiry::from_form("1y", "", today).unwrap(),
            Expiry::On(d("2027-11-30"))
        );
        assert_eq!(
            Expiry::from_form("never", "", today).unwrap(),
            Expiry::Never
        );
        assert!(Expiry::from_form("45d", "", today).is_err());
    }

    #[test]
    fn custom_dates_must_be_after_today() {
        let today = d("2026-11-30");
        assert_eq!(
            Expiry::from_form("custom", "2026-12-01", today).unwrap(),
            Expiry::On(d("2026-12-01"))
        );
        assert!(Expiry::from_form("custom", "2026-11-30", today).is_err());
        assert!(Expiry::from_form("custom", "2020-01-01", today).is_err());
        assert!(Expiry::from_form("custom", "", today).is_err());
        assert!(Expiry::from_form("custom", "31/12/2027", today).is_err());
        assert!(Expiry::from_form("custom", "2027-02-30", today).is_err());
    }

    #[test]
    fn cli_accepts_presets_dates_and_never() {
        let today = d("2026-11-30");
        assert_eq!(Expiry::from_cli("never", today).unwrap(), Expiry::Never);
        assert_eq!(
            Expiry::from_cli("1y", today).unwrap(),
            Expiry::On(d("2027-11-30"))
        );
        assert_eq!(
            Expiry::from_cli("2027-03-01", today).unwrap(),
            Expiry::On(d("2027-03-01"))
        );
        assert!(Expiry::from_cli("2026-11-29", today).is_err());
        assert!(Expiry::from_cli("tomorrow", today).is_err());
    }

    #[test]
    fn a_dated_key_works_until_the_end_of_that_day_utc() {
        let at = Expiry::On(d("2027-03-01")).expires_at();
        let day = d("2027-03-01");
        assert!(!is_expired(at, day.and_hms_opt(23, 59, 59).unwrap()));
        assert!(is_expired(
            at,
            d("2027-03-02").and_hms_opt(0, 0, 0).unwrap()
        ));
        assert!(!is_expired(
            None,
            d("2999-01-01").and_hms_opt(0, 0, 0).unwrap()
        ));
    }
}
