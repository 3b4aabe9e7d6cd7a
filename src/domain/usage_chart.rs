//! The key page's usage chart as geometry: requests per bucket (a day over 30 days, or an hour
//! over 24 hours), stacked allowed / refused, with a y-axis scale and date labels. The template
//! draws it as inline SVG; nothing here knows about HTML.

use chrono::{Duration, NaiveDateTime, Timelike};

/// The drawing area, in SVG user units (the SVG scales to its box).
pub const WIDTH: f64 = 720.0;
pub const HEIGHT: f64 = 220.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 28.0;

/// Which period the chart covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// The last 30 days (today included), one bar per UTC day.
    Days30,
    /// The last 24 hours (this hour included), one bar per UTC hour.
    Hours24,
}

impl Range {
    /// `30d` or `24h`; anything else is the default, 30 days.
    pub fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("24h") => Range::Hours24,
            _ => Range::Days30,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Range::Days30 => "30d",
            Range::Hours24 => "24h",
        }
    }

    /// `the last 30 days`, `the last 24 hours`.
    pub fn phrase(self) -> &'static str {
        match self {
            Range::Days30 => "the last 30 days",
            Range::Hours24 => "the last 24 hours",
        }
    }

    fn buckets(self) -> i64 {
        match self {
            Range::Days30 => 30,
            Range::Hours24 => 24,
        }
    }

    fn step(self) -> Duration {
        match self {
            Range::Days30 => Duration::days(1),
            Range::Hours24 => Duration::hours(1),
        }
    }

    /// The start of the first bucket: what the hourly counts are read from.
    pub fn since(self, now: NaiveDateTime) -> NaiveDateTime {
        self.current(now) - self.step() * (self.buckets() as i32 - 1)
    }

    fn current(self, now: NaiveDateTime) -> NaiveDateTime {
        let hour = now.date().and_hms_opt(now.hour(), 0, 0).unwrap_or(now);
        match self {
            Range::Days30 => now.date().and_time(chrono::NaiveTime::MIN),
            Range::Hours24 => hour,
        }
    }

    fn label(self, start: NaiveDateTime) -> String {
        match self {
            Range::Days30 => start.format("%b %-d").to_string(),
            Range::Hours24 => start.format("%H:%M").to_string(),
        }
    }

    fn long_label(self, start: NaiveDateTime) -> String {
        match self {
            Range::Days30 => start.format("%a, %b %-d").to_string(),
            Range::Hours24 => format!(
                "{}–{} UTC",
                start.format("%b %-d, %H:%M"),
                (start + Duration::hours(1)).format("%H:%M")
            ),
        }
    }

    /// Every how many bars a date label is drawn.
    fn label_every(self) -> usize {
        match self {
            Range::Days30 => 7,
            Range::Hours24 => 6,
        }
    }
}

/// One hour's count of one outcome, as the usage table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub hour: NaiveDateTime,
    pub allowed: bool,
    pub requests: i64,
}

/// One bar: the allowed part at the bottom, the refused part on top.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub width: f64,
    pub allowed_y: f64,
    pub allowed_height: f64,
    pub refused_y: f64,
    pub refused_height: f64,
    /// `Tue, Nov 3` / `Dec 1, 14:00–15:00 UTC`.
    pub label: String,
    pub allowed: i64,
    pub refused: i64,
}

impl Bar {
    pub fn total(&self) -> i64 {
        self.allowed + self.refused
    }

    /// What hovering the bar says: `Tue, Dec 1: 18 requests, 3 refused`.
    pub fn summary(&self) -> String {
        let requests = match self.total() {
            1 => "1 request".to_owned(),
            n => format!("{} requests", thousands(n)),
        };
        format!(
            "{}: {requests}, {} refused",
            self.label,
            thousands(self.refused)
        )
    }
}

/// A y-axis tick: a grid line at `y` with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub y: f64,
    pub label: String,
}

/// A date (or hour) label under the bars.
#[derive(Debug, Clone, PartialEq)]
pub struct XLabel {
    pub x: f64,
    pub label: String,
    /// How the label sits on `x`: the first starts at the plot's left edge and the last ends
    /// at its right edge, so neither is cut off whatever the width; the others are centred.
    pub anchor: &'static str,
    /// Kept on a narrow screen (the first, the middle and the last), where the chart shrinks
    /// and the others would crowd it.
    pub major: bool,
}

/// The whole chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub range: Range,
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
    pub x_labels: Vec<XLabel>,
    pub total: i64,
    pub refused: i64,
    /// The x of the axis and the y of the baseline.
    pub axis_x: f64,
    pub base_y: f64,
    pub right_x: f64,
}

