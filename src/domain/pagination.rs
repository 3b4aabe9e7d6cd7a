//! `limit` and `offset` of the list endpoints, parsed strictly.

use super::Invalid;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    /// Parses the raw query values; absent means the default, anything but a plain integer in
    /// range (`0`, `1001`, `-1`, `abc`, `1.5`, empty) is refused with a message naming it.
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
            Some(s) => parse_int(s).filter(|n| *n >= 0).ok_or_else(|| {
                Invalid::new("offset must be an integer greater than or equal to 0")
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

#[cfg(test)]
mod tests {
    use super::*;

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
        for bad in ["-1", "x", "0.5", ""] {
            assert!(
                Page::parse(None, Some(bad))
                    .unwrap_err()
                    .0
                    .starts_with("offset must be"),
                "{bad:?}"
            );
        }
    }
}
