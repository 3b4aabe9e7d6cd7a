//! Phone numbers as people read and type them. Calls store what the import was given
//! (E.164, `+33652429856`); the dashboard shows it grouped (`+33 6 52 42 98 56`) and finds it
//! from whatever a person types: `06 52 42 98 56`, `+33 6 52…`, `0033652…`, `(415) 555-0100`.

use phonenumber::Mode;

/// A stored number grouped for reading, the way its country writes it internationally; a
/// value that is not a number libphonenumber knows is shown as stored.
pub fn display(stored: &str) -> String {
    let Ok(number) = phonenumber::parse(None, stored) else {
        return stored.to_owned();
    };
    let grouped = number.format().mode(Mode::International).to_string();
    // Never show other digits than the stored ones (a formatting rule can add or drop some,
    // e.g. an extension or a national prefix): then the stored value is what is true.
    if digits(&grouped) == digits(stored) {
        grouped
    } else {
        stored.to_owned()
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// What a typed phone number is looked for as, in the stored numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberSearch {
    /// Typed with its country (`+33…`, `0033…`): the stored E.164 value starts with these.
    International(String),
    /// Typed the national way, with a trunk `0` (`06 52 42 98 56`, `06 12`): the digits after
    /// the `0` come right after the stored value's country code (1 to 3 digits).
    AfterCountryCode(String),
    /// Typed without a country or a trunk `0` (`(415) 555-0100`, `98 56`): these digits
    /// appear anywhere in the stored value (a US number, or the last digits someone recalls).
    National(String),
}

/// Country codes of one digit (North America's `+1`, Russia and Kazakhstan's `+7`). Country
/// codes are prefix-free, so a stored number starting with one of these has no longer code.
const ONE_DIGIT_COUNTRY_CODES: [char; 2] = ['1', '7'];

/// One `LIKE` pattern a stored E.164 value may match (digits, `+`, `_` and `%` only: nothing to
/// escape), unless it also matches one of `unless`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPattern {
    pub like: String,
    pub unless: Vec<String>,
}

impl NumberSearch {
    /// The patterns of stored E.164 values this search finds; any one matching is a match.
    pub fn patterns(&self) -> Vec<NumberPattern> {
        let plain = |like: String| NumberPattern {
            like,
            unless: Vec::new(),
        };
        match self {
            NumberSearch::International(d) => vec![plain(format!("+{d}%"))],
            // Right after a one-digit code, or after two or three digits that do not start
            // with one (`+1 646-121-…` is not `+164 6121…`).
            NumberSearch::AfterCountryCode(d) => {
                let mut patterns: Vec<NumberPattern> = ONE_DIGIT_COUNTRY_CODES
                    .iter()
                    .map(|cc| plain(format!("+{cc}{d}%")))
                    .collect();
                for len in 2..=3 {
                    patterns.push(NumberPattern {
                        like: format!("+{}{d}%", "_".repeat(len)),
                        unless: ONE_DIGIT_COUNTRY_CODES
                            .iter()
                            .map(|cc| format!("+{cc}%"))
                            .collect(),
                    });
                }
                patterns
            }
            NumberSearch::National(d) => vec![plain(format!("%{d}%"))],
        }
    }
}

