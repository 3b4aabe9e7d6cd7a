//! One-time tokens (the setup link, invitations): 32 bytes from the OS CSPRNG, shown once where they are
//! made, stored only as their SHA-256.

use std::fmt;

use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh token; `Debug` never shows it.
pub struct OneTimeToken(String);

impl OneTimeToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        OneTimeToken(hex::encode(bytes))
    }

    /// The token itself, for the one place that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored.
    pub fn hash(&self) -> String {
        hash(&self.0)
    }
}

impl fmt::Debug for OneTimeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeToken(<redacted>)")
    }
}

/// The SHA-256 of a token, hex: what is stored, and what a presented token is looked up by.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The stored form of a presented token, to look it up by (when it has a token's shape: 64
/// lowercase hex characters; anything else names no row).
pub fn lookup_hash(presented: &str) -> Option<String> {
    let shaped = presented.len() == 64
        && presented
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    shaped.then(|| hash(presented))
}

/// Whether a presented token is the one whose hash is stored (compared in constant time).
pub fn matches(presented: &str, stored_hash: &str) -> bool {
    use subtle::ConstantTimeEq;
    hash(presented)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_itself_matches_its_hash() {
        let t = OneTimeToken::generate();
        assert_eq!(t.expose().len(), 64);
        assert!(matches(t.expose(), &t.hash()));
        assert!(!matches("", &t.hash()));
        assert!(!matches(&t.hash(), &t.hash()));
        assert!(!format!("{t:?}").contains(t.expose()));
        assert_eq!(lookup_hash(t.expose()), Some(t.hash()));
        assert_eq!(lookup_hash(&t.expose().to_uppercase()), None);
        assert_eq!(lookup_hash("abc"), None);
    }
}
