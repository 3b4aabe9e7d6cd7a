//! Leaked keys: a leak report's list of presented keys, read into the hashes to look up, and
//! the keys found in any text (a log, a diff, a paste) for `callem keys check`.

use serde_json::Value;

use super::api_key::{hash_token, is_well_formed, KeyHash, KEY_SCHEME, RANDOM_CHARS};
use super::Invalid;

/// Most keys one report may list.
pub const MAX_KEYS: usize = 100;
/// Longest string a report may list, in characters: a key has 68; anything much longer is
/// not a key pasted by mistake but noise.
pub const MAX_KEY_CHARS: usize = 200;

/// A leak report, parsed: how many strings it listed, and the hashes of the well-formed keys
/// among them (each once). Malformed strings are counted and otherwise ignored: the answer
/// says nothing about any listed string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakReport {
    pub received: usize,
    pub hashes: Vec<KeyHash>,
}

impl LeakReport {
    /// Reads `{"keys": ["ck_live_…", …]}`: 1 to [`MAX_KEYS`] strings of at most
    /// [`MAX_KEY_CHARS`] characters. The error names what is wrong.
    pub fn parse(body: &Value) -> Result<Self, Invalid> {
        let Some(object) = body.as_object() else {
            return Err(Invalid::new(
                "body must be a JSON object with keys, an array of 1 to 100 API keys",
            ));
        };
        let Some(keys) = object.get("keys") else {
            return Err(Invalid::new(
                "keys is required: an array of 1 to 100 API keys",
            ));
        };
        let Some(keys) = keys.as_array() else {
            return Err(Invalid::new("keys must be an array of 1 to 100 strings"));
        };
        if keys.is_empty() {
            return Err(Invalid::new("keys must hold at least 1 key"));
        }
        if keys.len() > MAX_KEYS {
            return Err(Invalid::new(format!(
                "keys must hold at most {MAX_KEYS} keys (it has {})",
                keys.len()
            )));
        }
        let mut hashes: Vec<KeyHash> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let Some(key) = key.as_str() else {
                return Err(Invalid::new(format!("keys[{i}] must be a string")));
            };
            if key.chars().count() > MAX_KEY_CHARS {
                return Err(Invalid::new(format!(
                    "keys[{i}] must be at most {MAX_KEY_CHARS} characters"
                )));
            }
            if is_well_formed(key) {
                let hash = hash_token(key);
                if !hashes.contains(&hash) {
                    hashes.push(hash);
                }
            }
        }
        Ok(LeakReport {
            received: keys.len(),
            hashes,
        })
    }
}

/// Every key in `text` — `ck_live_` and 60 of `[a-z0-9]` not followed by another of them —
/// each once, in the order of first appearance.
pub fn find_keys(text: &str) -> Vec<&str> {
    let mut found: Vec<&str> = Vec::new();
    // Linear in the text, however many distinct keys it holds.
    let mut seen = std::collections::HashSet::new();
    for (at, _) in text.match_indices(KEY_SCHEME) {
        let tail = &text.as_bytes()[at + KEY_SCHEME.len()..];
        let run = tail
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            .count();
        if run == RANDOM_CHARS {
            // The run is ASCII, so the slice ends on a character boundary.
            let key = &text[at..at + KEY_SCHEME.len() + RANDOM_CHARS];
            if seen.insert(key) {
                found.push(key);
            }
        }
    }
    found
}

