//! The signature headers of a delivery attempt. Two schemes, on every attempt:
//!
//! - this server's own: `x-callem-timestamp` (Unix seconds of the attempt) and
//!   `x-callem-signature`, lowercase hex HMAC-SHA256 keyed with the secret's decoded bytes
//!   over `{x-callem-timestamp}.{raw body}`;
//! - Standard Webhooks 1.0: `webhook-id` (the delivery's `msg_…`), `webhook-timestamp`, and
//!   `webhook-signature`, `v1,` and the base64 HMAC-SHA256 over
//!   `{webhook-id}.{webhook-timestamp}.{raw body}`.
//!
//! During a roll's 24 hours both secrets sign, and each signature header holds both values
//! separated by a space, the newest first.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::secret::SigningSecret;

type HmacSha256 = Hmac<Sha256>;

fn hmac(secret: &SigningSecret, parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes a key of any length.
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.bytes()) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// `x-callem-signature` for one secret.
pub fn callem_signature(secret: &SigningSecret, timestamp: i64, body: &[u8]) -> String {
    hex::encode(hmac(
        secret,
        &[timestamp.to_string().as_bytes(), b".", body],
    ))
}

/// One `v1,…` value of `webhook-signature`.
pub fn standard_signature(
    secret: &SigningSecret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mac = hmac(
        secret,
        &[
            msg_id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            body,
        ],
    );
    format!("v1,{}", STANDARD.encode(mac))
}

/// The headers a delivery attempt sends, besides `Content-Type` and `User-Agent`.
pub fn headers(
    event: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    secrets: &[SigningSecret],
) -> Vec<(&'static str, String)> {
    let join =
        |f: &dyn Fn(&SigningSecret) -> String| secrets.iter().map(f).collect::<Vec<_>>().join(" ");
    vec![
        ("x-callem-event", event.to_owned()),
        ("x-callem-timestamp", timestamp.to_string()),
        (
            "x-callem-signature",
            join(&|s| callem_signature(s, timestamp, body)),
        ),
        ("webhook-id", msg_id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            join(&|s| standard_signature(s, msg_id, timestamp, body)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_signature_matches_the_specs_example() {
        // The example in the Standard Webhooks specification.
        let secret = SigningSecret::from_whsec("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            standard_signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn the_callem_signature_is_hex_over_timestamp_dot_body() {
        let secret = SigningSecret::from_whsec("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = callem_signature(&secret, 1614265330, b"{}");
        assert_eq!(sig.len(), 64);
        assert!(sig
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        let mut mac = HmacSha256::new_from_slice(secret.bytes()).unwrap();
        mac.update(b"1614265330.{}");
        assert_eq!(sig, hex::encode(mac.finalize().into_bytes()));
    }

    #[test]
    fn during_a_roll_each_header_holds_both_signatures() {
        let (new, old) = (SigningSecret::generate(), SigningSecret::generate());
        let h = headers("test", "msg_1", 1, b"{}", &[new.clone(), old.clone()]);
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        let sigs: Vec<String> = get("x-callem-signature")
            .split(' ')
            .map(str::to_owned)
            .collect();
        assert_eq!(
            sigs,
            [
                callem_signature(&new, 1, b"{}"),
                callem_signature(&old, 1, b"{}")
            ]
        );
        assert_eq!(get("webhook-signature").split(' ').count(), 2);
        assert_eq!(get("webhook-id"), "msg_1");
        assert_eq!(get("webhook-timestamp"), "1");
    }
}
