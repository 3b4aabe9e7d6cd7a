//! Paging: the API's `limit` and `offset`, parsed strictly, and the dashboard's page numbers,
//! read leniently and kept within the pages there are.

use std::num::IntErrorKind;

use super::Invalid;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;
/// The largest offset accepted: far beyond any project's rows, and small enough that
/// `offset + limit` never overflows anywhere.
pub const MAX_OFFSET: i64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    /// Parses the raw query values; absent means the default, anything but a plain integer in
    /// range (`0`, `1001`, `-1`, `abc`, `1.5`, empty, an offset over [`MAX_OFFSET`]) is
    /// refused with a message naming it.
    pub fn parse(limit: Option<&str>, offset: Option<&str>) -> Result<Page, Invalid> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(s) => parse_int(s)
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    Invalid::new(format!(
                        "limit must be an integer between 1 and {MAX_LIMIT}"
                    ))
                })?,
        };
        let offset = match offset {
            None => 0,
            Some(s) => parse_int(s)
                .filter(|n| (0..=MAX_OFFSET).contains(n))
                .ok_or_else(|| {
                    Invalid::new(format!(
                        "offset must be an integer between 0 and {MAX_OFFSET}"
                    ))
                })?,
        };
        Ok(Page { limit, offset })
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 18 {
        return None;
    }
    s.parse().ok()
}

/// A dashboard page number from a link, read leniently: anything unreadable, zero or negative
/// is the first page, and a number too large for any count is the largest one, which
/// [`PageNumber::within`] then brings back to the last page. Nothing huge or negative reaches
/// the database or the "Showing" line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageNumber(i64);

impl PageNumber {
    pub const FIRST: PageNumber = PageNumber(1);

    pub fn from_query(raw: Option<&str>) -> PageNumber {
        match raw.map(str::trim).map(str::parse::<i64>) {
            Some(Ok(n)) if n >= 1 => PageNumber(n),
            Some(Err(e)) if *e.kind() == IntErrorKind::PosOverflow => PageNumber(i64::MAX),
            _ => PageNumber::FIRST,
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// How many pages `total` items fill, `per_page` a page; an empty list has one page.
    pub fn count(total: i64, per_page: i64) -> i64 {
        let (total, per_page) = (total.max(0), per_page.max(1));
        (total / per_page + i64::from(total % per_page != 0)).max(1)
    }

    /// This page, or the last page when it is beyond it.
    pub fn within(self, total: i64, per_page: i64) -> PageNumber {
        PageNumber(self.0.min(Self::count(total, per_page)))
    }

    /// Items before this page.
    pub fn offset(self, per_page: i64) -> i64 {
        (self.0 - 1).saturating_mul(per_page.max(1))
    }
}

impl Default for PageNumber {
    fn default() -> Self {
        PageNumber::FIRST
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            Page::parse(None, None).unwrap(),
            Page {
                limit: 100,
                offset: 0
            }
        );
        assert_eq!(
            Page::parse(Some("1"), Some("0")).unwrap(),
            Page {
                limit: 1,
                offset: 0
            }
        );
        assert_eq!(
            Page::parse(Some("1000"), Some("5000")).unwrap(),
            Page {
                limit: 1000,
                offset: 5000
            }
        );
        assert_eq!(
            Page::parse(None, Some("1000000000")).unwrap().offset,
            MAX_OFFSET
        );
        for bad in [
            "0",
            "1001",
            "-1",
            "abc",
            "1.5",
            "",
            " 5",
            "+5",
            "1e3",
            "99999999999999999999",
        ] {
            assert_eq!(
                Page::parse(Some(bad), None).unwrap_err().0,
                "limit must be an integer between 1 and 1000",
                "{bad:?}"
            );
        }
        for bad in [
            "-1",
            "x",
            "0.5",
            "",
            "1000000001",
            "999999999999999999",
            "9223372036854775807",
            "9223372036854775808",
            "99999999999999999999",
            "-9223372036854775808",
        ] {
            assert_eq!(
                Page::parse(None, Some(bad)).unwrap_err().0,
                "offset must be an integer between 0 and 1000000000",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn page_numbers_are_read_leniently_and_kept_within_the_pages() {
        let read = |s: &str| PageNumber::from_query(Some(s)).get();
        assert_eq!(read("3"), 3);
        assert_eq!(read(" 3 "), 3);
        for first in ["", "abc", "0", "-5", "1.5", "-99999999999999999999"] {
            assert_eq!(read(first), 1, "{first:?}");
        }
        assert_eq!(PageNumber::from_query(None), PageNumber::FIRST);
        assert_eq!(read("99999999999999999999"), i64::MAX);
        assert_eq!(read("9223372036854775807"), i64::MAX);

        assert_eq!(PageNumber::count(0, 25), 1);
        assert_eq!(PageNumber::count(25, 25), 1);
        assert_eq!(PageNumber::count(26, 25), 2);
        let huge = PageNumber::from_query(Some("99999999999999999999"));
        assert_eq!(huge.within(60, 25).get(), 3);
        assert_eq!(huge.within(60, 25).offset(25), 50);
        assert_eq!(huge.within(0, 25).offset(25), 0);
        assert_eq!(
            huge.offset(100),
            i64::MAX,
            "saturates, never wraps negative"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_limit_or_offset_string_panics(limit in any::<Option<String>>(), offset in any::<Option<String>>()) {
            let _ = Page::parse(limit.as_deref(), offset.as_deref());
        }

        #[test]
        fn valid_values_round_trip(limit in 1..=MAX_LIMIT, offset in 0..=MAX_OFFSET) {
            let page = Page::parse(Some(&limit.to_string()), Some(&offset.to_string())).unwrap();
            prop_assert_eq!(page, Page { limit, offset });
        }

        #[test]
        fn out_of_range_values_are_refused(
            low in i64::MIN..=0,
            high in (MAX_LIMIT + 1)..=i64::MAX,
            negative in i64::MIN..0,
            beyond in (MAX_OFFSET + 1)..=i64::MAX,
        ) {
            prop_assert!(Page::parse(Some(&low.to_string()), None).is_err());
            prop_assert!(Page::parse(Some(&high.to_string()), None).is_err());
            prop_assert!(Page::parse(None, Some(&negative.to_string())).is_err());
            prop_assert!(Page::parse(None, Some(&beyond.to_string())).is_err());
        }

        #[test]
        fn any_page_number_lands_on_an_existing_page(
            raw in prop_oneof![any::<String>(), any::<i64>().prop_map(|n| n.to_string()), "[0-9]{15,30}"],
            total in 0i64..1_000_000,
            per_page in prop_oneof![Just(25i64), Just(50), Just(100)],
        ) {
            let page = PageNumber::from_query(Some(&raw)).within(total, per_page);
            prop_assert!(page.get() >= 1);
            prop_assert!(page.get() <= PageNumber::count(total, per_page));
            let offset = page.offset(per_page);
            prop_assert!(offset >= 0);
            prop_assert!(offset == 0 || offset < total);
        }
    }
}
