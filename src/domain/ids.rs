//! Opaque ids: 24 lowercase hex characters from the operating system's CSPRNG.

use rand::rngs::OsRng;
use rand::RngCore;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_lowercase_hex_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert!(looks_like_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(!looks_like_id("ABCDEF0123456789abcdef01"));
        assert!(!looks_like_id("abc"));
    }
}