impl Chart {
    /// The chart of `counts` (any order; those outside the range are ignored) at `now`.
    pub fn build(range: Range, counts: &[Count], now: NaiveDateTime) -> Chart {
        let first = range.since(now);
        let n = range.buckets() as usize;
        let mut sums = vec![(0i64, 0i64); n];
        for c in counts {
            if c.hour < first {
                continue;
            }
            let i = ((c.hour - first).num_seconds() / range.step().num_seconds()) as usize;
            if let Some(s) = sums.get_mut(i) {
                if c.allowed {
                    s.0 += c.requests.max(0);
                } else {
                    s.1 += c.requests.max(0);
                }
            }
        }
        let max = sums.iter().map(|(a, r)| a + r).max().unwrap_or(0);
        let (step, top) = nice_scale(max);
        let plot_h = HEIGHT - TOP - BOTTOM;
        let base_y = HEIGHT - BOTTOM;
        let slot = (WIDTH - LEFT - RIGHT) / n as f64;
        let width = round1(slot * 0.72);
        let scale = |v: i64| plot_h * v as f64 / top as f64;
        let bars = sums
            .iter()
            .enumerate()
            .map(|(i, &(allowed, refused))| {
                let start = first + range.step() * i as i32;
                let ah = scale(allowed);
                let rh = scale(refused);
                Bar {
                    x: round1(LEFT + slot * i as f64 + (slot - slot * 0.72) / 2.0),
                    width,
                    allowed_y: round1(base_y - ah),
                    allowed_height: round1(ah),
                    refused_y: round1(base_y - ah - rh),
                    refused_height: round1(rh),
                    label: range.long_label(start),
                    allowed,
                    refused,
                }
            })
            .collect();
        let ticks = (0..=top / step)
            .map(|k| Tick {
                y: round1(base_y - scale(k * step)),
                label: thousands(k * step),
            })
            .collect();
        let at: Vec<usize> = (0..n)
            .filter(|i| i.is_multiple_of(range.label_every()) || *i == n - 1)
            .filter(|i| *i == n - 1 || n - 1 - i >= range.label_every() / 2)
            .collect();
        let middle = at.get(at.len() / 2).copied();
        let x_labels = at
            .iter()
            .map(|&i| {
                let (x, anchor) = if i == 0 {
                    (LEFT + (slot - width) / 2.0, "start")
                } else if i == n - 1 {
                    (WIDTH - RIGHT, "end")
                } else {
                    (LEFT + slot * i as f64 + slot / 2.0, "middle")
                };
                XLabel {
                    x: round1(x),
                    label: range.label(first + range.step() * i as i32),
                    anchor,
                    major: i == 0 || i == n - 1 || Some(i) == middle,
                }
            })
            .collect();
        Chart {
            range,
            bars,
            ticks,
            x_labels,
            total: sums.iter().map(|(a, r)| a + r).sum(),
            refused: sums.iter().map(|(_, r)| r).sum(),
            axis_x: LEFT,
            base_y,
            right_x: WIDTH - RIGHT,
        }
    }

    /// No request at all in the range: the page shows an empty state instead of the frame.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// `12,431 requests in the last 30 days, 37 refused`.
    pub fn total_line(&self) -> String {
        let requests = match self.total {
            1 => "1 request".to_owned(),
            n => format!("{} requests", thousands(n)),
        };
        format!(
            "{requests} in {}, {} refused",
            self.range.phrase(),
            thousands(self.refused)
        )
    }
}

