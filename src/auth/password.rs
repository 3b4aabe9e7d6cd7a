//! Password hashing with argon2id. Verification of an unknown user still runs a full hash,
//! so a wrong email and a wrong password take the same time.

use std::sync::LazyLock;
use std::time::Duration;

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

/// Too many passwords are being hashed at once; the request may be retried shortly.
#[derive(Debug, thiserror::Error)]
#[error("too many sign-ins at once")]
pub struct Busy;

/// At most one argon2 computation per core at a time: each one takes ~19 MiB and a core for
/// tens of milliseconds, so unbounded concurrency only costs memory. A request waits up to
/// [`HashSlots::WAIT`] for a slot, then gets [`Busy`] (a 503 with `Retry-After`).
#[derive(Debug)]
pub struct HashSlots {
    permits: tokio::sync::Semaphore,
}

impl Default for HashSlots {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        HashSlots::new(cores)
    }
}

impl HashSlots {
    pub const WAIT: Duration = Duration::from_secs(3);

    pub fn new(slots: usize) -> Self {
        HashSlots {
            permits: tokio::sync::Semaphore::new(slots.max(1)),
        }
    }

    /// Runs `work` (a hash or a verification) on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = tokio::time::timeout(Self::WAIT, self.permits.acquire())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let out = tokio::task::spawn_blocking(work).await.map_err(|_| Busy);
        drop(permit);
        out
    }
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
