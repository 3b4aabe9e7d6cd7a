//! API keys: generation, the redacted secret type, the displayed prefix, the stored hash,
//! and the key's name.

use std::fmt;

use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::Invalid;

/// Every key starts with this.
pub const KEY_SCHEME: &str = "ck_live_";
/// Random characters after the scheme.
pub const RANDOM_CHARS: usize = 60;
/// Characters of the key kept and displayed for identification.
pub const PREFIX_CHARS: usize = 12;
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// The largest multiple of 36 that fits in a byte: bytes at or above it are redrawn, so every
/// character is equally likely (no modulo bias).
const ACCEPT_BELOW: u8 = 252;

/// A full API key. It exists only between generation and the one response that reveals it;
/// `Debug` and `Display` never show it.
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// Draws a new key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut key = String::with_capacity(KEY_SCHEME.len() + RANDOM_CHARS);
        key.push_str(KEY_SCHEME);
        let mut buf = [0u8; 96];
        while key.len() < KEY_SCHEME.len() + RANDOM_CHARS {
            OsRng.fill_bytes(&mut buf);
            for &b in buf.iter().filter(|&&b| b < ACCEPT_BELOW) {
                if key.len() == KEY_SCHEME.len() + RANDOM_CHARS {
                    break;
                }
                key.push(ALPHABET[usize::from(b % 36)] as char);
            }
        }
        ApiKeySecret(key)
    }

    /// The full key, for the reveal response only.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The first 12 characters, stored and shown in the list.
    pub fn prefix(&self) -> String {
        self.0[..PREFIX_CHARS].to_owned()
    }

    /// The hex SHA-256 of the whole key, the only form that is stored.
    pub fn hash(&self) -> KeyHash {
        hash_token(&self.0)
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}<redacted>)", &self.0[..PREFIX_CHARS])
    }
}

impl fmt::Display for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}<redacted>", &self.0[..PREFIX_CHARS])
    }
}

/// Hex SHA-256 of a presented token.
pub fn hash_token(token: &str) -> KeyHash {
    KeyHash(hex::encode(Sha256::digest(token.as_bytes())))
}

/// The SHA-256 of a key, hex: all that is stored of it, and what a presented key is looked up
/// by (through a unique index).
#[derive(Debug, Clone, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct KeyHash(String);

impl KeyHash {
    /// A hash read back from the database.
    pub fn from_stored(s: String) -> Self {
        KeyHash(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a presented token has the key's exact shape: `ck_live_` + 60 of `[a-z0-9]`.
pub fn is_well_formed(token: &str) -> bool {
    token.len() == KEY_SCHEME.len() + RANDOM_CHARS
        && token.starts_with(KEY_SCHEME)
        && token[KEY_SCHEME.len()..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The prefix as the list shows it: `ck_live_a1b2••••••••`.
pub fn masked_prefix(prefix: &str) -> String {
    format!("{prefix}••••••••")
}

/// A key's label: trimmed, 1 to 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let s = input.trim();
        if s.is_empty() {
            return Err(Invalid::new("Name is required."));
        }
        let n = s.chars().count();
        if n > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "Name must be at most {} characters (it has {n}).",
                Self::MAX_CHARS
            )));
        }
        super::plain_line(s, "Name")?;
        Ok(ApiKeyName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        for _ in 0..200 {
            let k = ApiKeySecret::generate();
            assert!(is_well_formed(k.expose_secret()), "{}", k.expose_secret());
            assert_eq!(k.expose_secret().len(), 68);
            assert_eq!(k.prefix(), &k.expose_secret()[..12]);
            assert_eq!(k.hash().as_str().len(), 64);
        }
    }

    #[test]
    fn every_character_of_the_alphabet_appears_roughly_evenly() {
        let mut counts = [0usize; 36];
        for _ in 0..600 {
            let k = ApiKeySecret::generate();
            for b in k.expose_secret()[8..].bytes() {
                let i = ALPHABET.iter().position(|&a| a == b).unwrap();
                counts[i] += 1;
            }
        }
        // 36,000 draws: each character expected 1,000 times; a biased generator (e.g. modulo
        // over 256) would put the first 4 characters ~11% higher.
        for (i, c) in counts.iter().enumerate() {
            assert!(
                (850..1150).contains(c),
                "char {} drawn {c} times",
                ALPHABET[i] as char
            );
        }
    }

    #[test]
    fn debug_and_display_never_show_the_key() {
        let k = ApiKeySecret::generate();
        let secret_tail = &k.expose_secret()[12..];
        assert!(!format!("{k:?}").contains(secret_tail));
        assert!(!format!("{k}").contains(secret_tail));
    }

    #[test]
    fn malformed_tokens_are_recognised() {
        let good = format!("ck_live_{}", "a1".repeat(30));
        assert!(is_well_formed(&good));
        assert!(!is_well_formed(&good[..67]));
        assert!(!is_well_formed(&format!("{good}x")));
        assert!(!is_well_formed(&good.replace("ck_live_", "ck_test_")));
        assert!(!is_well_formed(&format!("ck_live_{}", "A".repeat(60))));
        assert!(!is_well_formed(&format!("ck_live_{}é", "a".repeat(58))));
        assert!(!is_well_formed(""));
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash_token("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ApiKeyName::parse("  CRM  ").unwrap().as_str(), "CRM");
        assert_eq!(ApiKeyName::parse(" ").unwrap_err().0, "Name is required.");
        assert!(ApiKeyName::parse(&"é".repeat(100)).is_ok());
        assert!(ApiKeyName::parse(&"é".repeat(101)).is_err());
        assert!(ApiKeyName::parse("a\u{0}b").is_err());
        assert!(ApiKeyName::parse("CRM \u{202E}dorp").is_err());
        assert_eq!(masked_prefix("ck_live_a1b2"), "ck_live_a1b2••••••••");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_token_makes_the_format_check_panic(token in any::<String>(), tail in ".{0,70}") {
            let _ = is_well_formed(&token);
            // Near misses: the scheme, then anything (multi-byte characters included).
            let near = format!("{KEY_SCHEME}{tail}");
            prop_assert_eq!(
                is_well_formed(&near),
                tail.len() == RANDOM_CHARS
                    && tail.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            );
            let _ = ApiKeyName::parse(&token);
        }

        #[test]
        fn keys_of_the_alphabet_are_well_formed_and_others_not(
            random in "[a-z0-9]{60}",
            at in 0usize..RANDOM_CHARS,
            wrong in "[^a-z0-9]",
        ) {
            let key = format!("{KEY_SCHEME}{random}");
            prop_assert!(is_well_formed(&key));
            let mut broken = random.clone();
            broken.replace_range(at..at + 1, &wrong);
            let broken = format!("{KEY_SCHEME}{broken}");
            prop_assert!(!is_well_formed(&broken));
            prop_assert!(!is_well_formed(&key[..key.len() - 1]));
        }

        #[test]
        fn generated_keys_are_well_formed_and_hash_to_their_hash(_n in 0u8..8) {
            let k = ApiKeySecret::generate();
            prop_assert!(is_well_formed(k.expose_secret()));
            prop_assert_eq!(k.hash(), hash_token(k.expose_secret()));
            prop_assert!(k.expose_secret().starts_with(&k.prefix()));
        }
    }
}