/// A scale for values up to `max`: a step of 1, 2 or 5 × 10ⁿ and the top (a multiple of the
/// step ≥ max), giving at most 5 steps. A chart with nothing in it still has a scale of 0–1.
pub fn nice_scale(max: i64) -> (i64, i64) {
    if max <= 0 {
        return (1, 1);
    }
    let mut magnitude = 1i64;
    loop {
        for m in [1, 2, 5] {
            let step = m * magnitude;
            let top = (max + step - 1) / step * step;
            if top / step <= 5 {
                return (step, top);
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// `12431` → `12,431`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn count(hour: &str, allowed: bool, requests: i64) -> Count {
        Count {
            hour: at(hour),
            allowed,
            requests,
        }
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12_431), "12,431");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn the_scale_uses_round_steps_above_the_maximum() {
        assert_eq!(nice_scale(0), (1, 1));
        assert_eq!(nice_scale(3), (1, 3));
        assert_eq!(nice_scale(7), (2, 8));
        assert_eq!(nice_scale(37), (10, 40));
        assert_eq!(nice_scale(12_431), (5_000, 15_000));
        assert_eq!(nice_scale(100), (20, 100));
    }

    #[test]
    fn thirty_daily_bars_sum_the_hours_of_each_day() {
        let now = at("2026-12-01 15:20:00");
        let counts = [
            count("2026-12-01 09:00:00", true, 10),
            count("2026-12-01 14:00:00", true, 5),
            count("2026-12-01 14:00:00", false, 3),
            count("2026-11-30 23:00:00", true, 7),
            count("2026-11-02 00:00:00", true, 1),
            // Before the 30 days: ignored.
            count("2026-11-01 23:00:00", true, 1000),
        ];
        let chart = Chart::build(Range::Days30, &counts, now);
        assert_eq!(chart.bars.len(), 30);
        let last = &chart.bars[29];
        assert_eq!((last.allowed, last.refused), (15, 3));
        assert_eq!(last.label, "Tue, Dec 1");
        assert_eq!(last.summary(), "Tue, Dec 1: 18 requests, 3 refused");
        assert_eq!(chart.bars[28].allowed, 7);
        assert_eq!(chart.bars[0].allowed, 1);
        assert_eq!(chart.bars[0].label, "Mon, Nov 2");
        assert_eq!((chart.total, chart.refused), (26, 3));
        assert_eq!(
            chart.total_line(),
            "26 requests in the last 30 days, 3 refused"
        );
        assert!(!chart.is_empty());
    }

    #[test]
    fn bars_stack_refused_on_allowed_within_the_plot() {
        let now = at("2026-12-01 15:20:00");
        let counts = [
            count("2026-12-01 09:00:00", true, 15),
            count("2026-12-01 10:00:00", false, 5),
        ];
        let chart = Chart::build(Range::Days30, &counts, now);
        let bar = &chart.bars[29];
        // Scale 0–20: the bar fills the plot.
        assert_eq!(chart.ticks.last().unwrap().label, "20");
        assert_eq!(chart.ticks[0].y, chart.base_y);
        assert_eq!(bar.allowed_y + bar.allowed_height, chart.base_y);
        assert_eq!(bar.refused_y + bar.refused_height, bar.allowed_y);
        assert_eq!(bar.refused_y, TOP);
        assert!((bar.allowed_height - 3.0 * bar.refused_height).abs() < 0.2);
        // Bars stay inside the frame and do not overlap.
        for w in chart.bars.windows(2) {
            assert!(w[0].x + w[0].width < w[1].x);
        }
        assert!(chart.bars[0].x >= chart.axis_x);
        assert!(bar.x + bar.width <= chart.right_x);
        // An empty day has no height.
        assert_eq!(
            chart.bars[0].allowed_height + chart.bars[0].refused_height,
            0.0
        );
    }

    #[test]
    fn the_date_axis_labels_every_week_and_today() {
        let now = at("2026-12-01 15:20:00");
        let chart = Chart::build(Range::Days30, &[], now);
        let labels: Vec<&str> = chart.x_labels.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["Nov 2", "Nov 9", "Nov 16", "Nov 23", "Dec 1"]);
        assert!(chart.is_empty());
    }

    #[test]
    fn twenty_four_hourly_bars_end_with_this_hour() {
        let now = at("2026-12-01 15:20:00");
        let counts = [
            count("2026-12-01 15:00:00", true, 2),
            count("2026-11-30 16:00:00", false, 1),
            count("2026-11-30 15:00:00", true, 99),
        ];
        let chart = Chart::build(Range::Hours24, &counts, now);
        assert_eq!(chart.bars.len(), 24);
        assert_eq!(chart.bars[23].allowed, 2);
        assert_eq!(chart.bars[0].refused, 1);
        assert_eq!(chart.bars[23].label, "Dec 1, 15:00–16:00 UTC");
        assert_eq!(
            chart.total_line(),
            "3 requests in the last 24 hours, 1 refused"
        );
        assert_eq!(Range::Hours24.since(now), at("2026-11-30 16:00:00"));
        assert_eq!(Range::Days30.since(now), at("2026-11-02 00:00:00"));
    }

    #[test]
    fn the_range_comes_from_the_query() {
        assert_eq!(Range::from_query(Some("24h")), Range::Hours24);
        assert_eq!(Range::from_query(Some("30d")), Range::Days30);
        assert_eq!(Range::from_query(None), Range::Days30);
        assert_eq!(Range::from_query(Some("x")), Range::Days30);
    }

    #[test]
    fn the_end_labels_stay_inside_the_frame_and_three_are_kept_for_a_phone() {
        let now =
            NaiveDateTime::parse_from_str("2026-12-07 10:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        for range in [Range::Days30, Range::Hours24] {
            let chart = Chart::build(range, &[], now);
            let first = chart.x_labels.first().unwrap();
            let last = chart.x_labels.last().unwrap();
            assert_eq!((first.anchor, last.anchor), ("start", "end"));
            assert!(first.x >= chart.axis_x && last.x <= WIDTH);
            let major: Vec<&str> = chart
                .x_labels
                .iter()
                .filter(|l| l.major)
                .map(|l| l.label.as_str())
                .collect();
            assert_eq!(major.len(), 3, "{range:?}: {major:?}");
            assert_eq!(major[2], last.label);
        }
    }
}