/// Reads a search as a phone number: digits with the separators people type (spaces, dots,
/// dashes, slashes, parentheses) and an optional leading `+` or `00`. Anything else (letters,
/// another sign) is not a number: `None`.
///
/// There is no default region: a national number typed with its trunk `0` is matched by the
/// digits after the `0` right after any country code (what follows the country code in E.164
/// in the countries that use one), so `06 12` finds `+33 6 12…` and not `+1 646-121-…`; one
/// typed without (the US has no trunk prefix, or the last digits) is matched anywhere.
pub fn search(typed: &str) -> Option<NumberSearch> {
    let typed = typed.trim();
    let compact: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-' | '/' | '(' | ')'))
        .collect();
    let (international, rest) = if let Some(rest) = compact.strip_prefix('+') {
        (true, rest)
    } else if let Some(rest) = compact.strip_prefix("00") {
        (true, rest)
    } else {
        (false, compact.as_str())
    };
    if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if international {
        // A whole number is normalised by libphonenumber (`+33 (0)6 52 42 98 56` drops the
        // `(0)`); a part of one is looked for as typed.
        let whole = phonenumber::parse(None, format!("+{rest}"))
            .ok()
            .filter(phonenumber::PhoneNumber::is_valid)
            .map(|n| digits(&n.format().mode(Mode::E164).to_string()));
        return Some(NumberSearch::International(
            whole.unwrap_or_else(|| rest.to_owned()),
        ));
    }
    // A trunk `0` goes, when enough is left to be worth matching.
    Some(match rest.strip_prefix('0') {
        Some(after) if after.len() >= 2 => NumberSearch::AfterCountryCode(after.to_owned()),
        _ => NumberSearch::National(rest.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_numbers_are_grouped_for_reading() {
        assert_eq!(display("+33652429856"), "+33 6 52 42 98 56");
        assert_eq!(display("+14155550100"), "+1 415-555-0100");
        assert_eq!(display("+447911123456"), "+44 7911 123456");
        // Not a number libphonenumber can read: as stored.
        assert_eq!(display("anonymous"), "anonymous");
        assert_eq!(display("+999"), "+999");
        assert_eq!(display(""), "");
    }

    #[test]
    fn a_national_number_is_looked_for_right_after_a_country_code() {
        let like = |pattern: &str, value: &str| {
            // LIKE with `_` and `%` only, as the patterns use them.
            let re = format!(
                "^{}$",
                regex_lite::escape(pattern)
                    .replace('_', ".")
                    .replace('%', ".*")
            );
            regex_lite::Regex::new(&re).unwrap().is_match(value)
        };
        let finds = |typed: &str, stored: &str| {
            search(typed)
                .unwrap()
                .patterns()
                .iter()
                .any(|p| like(&p.like, stored) && !p.unless.iter().any(|u| like(u, stored)))
        };
        assert!(finds("06 12", "+33612345678"));
        assert!(finds("06 52 42 98 56", "+33652429856"));
        assert!(finds("07911 123456", "+447911123456"));
        assert!(finds("06 12", "+352612345"), "a 3-digit country code");
        assert!(!finds("06 12", "+33661926129"), "612 later in the number");
        assert!(
            !finds("06 12", "+16461213582"),
            "+1 is the whole country code"
        );
        assert!(finds("06 12", "+1612555010"), "one-digit code");
        assert!(finds("(646) 121", "+16461213582"));
        assert!(finds("35 82", "+16461213582"), "the last digits");
    }

    #[test]
    fn typed_numbers_are_read_in_every_usual_format() {
        use NumberSearch::*;
        let international = International("33652429856".into());
        for typed in [
            "+33 6 52 42 98 56",
            "+33652429856",
            "0033 6 52 42 98 56",
            "+33 (0)6 52 42 98 56",
            " +33.6.52.42.98.56 ",
        ] {
            assert_eq!(search(typed), Some(international.clone()), "{typed:?}");
        }
        assert_eq!(search("+33 6 52"), Some(International("33652".into())));
        assert_eq!(
            search("06 52 42 98 56"),
            Some(AfterCountryCode("652429856".into()))
        );
        assert_eq!(search("06 12"), Some(AfterCountryCode("612".into())));
        assert_eq!(
            search("(415) 555-0100"),
            Some(National("4155550100".into()))
        );
        assert_eq!(search("98 56"), Some(National("9856".into())));
        assert_eq!(search("0"), Some(National("0".into())), "too short to drop");
        assert_eq!(
            search("06"),
            Some(National("06".into())),
            "too short to drop"
        );
        for not_a_number in ["", "  ", "+", "00", "c001", "abc", "12a", "+33 6 52 x", "%"] {
            assert_eq!(search(not_a_number), None, "{not_a_number:?}");
        }
    }
}
