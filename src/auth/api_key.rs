//! API-key authentication for `/v1`: the contract's five checks, in its order, then the key's
//! scope. Checks 1 and 2 (header, format) are the [`Credentials`] extractor and need no
//! database; [`authenticate`] alone sequences checks 3 to 5 and the scope, on the key row that
//! the handler's own query brought back (found by its SHA-256 through the unique index on every
//! request: no cache can answer for a revoked key). What the request needs of the scope comes
//! from the `/v1` route table, never from the handler; the extractor that reads the request lives
//! there too, and maps an [`AuthFailure`] to the API's response.

use std::sync::{Arc, OnceLock};

use chrono::NaiveDateTime;

use crate::db::{models::KeyCheck, DbError};
use crate::domain::actor::Actor;
use crate::domain::api_key::{hash_token, is_well_formed, KeyHash};
use crate::domain::client_ip::ClientAddr;
use crate::domain::expiry::is_expired;
use crate::domain::ids::{KeyId, ProjectId};
use crate::domain::ip_rules::IpRules;
use crate::domain::scope::Need;
use crate::usage::{Outcome, UsageRecorder};

/// The key a request was authenticated with, and the address it came from.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: KeyId,
    pub project_id: ProjectId,
    pub client: ClientAddr,
}

impl Principal {
    /// The key, from the request's address: who a change through `/v1` is recorded as.
    pub fn actor(&self) -> Actor {
        Actor::key(self.key_id.clone(), self.client)
    }
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
    /// After the five checks passed: the key's scope does not cover the operation.
    #[error("API key does not have permission for this request")]
    ScopeNotAllowed,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Checks 1 and 2: the header is `Bearer <token>` and the token has the key's exact shape. The
/// scheme is matched in any case (`bearer`, `BEARER`): RFC 9110 §11.1 makes it
/// case-insensitive, and some HTTP clients write it so.
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthFailure> {
    let token = header
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or(AuthFailure::MissingHeader)?;
    if is_well_formed(token) {
        Ok(token)
    } else {
        Err(AuthFailure::BadFormat)
    }
}

/// A request's API credentials after checks 1 and 2: the presented key's hash (the key itself
/// is not kept), the client's address, for check 5, and what the operation needs of the key's
/// scope (`None`: nothing beyond a valid key).
#[derive(Debug, Clone)]
pub struct Credentials {
    key_hash: KeyHash,
    client: ClientAddr,
    need: Option<Need>,
    expiry: KeyExpiry,
}

/// When the key that authenticated the request expires, once it has (the `/v1` frame sends it
/// as `Callem-Key-Expiration`). Shared between the credentials and the request's extensions.
#[derive(Debug, Clone, Default)]
pub struct KeyExpiry(Arc<OnceLock<NaiveDateTime>>);

impl KeyExpiry {
    pub fn get(&self) -> Option<NaiveDateTime> {
        self.0.get().copied()
    }
}

impl Credentials {
    pub fn new(
        authorization: Option<&str>,
        client: ClientAddr,
        need: Option<Need>,
    ) -> Result<Self, AuthFailure> {
        Ok(Credentials {
            key_hash: hash_token(bearer_token(authorization)?),
            client,
            need,
            expiry: KeyExpiry::default(),
        })
    }

    /// What the key is looked up by.
    pub fn key_hash(&self) -> &KeyHash {
        &self.key_hash
    }

    pub fn client(&self) -> ClientAddr {
        self.client
    }

