//! API-key authentication for `/v1`: the contract's five checks, in its order. Checks 1 and 2
//! (header, format) are the [`Credentials`] extractor and need no database; [`authenticate`]
//! alone sequences checks 3 to 5, on the key row that the handler's own query brought back
//! (found by its SHA-256 through the unique index on every request: no cache can answer for a
//! revoked key).

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use chrono::NaiveDateTime;

use crate::api::error::ApiError;
use crate::db::{self, models::KeyCheck, DbConnection, DbError};
use crate::domain::api_key::{hash_token, is_well_formed, KeyHash};
use crate::domain::client_ip::ClientAddr;
use crate::domain::expiry::is_expired;
use crate::domain::ids::{KeyId, ProjectId};
use crate::domain::ip_rules::IpRules;

/// The key a request was authenticated with.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: KeyId,
    pub project_id: ProjectId,
}

/// Why authentication failed, in the contract's order.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("Missing or invalid Authorization header")]
    MissingHeader,
    #[error("Invalid API key format")]
    BadFormat,
    #[error("Invalid API key")]
    UnknownOrRevoked,
    #[error("API key has expired")]
    Expired,
    #[error("IP address not allowed")]
    IpNotAllowed,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Checks 1 and 2: the header is `Bearer <token>` and the token has the key's exact shape.
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthFailure> {
    let token = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthFailure::MissingHeader)?;
    if is_well_formed(token) {
        Ok(token)
    } else {
        Err(AuthFailure::BadFormat)
    }
}

/// A request's API credentials after checks 1 and 2: the presented key's hash (the key itself
/// is not kept) and the client's address, for check 5.
#[derive(Debug, Clone)]
pub struct Credentials {
    key_hash: KeyHash,
    client: ClientAddr,
}

impl Credentials {
    pub fn new(authorization: Option<&str>, client: ClientAddr) -> Result<Self, AuthFailure> {
        Ok(Credentials {
            key_hash: hash_token(bearer_token(authorization)?),
            client,
        })
    }

    /// What the key is looked up by.
    pub fn key_hash(&self) -> &KeyHash {
        &self.key_hash
    }

    pub fn client(&self) -> ClientAddr {
        self.client
    }
}

impl FromRequest for Credentials {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        ready(Credentials::new(header, crate::request::client_ip(req)).map_err(ApiError::from))
    }
}

/// Checks 3 to 5 on the key row found for the credentials' hash (`None`: no such key), then
/// records the key's use when it is due. Every authenticated `/v1` request passes here.
pub fn authenticate(
    conn: &mut DbConnection,
    credentials: &Credentials,
    key: Option<&KeyCheck>,
    now: NaiveDateTime,
    last_use: &LastUseThrottle,
) -> Result<Principal, AuthFailure> {
    let who = verify(key, credentials.client, now)?;
    if last_use.due(&who.key_id) {
        let not_since = now - chrono::Duration::seconds(LastUseThrottle::INTERVAL_SECS);
        let client = credentials.client.to_string();
        db::api_keys::record_use(conn, &who.key_id, &client, now, not_since)
            .map_err(DbError::from)?;
    }
    Ok(who)
}

/// Checks 3 to 5, in the contract's order.
fn verify(
    key: Option<&KeyCheck>,
    client: ClientAddr,
    now: NaiveDateTime,
) -> Result<Principal, AuthFailure> {
    let key = key
        .filter(|k| k.revoked_at.is_none())
        .ok_or(AuthFailure::UnknownOrRevoked)?;
    if is_expired(key.expires_at, now) {
        return Err(AuthFailure::Expired);
    }
    let rules = IpRules::from_storage(&key.allowed_ips).map_err(|e| {
        tracing::error!(key_id = %key.id, error = %e, "stored IP rules do not parse");
        AuthFailure::IpNotAllowed
    })?;
    // An unknown client (a trusted proxy that named none) matches no rule.
    let allowed = match client.ip() {
        Some(ip) => rules.allows(ip),
        None => rules.is_unrestricted(),
    };
    if !allowed {
        return Err(AuthFailure::IpNotAllowed);
    }
    Ok(Principal {
        key_id: key.id.clone(),
        project_id: key.project_id.clone(),
    })
}

