//! Ids: new ones are 24 lowercase hex characters from the operating system's CSPRNG; an id
//! read from a request is typed ([`ProjectId`], [`KeyId`] …) only if a row could have it.
//! Each kind of id is its own type, so a key id cannot be passed where a project id is meant;
//! `db::types` reads and writes them as TEXT.

use std::fmt;

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

/// Whether a row can have this id: 1 to 64 ASCII letters, digits, `-` or `_` (the ids this
/// server makes, and those an import may bring). Anything else, a NUL above all (which
/// PostgreSQL refuses with an error), names no row: a request for it is answered "not found"
/// without asking the database.
fn can_be_an_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why a value is not an id (also for a value that is not even a string).
pub fn refusal() -> Invalid {
    Invalid::new(format!(
        "id must be a string of 1 to {MAX_ID_CHARS} letters, digits, '-' or '_'"
    ))
}

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub struct $name(String);

        impl $name {
            /// A new random id.
            pub fn generate() -> Self {
                $name(new_id())
            }

            /// An id from outside (a path, a body, an import), if a row could have it.
            pub fn parse(s: &str) -> Result<Self, Invalid> {
                if can_be_an_id(s) {
                    Ok($name(s.to_owned()))
                } else {
                    Err(refusal())
                }
            }

            /// An id read back from the database, which only ever stored valid ones.
            pub fn from_stored(s: String) -> Self {
                $name(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

id_type! {
    /// A project (a workspace: its keys, calls, knowledge and members).
    ProjectId;
    /// An API key's row (not the key itself, which is never stored).
    KeyId;
    /// A dashboard user.
    UserId;
    /// A call, as made by the hosted service or brought by an import.
    CallId;
    /// A knowledge item.
    KnowledgeId;
    /// An audit event.
    EventId;
    /// An invitation to join a project (not its token, which is never stored).
    InvitationId;
    /// A webhook (Settings → Webhooks).
    WebhookId;
    /// One delivery of one event to one webhook: `msg_` and an id, sent as `webhook-id`.
    DeliveryId;
}

impl DeliveryId {
    /// A new delivery id, in Standard Webhooks' `msg_…` form.
    pub fn new_message() -> Self {
        DeliveryId(format!("msg_{}", new_id()))
    }
}

/// An id taken from a request path that may name no row at all: `None` when no row can have
/// it, so the handler still authenticates first and then answers "not found" (an API client
/// without a valid key learns nothing about the ids it tries).
#[derive(Debug, Clone)]
pub struct Lookup<T>(pub Option<T>);

impl<'de> serde::Deserialize<'de> for Lookup<CallId> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Lookup(CallId::parse(&s).ok()))
    }
}

impl<'de> serde::Deserialize<'de> for Lookup<KnowledgeId> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Lookup(KnowledgeId::parse(&s).ok()))
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
        assert_eq!(CallId::parse(&new_id()).unwrap().as_str().len(), 24);
        assert_eq!(CallId::parse("call_A-1").unwrap().into_string(), "call_A-1");
        assert!(KeyId::parse(&"a".repeat(64)).is_ok());
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
                ProjectId::parse(bad).unwrap_err().0,
                "id must be a string of 1 to 64 letters, digits, '-' or '_'",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ids_of_different_kinds_are_different_types_that_read_and_print_as_text() {
        let id: KeyId = serde_json::from_str("\"k_1\"").unwrap();
        assert_eq!(id.to_string(), "k_1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"k_1\"");
        let bad = serde_json::from_str::<ProjectId>("\"a b\"").unwrap_err();
        assert!(bad.to_string().contains("id must be a string"), "{bad}");
    }

    #[test]
    fn a_path_id_no_row_can_have_is_looked_up_as_nothing() {
        let found: Lookup<CallId> = serde_json::from_str("\"call_1\"").unwrap();
        assert_eq!(found.0.unwrap().as_str(), "call_1");
        let nothing: Lookup<KnowledgeId> = serde_json::from_str("\"a\\u0000b\"").unwrap();
        assert!(nothing.0.is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_string_with_a_nul_is_not_an_id(a in ".{0,30}", b in ".{0,30}") {
            let with_nul = format!("{a}\0{b}");
            prop_assert!(CallId::parse(&with_nul).is_err());
        }

        #[test]
        fn generated_ids_parse(_n in 0u8..4) {
            let id = new_id();
            prop_assert_eq!(KnowledgeId::parse(&id).unwrap().into_string(), id);
        }
    }
}
