//! The dashboard's call filters and paging, parsed from the query string so that links
//! survive a reload.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::ids::CallId;
use super::pagination::PageNumber;
use super::phone::{self, NumberSearch};

/// Page sizes offered by the calls table.
pub const PAGE_SIZES: [i64; 3] = [25, 50, 100];

/// The longest search kept (a phone number or a call id is far shorter).
const MAX_SEARCH: usize = 100;

/// Which evaluation to show: a value, or calls without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvaluationFilter {
    Is(String),
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallFilter {
    /// A phone number in any usual format, or a call id, as typed.
    pub search: Option<String>,
    pub status: Option<String>,
    pub evaluation: Option<EvaluationFilter>,
    /// First day included (UTC).
    pub from: Option<NaiveDate>,
    /// Last day included (UTC).
    pub to: Option<NaiveDate>,
    pub page: PageNumber,
    pub per_page: i64,
}

impl CallFilter {
    /// Reads the query's values leniently: an unknown value is ignored rather than an error,
    /// since these come from links and selects, not from typing.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Self {
        // A value holding a NUL matches nothing that can be stored: it is ignored too.
        let non_empty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty() && !v.contains('\0'))
        };
        let date =
            |k: &str| non_empty(k).and_then(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok());
        // A reversed range is kept as given (it matches nothing, and the page says why):
        // what the inputs show is what is applied.
        let (from, to) = (date("from"), date("to"));
        CallFilter {
            search: non_empty("q").map(|q| q.chars().take(MAX_SEARCH).collect()),
            status: non_empty("status")
                .filter(|s| crate::domain::calls::STATUSES.contains(&s.as_str())),
            evaluation: non_empty("evaluation").map(|e| match e.as_str() {
                "none" => EvaluationFilter::Missing,
                _ => EvaluationFilter::Is(e.chars().take(50).collect()),
            }),
            from,
            to,
            page: PageNumber::from_query(non_empty("page").as_deref()),
            per_page: non_empty("per_page")
                .and_then(|p| p.parse().ok())
                .filter(|p| PAGE_SIZES.contains(p))
                .unwrap_or(PAGE_SIZES[0]),
        }
    }

    /// Why the date range cannot match anything, to show next to the To field.
    pub fn range_error(&self) -> Option<&'static str> {
        match (self.from, self.to) {
            (Some(f), Some(t)) if f > t => {
                Some("“To” is before “From”, so no call can match. Swap the dates or clear one.")
            }
            _ => None,
        }
    }

    /// Whether any filter narrows the calls.
    pub fn is_filtered(&self) -> bool {
        self.search.is_some()
            || self.status.is_some()
            || self.evaluation.is_some()
            || self.from.is_some()
            || self.to.is_some()
    }

    /// The search read as a phone number, when it is one.
    pub fn number(&self) -> Option<NumberSearch> {
        self.search.as_deref().and_then(phone::search)
    }

    /// The search read as (the start of) a call id, when it can be one.
    pub fn call_id(&self) -> Option<CallId> {
        self.search.as_deref().and_then(|q| CallId::parse(q).ok())
    }

    /// How many of the narrowing filters (not the search) are set, for the phone's
    /// "Filters" button.
    pub fn narrowing(&self) -> usize {
        [
            self.status.is_some(),
            self.evaluation.is_some(),
            self.from.is_some(),
            self.to.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count()
    }

    /// Calls before this page.
    pub fn offset(&self) -> i64 {
        self.page.offset(self.per_page)
    }

    /// The same filter at its page, or at the last page when `matching` calls end before it.
    pub fn within(mut self, matching: i64) -> Self {
        self.page = self.page.within(matching, self.per_page);
        self
    }

    /// The start of `from`, inclusive.
    pub fn from_time(&self) -> Option<NaiveDateTime> {
        self.from.map(|d| d.and_time(NaiveTime::MIN))
    }

    /// The start of the day after `to`, exclusive.
    pub fn until_time(&self) -> Option<NaiveDateTime> {
        self.to
            .and_then(|d| d.succ_opt())
            .map(|d| d.and_time(NaiveTime::MIN))
    }

    /// The query string for this filter at another page (and page size).
    pub fn query(&self, page: i64, per_page: i64) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(q) = &self.search {
            pairs.push(("q", q.clone()));
        }
        if let Some(s) = &self.status {
            pairs.push(("status", s.clone()));
        }
        match &self.evaluation {
            Some(EvaluationFilter::Is(e)) => pairs.push(("evaluation", e.clone())),
            Some(EvaluationFilter::Missing) => pairs.push(("evaluation", "none".into())),
            None => {}
        }
        if let Some(d) = self.from {
            pairs.push(("from", d.to_string()));
        }
        if let Some(d) = self.to {
            pairs.push(("to", d.to_string()));
        }
        pairs.push(("per_page", per_page.to_string()));
        pairs.push(("page", page.to_string()));
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &[(&str, &str)]) -> CallFilter {
        CallFilter::from_query(|k| q.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn query_values_are_read_leniently_and_written_back() {
        let f = parse(&[
            ("status", "live"),
            ("evaluation", "success"),
            ("from", "2025-01-02"),
            ("to", "2025-01-01"),
            ("page", "3"),
            ("per_page", "50"),
        ]);
        assert_eq!(f.status.as_deref(), Some("live"));
        assert_eq!(f.evaluation, Some(EvaluationFilter::Is("success".into())));
        assert_eq!(
            (f.from.unwrap().to_string(), f.to.unwrap().to_string()),
            ("2025-01-02".into(), "2025-01-01".into()),
            "kept as given, never silently swapped"
        );
        assert!(f.range_error().unwrap().contains("“To” is before “From”"));
        assert_eq!((f.page.get(), f.per_page, f.offset()), (3, 50, 100));
        assert_eq!(
            f.clone().within(60).page.get(),
            2,
            "clamped to the last page"
        );
        assert_eq!(
            f.query(4, 50),
            "status=live&evaluation=success&from=2025-01-02&to=2025-01-01&per_page=50&page=4"
        );
        assert_eq!(f.until_time().unwrap().to_string(), "2025-01-02 00:00:00");

        let d = parse(&[
            ("status", "weird"),
            ("page", "-2"),
            ("per_page", "7"),
            ("from", "nope"),
            ("evaluation", "none"),
        ]);
        assert_eq!(
            (d.status, d.page.get(), d.per_page, d.from),
            (None, 1, 25, None)
        );
        assert_eq!(d.evaluation, Some(EvaluationFilter::Missing));

        let nul = parse(&[
            ("evaluation", "success\u{0}"),
            ("status", "live\u{0}"),
            ("page", "2\u{0}"),
        ]);
        assert_eq!(nul, CallFilter::from_query(|_| None), "ignored");
    }

    #[test]
    fn a_search_is_a_number_or_a_call_id_and_stays_in_the_links() {
        let f = parse(&[("q", " 06 52 42 98 56 "), ("status", "live")]);
        assert_eq!(f.search.as_deref(), Some("06 52 42 98 56"));
        assert_eq!(
            f.number(),
            Some(NumberSearch::AfterCountryCode("652429856".into()))
        );
        assert!(f.call_id().is_none(), "spaces: no id has them");
        assert!(f.is_filtered());
        assert_eq!(f.narrowing(), 1, "the search is not behind the button");
        assert_eq!(
            f.query(2, 25),
            "q=06+52+42+98+56&status=live&per_page=25&page=2"
        );
        let id = parse(&[("q", "call_A-1")]);
        assert_eq!(id.call_id().unwrap().as_str(), "call_A-1");
        assert_eq!(id.number(), None);
        let both = parse(&[("q", "4155550100")]);
        assert!(both.number().is_some() && both.call_id().is_some());
        assert_eq!(parse(&[("q", "   ")]).search, None);
        assert_eq!(
            parse(&[("q", &"9".repeat(500))]).search.unwrap().len(),
            MAX_SEARCH
        );
    }
}