/// Keeps "last used" writes to at most one a minute per key: this process skips the write
/// when it tried less than a minute ago, and the conditional UPDATE keeps replicas to one.
#[derive(Debug, Default)]
pub struct LastUseThrottle {
    tried: Mutex<HashMap<KeyId, Instant>>,
}

impl LastUseThrottle {
    pub const INTERVAL_SECS: i64 = 60;

    /// True at most once a minute per key (in this process).
    pub fn due(&self, key_id: &KeyId) -> bool {
        let now = Instant::now();
        let interval = Duration::from_secs(Self::INTERVAL_SECS as u64);
        let Ok(mut tried) = self.tried.lock() else {
            return true;
        };
        match tried.get(key_id) {
            Some(at) if now.duration_since(*at) < interval => false,
            _ => {
                if tried.len() > 10_000 {
                    tried.retain(|_, at| now.duration_since(*at) < interval);
                }
                tried.insert(key_id.clone(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_and_format_are_checked_before_the_database() {
        let key = format!("ck_live_{}", "a".repeat(60));
        assert!(matches!(
            bearer_token(None),
            Err(AuthFailure::MissingHeader)
        ));
        assert!(matches!(
            bearer_token(Some("Basic abc")),
            Err(AuthFailure::MissingHeader)
        ));
        assert!(matches!(
            bearer_token(Some("Bearer ")),
            Err(AuthFailure::MissingHeader)
        ));
        assert!(matches!(
            bearer_token(Some(&format!("bearer {key}"))),
            Err(AuthFailure::MissingHeader)
        ));
        assert!(matches!(
            bearer_token(Some("Bearer ck_live_short")),
            Err(AuthFailure::BadFormat)
        ));
        assert_eq!(bearer_token(Some(&format!("Bearer {key}"))).unwrap(), key);
    }

    #[test]
    fn credentials_keep_the_keys_hash_and_never_the_key() {
        let key = format!("ck_live_{}", "b".repeat(60));
        let client = ClientAddr::Known(std::net::IpAddr::from([192, 0, 2, 1]));
        let c = Credentials::new(Some(&format!("Bearer {key}")), client).unwrap();
        assert_eq!(c.key_hash(), &hash_token(&key));
        assert!(!format!("{c:?}").contains(&key));
        assert!(matches!(
            Credentials::new(Some("Bearer ck_live_short"), client),
            Err(AuthFailure::BadFormat)
        ));
    }

    #[test]
    fn the_throttle_allows_one_write_a_minute_per_key() {
        let t = LastUseThrottle::default();
        let (a, b) = (KeyId::generate(), KeyId::generate());
        assert!(t.due(&a));
        assert!(!t.due(&a));
        assert!(t.due(&b));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_header_makes_the_bearer_check_panic(header in any::<String>(), tail in ".{0,80}") {
            let _ = bearer_token(Some(&header));
            let _ = bearer_token(Some(&format!("Bearer {tail}")));
            let _ = bearer_token(Some(&format!("Bearer ck_live_{tail}")));
        }

        #[test]
        fn a_well_formed_key_after_bearer_comes_back(
            random in "[a-z0-9]{60}",
            pad in "[ \t]{0,3}",
        ) {
            let key = format!("ck_live_{random}");
            let header = format!("Bearer {pad}{key}{pad}");
            prop_assert_eq!(bearer_token(Some(&header)).unwrap(), key.as_str());
            let generated = crate::domain::api_key::ApiKeySecret::generate();
            let header = format!("Bearer {}", generated.expose_secret());
            prop_assert_eq!(bearer_token(Some(&header)).unwrap(), generated.expose_secret());
        }

        #[test]
        fn anything_but_a_well_formed_token_is_refused(header in any::<String>()) {
            match bearer_token(Some(&header)) {
                Ok(token) => prop_assert!(is_well_formed(token) && header.starts_with("Bearer ")),
                Err(AuthFailure::MissingHeader) => prop_assert!(
                    !header.starts_with("Bearer ") || header["Bearer ".len()..].trim().is_empty()
                ),
                Err(AuthFailure::BadFormat) => prop_assert!(header.starts_with("Bearer ")),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
