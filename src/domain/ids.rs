//! Ids: new ones are 24 lowercase hex characters from the operating system's CSPRNG; an id
//! read from a request is an [`Id`] only if a row could have it.

use rand::rngs::OsRng;
use rand::RngCore;

use super::Invalid;

/// A new random id (96 bits), as used for every row and in the public API.
pub fn new_id() -> String {
    let mut bytes = [0u8; 12];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether `s` has the shape of an id this server hands out; anything else cannot exist.
pub fn looks_like_id(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The longest id a row can have: ours have 24 characters, imported calls bring up to 64.
pub const MAX_ID_CHARS: usize = 64;

/// An id that a stored row can have: 1 to 64 ASCII letters, digits, `-` or `_` (the ids this
/// server makes, and those an import may bring). Anything else, a NUL above all (which
/// PostgreSQL refuses with an error), names no row: a request for it is answered "not found"
/// without asking the database.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Id(String);

impl Id {
    pub fn parse(s: &str) -> Result<Id, Invalid> {
        let valid = !s.is_empty()
            && s.len() <= MAX_ID_CHARS
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Id(s.to_owned()))
        } else {
            Err(Self::refusal())
        }
    }

    /// Why a value is not an id (also for a value that is not even a string).
    pub fn refusal() -> Invalid {
        Invalid::new(format!(
            "id must be a string of 1 to {MAX_ID_CHARS} letters, digits, '-' or '_'"
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_24_lowercase_hex_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert!(looks_like_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(!looks_like_id("ABCDEF0123456789abcdef01"));
        assert!(!looks_like_id("abc"));
    }

    #[test]
    fn ids_that_no_row_can_have_are_refused() {
        assert_eq!(Id::parse(&new_id()).unwrap().as_str().len(), 24);
        assert_eq!(Id::parse("call_A-1").unwrap().into_string(), "call_A-1");
        assert!(Id::parse(&"a".repeat(64)).is_ok());
        for bad in [
            "",
            "abc\0",
            "\0",
            "a b",
            "é",
            "a/b",
            "a%00",
            &"a".repeat(65),
        ] {
            assert_eq!(
                Id::parse(bad).unwrap_err().0,
                "id must be a string of 1 to 64 letters, digits, '-' or '_'",
                "{bad:?}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_string_with_a_nul_is_not_an_id(a in ".{0,30}", b in ".{0,30}") {
            let with_nul = format!("{a}\0{b}");
            prop_assert!(Id::parse(&with_nul).is_err());
        }

        #[test]
        fn generated_ids_parse(_n in 0u8..4) {
            let id = new_id();
            prop_assert_eq!(Id::parse(&id).unwrap().into_string(), id);
        }
    }
}
