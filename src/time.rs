//! Time helpers: the stored clock is naive UTC; the formats people and clients read.

use chrono::{NaiveDateTime, Utc};

/// Now, UTC, at microsecond precision (what both backends store).
pub fn now() -> NaiveDateTime {
    let n = Utc::now().naive_utc();
    n.with_nanosecond_truncated()
}

trait Truncate {
    fn with_nanosecond_truncated(self) -> Self;
}

impl Truncate for NaiveDateTime {
    fn with_nanosecond_truncated(self) -> Self {
        use chrono::Timelike;
        let micros = self.nanosecond() / 1_000 * 1_000;
        self.with_nanosecond(micros).unwrap_or(self)
    }
}

/// `2025-12-15T14:30:00.000Z`, the API's timestamp format.
pub fn iso_millis(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `Mar 1, 2027`.
pub fn date_label(t: NaiveDateTime) -> String {
    t.format("%b %-d, %Y").to_string()
}

/// `Mar 1, 2027, 14:30 UTC`, shown on hover.
pub fn full_label(t: NaiveDateTime) -> String {
    t.format("%b %-d, %Y, %H:%M:%S UTC").to_string()
}

/// `just now`, `3 minutes ago`, `2 hours ago`, `5 days ago`, then the date.
pub fn relative(t: NaiveDateTime, now: NaiveDateTime) -> String {
    let secs = (now - t).num_seconds();
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    match secs {
        s if s < 60 => "just now".to_owned(),
        s if s < 3_600 => plural(s / 60, "minute"),
        s if s < 86_400 => plural(s / 3_600, "hour"),
        s if s < 30 * 86_400 => plural(s / 86_400, "day"),
        _ => date_label(t),
    }
}

/// `Mar 1, 2027, 14:30`, the calls table's date and time (UTC).
pub fn datetime_label(t: NaiveDateTime) -> String {
    t.format("%b %-d, %Y, %H:%M").to_string()
}

/// A call's length as people read it: `45s`, `2m 25s`, `1h 2m 3s`.
pub fn duration_label(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// A size in bytes as people read it, in one unit up to a megabyte: `0.4 KB`, `12.0 KB`,
/// `3.4 MB` (`< 0.1 KB` for a few bytes, which would otherwise read as nothing).
pub fn size_label(bytes: usize) -> String {
    match bytes {
        0 => "0 KB".to_owned(),
        b if b < 103 => "< 0.1 KB".to_owned(),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_kilobytes_below_a_megabyte() {
        assert_eq!(size_label(401), "0.4 KB");
        assert_eq!(size_label(0), "0 KB");
        assert_eq!(size_label(20), "< 0.1 KB");
        assert_eq!(size_label(12 * 1024), "12.0 KB");
        assert_eq!(size_label(3 * 1024 * 1024 + 400 * 1024), "3.4 MB");
    }
    use chrono::NaiveDate;

    fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2027, 3, 1)
            .unwrap()
            .and_hms_milli_opt(h, m, s, 7)
            .unwrap()
    }

    #[test]
    fn formats_people_and_clients_read() {
        assert_eq!(iso_millis(at(14, 30, 0)), "2027-03-01T14:30:00.007Z");
        assert_eq!(date_label(at(0, 0, 0)), "Mar 1, 2027");
        assert_eq!(relative(at(10, 0, 0), at(10, 0, 30)), "just now");
        assert_eq!(relative(at(10, 0, 0), at(10, 1, 0)), "1 minute ago");
        assert_eq!(relative(at(10, 0, 0), at(10, 3, 59)), "3 minutes ago");
        assert_eq!(relative(at(10, 0, 0), at(12, 0, 0)), "2 hours ago");
        assert_eq!(
            relative(at(0, 0, 0) - chrono::Duration::days(40), at(0, 0, 0)),
            "Jan 20, 2027"
        );
    }
}
