//! When a failed delivery is tried again: the retry delays (the hosted product's three by
//! default, `CALLEM_WEBHOOK_RETRY_SCHEDULE` to change them), each with ±20 % jitter, and a
//! receiver's `Retry-After` honoured up to an hour.

use std::time::Duration;

use crate::domain::Invalid;

/// The retry delays after the first attempt: `5s,5m,30m` unless configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

/// The longest a `Retry-After` can put off the next attempt.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// The longest one retry delay may be configured to.
const MAX_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_RETRIES: usize = 30;

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule(vec![
            Duration::from_secs(5),
            Duration::from_secs(5 * 60),
            Duration::from_secs(30 * 60),
        ])
    }
}

impl RetrySchedule {
    /// From `5s,5m,30m,2h` (units `ms`, `s`, `m`, `h`, `d`); empty means the default.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(RetrySchedule::default());
        }
        let bad = |part: &str| {
            Invalid::new(format!(
                "CALLEM_WEBHOOK_RETRY_SCHEDULE: '{part}' is not a delay like 5s, 5m, 2h or 1d"
            ))
        };
        let mut delays = Vec::new();
        for part in s.split(',').map(str::trim) {
            let split = part
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| bad(part))?;
            let (n, unit) = part.split_at(split);
            let n: u64 = n.parse().map_err(|_| bad(part))?;
            let delay = match unit {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n.saturating_mul(60)),
                "h" => Duration::from_secs(n.saturating_mul(3600)),
                "d" => Duration::from_secs(n.saturating_mul(86_400)),
                _ => return Err(bad(part)),
            };
            if delay.is_zero() || delay > MAX_DELAY {
                return Err(Invalid::new(format!(
                    "CALLEM_WEBHOOK_RETRY_SCHEDULE: '{part}' must be more than 0 and at most 7d"
                )));
            }
            delays.push(delay);
        }
        if delays.len() > MAX_RETRIES {
            return Err(Invalid::new(format!(
                "CALLEM_WEBHOOK_RETRY_SCHEDULE: at most {MAX_RETRIES} retries"
            )));
        }
        Ok(RetrySchedule(delays))
    }

    /// How many retries follow the first attempt.
    pub fn retries(&self) -> usize {
        self.0.len()
    }

    /// The delay before the next attempt, after `attempts` attempts have failed (1 after the
    /// first); `None` when none is left. `jitter` in [-1, 1] spreads it by up to ±20 %;
    /// a receiver's `Retry-After` (at most an hour) replaces it when longer.
    pub fn next_delay(
        &self,
        attempts: usize,
        jitter: f64,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let base = *self.0.get(attempts.checked_sub(1)?)?;
        let spread = base.mul_f64(1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
        Some(match retry_after {
            Some(asked) => spread.max(asked.min(MAX_RETRY_AFTER)),
            None => spread,
        })
    }

    /// As configured, for the README and `--help`: `5s,5m,30m`.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|d| {
                let s = d.as_secs();
                if d.subsec_millis() != 0 || s == 0 {
                    format!("{}ms", d.as_millis())
                } else if s % 86_400 == 0 {
                    format!("{}d", s / 86_400)
                } else if s % 3600 == 0 {
                    format!("{}h", s / 3600)
                } else if s % 60 == 0 {
                    format!("{}m", s / 60)
                } else {
                    format!("{s}s")
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_hosted_three_retries() {
        let s = RetrySchedule::default();
        assert_eq!(s.retries(), 3);
        assert_eq!(s.describe(), "5s,5m,30m");
        assert_eq!(s.next_delay(1, 0.0, None), Some(Duration::from_secs(5)));
        assert_eq!(s.next_delay(3, 0.0, None), Some(Duration::from_secs(1800)));
        assert_eq!(s.next_delay(4, 0.0, None), None);
        assert_eq!(s.next_delay(0, 0.0, None), None);
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_retry_after_is_capped() {
        let s = RetrySchedule::default();
        assert_eq!(s.next_delay(2, 1.0, None), Some(Duration::from_secs(360)));
        assert_eq!(s.next_delay(2, -5.0, None), Some(Duration::from_secs(240)));
        assert_eq!(
            s.next_delay(1, 0.0, Some(Duration::from_secs(30))),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            s.next_delay(1, 0.0, Some(Duration::from_secs(99_999))),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn a_configured_schedule_is_read_and_bad_ones_named() {
        let s = RetrySchedule::parse("5s,5m,30m,2h,5h,10h,14h,20h,24h").unwrap();
        assert_eq!(s.retries(), 9);
        assert_eq!(s.describe(), "5s,5m,30m,2h,5h,10h,14h,20h,1d");
        assert_eq!(
            RetrySchedule::parse("200ms,1s").unwrap().describe(),
            "200ms,1s"
        );
        assert!(RetrySchedule::parse("5x").is_err());
        assert!(RetrySchedule::parse("0s").is_err());
        assert!(RetrySchedule::parse("8d").is_err());
        assert_eq!(RetrySchedule::parse("").unwrap(), RetrySchedule::default());
    }
}