/// A text file's bytes as text: UTF-16 (little or big endian) when it starts with that byte
/// order mark, as Windows tools write logs and exports; otherwise UTF-8 (its BOM dropped),
/// with any invalid byte replaced, so a log with a stray byte is still searched.
pub fn decode_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    let utf16 = |rest: &[u8], from: fn([u8; 2]) -> u16| {
        let units = rest.chunks_exact(2).map(|p| from([p[0], p[1]]));
        std::borrow::Cow::Owned(
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect(),
        )
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest),
        _ => String::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::api_key::ApiKeySecret;
    use proptest::prelude::*;
    use serde_json::json;

    fn key(c: char) -> String {
        format!("{KEY_SCHEME}{}", c.to_string().repeat(RANDOM_CHARS))
    }

    #[test]
    fn a_report_counts_every_string_and_hashes_each_well_formed_key_once() {
        let (a, b) = (key('a'), key('b'));
        let body = json!({"keys": [a, "nope", b, a, ""]});
        let report = LeakReport::parse(&body).unwrap();
        assert_eq!(report.received, 5);
        assert_eq!(report.hashes, vec![hash_token(&a), hash_token(&b)]);
    }

    #[test]
    fn malformed_reports_are_refused_naming_the_problem() {
        let cases = [
            (
                json!([key('a')]),
                "body must be a JSON object with keys, an array of 1 to 100 API keys",
            ),
            (json!({}), "keys is required: an array of 1 to 100 API keys"),
            (
                json!({"keys": key('a')}),
                "keys must be an array of 1 to 100 strings",
            ),
            (json!({"keys": []}), "keys must hold at least 1 key"),
            (
                json!({"keys": vec!["x"; 101]}),
                "keys must hold at most 100 keys (it has 101)",
            ),
            (json!({"keys": ["x", 3]}), "keys[1] must be a string"),
            (
                json!({"keys": ["é".repeat(201)]}),
                "keys[0] must be at most 200 characters",
            ),
        ];
        for (body, message) in cases {
            assert_eq!(LeakReport::parse(&body).unwrap_err().0, message, "{body}");
        }
        assert!(LeakReport::parse(&json!({"keys": ["é".repeat(200)]})).is_ok());
        assert!(LeakReport::parse(&json!({"keys": vec!["x"; 100]})).is_ok());
    }

    #[test]
    fn keys_are_found_once_in_order_of_first_appearance() {
        let (a, b) = (key('a'), key('b'));
        let text = format!("x{b}\nAuthorization: Bearer {a}, then {b} again;{a}");
        assert_eq!(find_keys(&text), vec![b.as_str(), a.as_str()]);
        assert!(find_keys("no keys here, just ck_live_ and ck_live_abc").is_empty());
        assert!(find_keys("").is_empty());
    }

    #[test]
    fn utf16_text_with_a_byte_order_mark_is_read_as_utf16() {
        let a = key('a');
        let text = format!("log line: Bearer {a}\r\n");
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode_text(&le), text);
        assert_eq!(decode_text(&be), text);
        let bom8: Vec<u8> = [0xEF, 0xBB, 0xBF].into_iter().chain(text.bytes()).collect();
        assert_eq!(decode_text(&bom8), text);
        assert_eq!(decode_text(b"a\xFFb"), "a\u{FFFD}b");
    }

    #[test]
    fn a_longer_run_is_no_key_and_upper_case_ends_one() {
        let a = key('a');
        assert!(find_keys(&format!("{a}0")).is_empty());
        assert_eq!(find_keys(&format!("{a}X")), vec![a.as_str()]);
        assert_eq!(find_keys(&format!("ck_live_{a}")), vec![a.as_str()]);
        assert_eq!(find_keys(&format!("é{a}é")), vec![a.as_str()]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn a_key_in_any_text_is_found(before in "(?s).{0,40}", after in "(?s).{0,40}") {
            let secret = ApiKeySecret::generate();
            let k = secret.expose_secret();
            // Whatever precedes it; what follows must not continue the key's alphabet.
            let after: String = after
                .trim_start_matches(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                .to_owned();
            let text = format!("{before}{k}{after}");
            prop_assert!(find_keys(&text).contains(&k));
        }

        #[test]
        fn runs_of_59_or_61_are_not_keys(
            short in "[a-z0-9]{59}",
            long in "[a-z0-9]{61}",
            around in "[^a-z0-9]{0,5}",
        ) {
            let text = format!("{around}{KEY_SCHEME}{short}{around} {KEY_SCHEME}{long}{around}");
            prop_assert!(find_keys(&text).is_empty());
        }
    }
}
