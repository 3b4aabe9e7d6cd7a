//! A webhook's signing secret: `whsec_` and the base64 of 32 bytes from the OS CSPRNG, as
//! Standard Webhooks writes it. Stored only sealed ([`Sealer`]: AES-256-GCM under a key derived
//! from the server's secret key), shown to Owners and Admins only through Reveal.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "whsec_";
const SECRET_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;

/// A signing secret's bytes; `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// A new secret from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        OsRng.fill_bytes(&mut bytes);
        SigningSecret(bytes)
    }

    /// `whsec_…`: the form shown on Reveal and printed by `callem webhooks create`.
    pub fn to_whsec(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// From the `whsec_…` form (as a receiver's verifier reads it).
    pub fn from_whsec(s: &str) -> Option<Self> {
        let b64 = s.strip_prefix(PREFIX).unwrap_or(s);
        STANDARD
            .decode(b64)
            .ok()
            .filter(|b| !b.is_empty())
            .map(SigningSecret)
    }

    /// The decoded bytes the HMACs are keyed with.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// A sealed secret that cannot be opened: the server's secret key changed since it was
/// sealed (or the row was altered).
#[derive(Debug, thiserror::Error)]
#[error("the webhook's secret cannot be opened: was CALLEM_SECRET_KEY changed?")]
pub struct Unsealable;

/// Seals and opens signing secrets under a key derived from the server's secret key
/// (`CALLEM_SECRET_KEY`, else the one the database keeps).
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    /// From the server's secret key material; the label keeps this key apart from the session
    /// key derived from the same material.
    pub fn from_material(material: &str) -> Self {
        let key = Sha256::new()
            .chain_update(b"callem webhook secrets v1\0")
            .chain_update(material.as_bytes())
            .finalize();
        Sealer {
            cipher: Aes256Gcm::new(&key),
        }
    }

    /// `base64(nonce ‖ ciphertext ‖ tag)`, a fresh random nonce each time.
    pub fn seal(&self, secret: &SigningSecret) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let mut out = nonce.to_vec();
        // Encrypting a 32-byte buffer in memory cannot fail (only oversized inputs can).
        if let Ok(ct) = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), secret.bytes())
        {
            out.extend(ct);
        }
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<SigningSecret, Unsealable> {
        let raw = STANDARD.decode(sealed).map_err(|_| Unsealable)?;
        if raw.len() <= NONCE_BYTES {
            return Err(Unsealable);
        }
        let (nonce, ct) = raw.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map(SigningSecret)
            .map_err(|_| Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_whsec_and_32_random_bytes() {
        let a = SigningSecret::generate();
        let b = SigningSecret::generate();
        assert_ne!(a, b);
        let shown = a.to_whsec();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(SigningSecret::from_whsec(&shown), Some(a.clone()));
        assert_eq!(a.bytes().len(), 32);
        assert!(!format!("{a:?}").contains(&shown[6..]));
    }

    #[test]
    fn sealed_secrets_open_only_under_the_same_server_key() {
        let secret = SigningSecret::generate();
        let sealer = Sealer::from_material("a server secret key of 32 bytes or more");
        let sealed = sealer.seal(&secret);
        assert!(!sealed.contains(&secret.to_whsec()[6..]));
        assert_ne!(sealed, sealer.seal(&secret), "a fresh nonce each time");
        assert_eq!(sealer.open(&sealed).unwrap(), secret);
        let other = Sealer::from_material("another server secret key, also long");
        assert!(other.open(&sealed).is_err());
        assert!(sealer.open("not base64!").is_err());
        let mut tampered = STANDARD.decode(&sealed).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(sealer.open(&STANDARD.encode(tampered)).is_err());
    }
}