    /// Where the key's expiry is written once it is known (shared with the request's
    /// extensions, so the `/v1` frame can send it).
    pub fn expiry(&self) -> &KeyExpiry {
        &self.expiry
    }
}

/// Checks 3 to 5 and then the scope, on the key row found for the credentials' hash (`None`:
/// no such key), and counts the use with its outcome (an unknown key is no one's use). Every
/// authenticated `/v1` request passes here; nothing here writes to the database.
///
/// A scope-refused request did authenticate, so its answer carries `Callem-Key-Expiration`
/// like any other answer to that key.
pub fn authenticate(
    credentials: &Credentials,
    key: Option<&KeyCheck>,
    now: NaiveDateTime,
    usage: &UsageRecorder,
) -> Result<Principal, AuthFailure> {
    let verdict = verify(key, credentials.client, credentials.need, now);
    if let Some(key) = key {
        let outcome = match &verdict {
            Ok(_) => Outcome::Allowed,
            Err(AuthFailure::Expired) => Outcome::RefusedExpired,
            Err(AuthFailure::IpNotAllowed) => Outcome::RefusedIp,
            Err(AuthFailure::ScopeNotAllowed) => Outcome::RefusedScope,
            Err(_) => Outcome::RefusedRevoked,
        };
        usage.record(&key.id, outcome, credentials.client, credentials.need, now);
        let authenticated = matches!(verdict, Ok(_) | Err(AuthFailure::ScopeNotAllowed));
        if let (true, Some(at)) = (authenticated, key.expires_at) {
            let _ = credentials.expiry.0.set(at);
        }
    }
    verdict
}

/// [`authenticate`] for a request whose body is still to be read: a key that would be refused
/// is refused now (its refusal counted), one that would pass is not counted yet — the
/// request's one [`authenticate`], after its body, counts it.
pub fn refuse_early(
    credentials: &Credentials,
    key: Option<&KeyCheck>,
    now: NaiveDateTime,
    usage: &UsageRecorder,
) -> Result<(), AuthFailure> {
    match verify(key, credentials.client, credentials.need, now) {
        Ok(_) => Ok(()),
        Err(_) => authenticate(credentials, key, now, usage).map(|_| ()),
    }
}

/// Checks 3 to 5, in the contract's order, then the scope: a key that may not do this at all
/// still learns first that it is revoked, expired or used from the wrong address.
fn verify(
    key: Option<&KeyCheck>,
    client: ClientAddr,
    need: Option<Need>,
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
    if !rules.allows_client(client.ip()) {
        return Err(AuthFailure::IpNotAllowed);
    }
    if need.is_some_and(|need| !key.scope.allows(need)) {
        return Err(AuthFailure::ScopeNotAllowed);
    }
    Ok(Principal {
        key_id: key.id.clone(),
        project_id: key.project_id.clone(),
        client,
    })
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
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            assert_eq!(bearer_token(Some(&format!("{scheme} {key}"))).unwrap(), key);
        }
        assert!(matches!(
            bearer_token(Some(&format!("Bearer{key}"))),
            Err(AuthFailure::MissingHeader)
        ));
        assert!(matches!(
            bearer_token(Some(&format!("Bearerx {key}"))),
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
        let c = Credentials::new(Some(&format!("Bearer {key}")), client, None).unwrap();
        assert_eq!(c.key_hash(), &hash_token(&key));
        assert!(!format!("{c:?}").contains(&key));
        assert!(matches!(
            Credentials::new(Some("Bearer ck_live_short"), client, None),
            Err(AuthFailure::BadFormat)
        ));
    }

    fn key(scope: crate::domain::scope::Scope) -> KeyCheck {
        KeyCheck {
            id: KeyId::generate(),
            project_id: ProjectId::generate(),
            allowed_ips: "203.0.113.7".to_owned(),
            expires_at: None,
            revoked_at: None,
            scope,
        }
    }

    #[test]
    fn the_scope_is_checked_only_after_the_five_checks_pass() {
        use crate::domain::scope::{Access, Resource, Scope};
        let now = crate::time::now();
        let inside = ClientAddr::Known(std::net::IpAddr::from([203, 0, 113, 7]));
        let outside = ClientAddr::Known(std::net::IpAddr::from([198, 51, 100, 1]));
        let delete = Some(Need::new(Resource::Calls, Access::Delete));
        let read_only = key(Scope::READ_ONLY);
        let revoked = KeyCheck {
            revoked_at: Some(now),
            ..read_only.clone()
        };
        let expired = KeyCheck {
            expires_at: Some(now - chrono::Duration::seconds(1)),
            ..read_only.clone()
        };
        assert!(matches!(
            verify(Some(&revoked), inside, delete, now),
            Err(AuthFailure::UnknownOrRevoked)
        ));
        assert!(matches!(
            verify(Some(&expired), inside, delete, now),
            Err(AuthFailure::Expired)
        ));
        assert!(matches!(
            verify(Some(&read_only), outside, delete, now),
            Err(AuthFailure::IpNotAllowed)
        ));
        assert!(matches!(
            verify(Some(&read_only), inside, delete, now),
            Err(AuthFailure::ScopeNotAllowed)
        ));
        let read = Some(Need::new(Resource::Calls, Access::Read));
        assert!(verify(Some(&read_only), inside, read, now).is_ok());
        assert!(verify(Some(&read_only), inside, None, now).is_ok());
        assert!(verify(Some(&key(Scope::FULL)), inside, delete, now).is_ok());
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
