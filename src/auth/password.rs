//! Password hashing with argon2id. Verification of an unknown user still runs a full hash,
//! so a wrong email and a wrong password take the same time.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::domain::account::Password;

/// Hashes a password (PHC string, argon2id with the crate's recommended parameters).
pub fn hash(password: &Password) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("password hashing failed: {e}"))
}

// A hash of a random password, verified against when the email is unknown.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(crate::domain::ids::new_id().as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// Checks `candidate` against the stored hash; with no stored hash (unknown email) it does
/// the same work and returns false. Blocking: call it off the async executor.
pub fn verify(candidate: &str, stored_hash: Option<&str>) -> bool {
    let (hash, known) = match stored_hash {
        Some(h) => (h, true),
        None => (DUMMY_HASH.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(candidate.as_bytes(), &parsed)
        .is_ok();
    ok && known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let p = Password::parse("a long enough password").unwrap();
        let h = hash(&p).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("a long enough password", Some(&h)));
        assert!(!verify("a long enough passwordX", Some(&h)));
        assert!(!verify("a long enough password", None));
        assert!(!verify("anything", Some("not a hash")));
    }
}
