//! The audit log's hash chain: an event's canonical bytes, its hash, and the check that walks a
//! project's chain in order. No SQL here: `db::audit` stores and reads what this computes.
//!
//! `hash = hex(SHA-256(prev_hash ‖ canonical))`, where `prev_hash` is the previous event's hash
//! as its 64 hex characters ([`GENESIS`], 64 zeros, for a project's first event) and
//! `canonical` is a JSON array (serde_json, no whitespace) of a version tag and every stored
//! field of the event, in a fixed order, `null` for an absent value, the time as
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ`. JSON strings are quoted and escaped, so no two different
//! events have the same bytes.

use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

/// The `prev_hash` of a project's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Names the encoding, so that a later change of the fields hashed can be told apart.
const VERSION: &str = "callem.audit.v1";

/// The fields of an event that its hash covers: all of them but the hashes themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEvent<'a> {
    pub id: &'a str,
    pub project_id: &'a str,
    pub seq: i64,
    pub created_at: NaiveDateTime,
    pub actor_kind: &'a str,
    pub actor_user_id: Option<&'a str>,
    pub actor_key_id: Option<&'a str>,
    pub actor_label: &'a str,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<&'a str>,
    pub target_label: &'a str,
    pub ip: Option<&'a str>,
    pub detail: Option<&'a str>,
}

/// The stored time, in the one format the hash uses (microseconds: what both backends keep).
pub fn canonical_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl ChainEvent<'_> {
    /// The event's canonical bytes (see the module's documentation).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let fields = serde_json::json!([
            VERSION,
            self.id,
            self.project_id,
            self.seq,
            canonical_time(self.created_at),
            self.actor_kind,
            self.actor_user_id,
            self.actor_key_id,
            self.actor_label,
            self.action,
            self.target_type,
            self.target_id,
            self.target_label,
            self.ip,
            self.detail,
        ]);
        // A `Value` of strings and numbers always serialises.
        serde_json::to_vec(&fields).unwrap_or_default()
    }

    /// The event's hash after `prev_hash`, as 64 lowercase hex characters.
    pub fn hash_after(&self, prev_hash: &str) -> String {
        let mut digest = Sha256::new();
        digest.update(prev_hash.as_bytes());
        digest.update(self.canonical_bytes());
        hex::encode(digest.finalize())
    }
}

/// What is wrong with an event of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The events between `expected` and this one's seq are missing (deleted), or this seq
    /// comes again or out of order.
    MissingSeq { expected: i64 },
    /// `prev_hash` is not the previous event's hash: an event before it was altered and its
    /// hash recomputed, or removed.
    BrokenLink,
    /// The stored hash is not the hash of what the event holds: the event was altered.
    HashMismatch,
}

impl Problem {
    /// What is wrong, in words, for `callem audit verify`.
    pub fn describe(&self, seq: i64) -> String {
        match self {
            Problem::MissingSeq { expected } if seq > *expected => {
                if seq - expected == 1 {
                    format!("missing seq: the event with seq {expected} is gone")
                } else {
                    format!(
                        "missing seq: the events with seq {expected} to {} are gone",
                        seq - 1
                    )
                }
            }
            Problem::MissingSeq { expected } => {
                format!(
                    "missing seq: seq {expected} was expected, this one repeats an earlier place"
                )
            }
            Problem::BrokenLink => {
                "broken link: its prev_hash is not the previous event's hash".to_owned()
            }
            Problem::HashMismatch => {
                "hash mismatch: the event's fields were changed after it was recorded".to_owned()
            }
        }
    }
}

/// Walks one project's chain in seq order: give it each event with its stored hashes.
#[derive(Debug, Clone)]
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected_seq: 1,
            prev_hash: GENESIS.to_owned(),
        }
    }
}

impl Verifier {
    /// Checks the next event; the first problem found, if any.
    pub fn check(
        &mut self,
        event: &ChainEvent<'_>,
        prev_hash: &str,
        hash: &str,
    ) -> Result<(), Problem> {
        if event.seq != self.expected_seq {
            return Err(Problem::MissingSeq {
                expected: self.expected_seq,
            });
        }
        if prev_hash != self.prev_hash {
            return Err(Problem::BrokenLink);
        }
        if event.hash_after(prev_hash) != hash {
            return Err(Problem::HashMismatch);
        }
        self.expected_seq += 1;
        self.prev_hash = hash.to_owned();
        Ok(())
    }

    /// How many events passed.
    pub fn count(&self) -> i64 {
        self.expected_seq - 1
    }

    /// The hash of the last event that passed ([`GENESIS`] before any).
    pub fn last_hash(&self) -> &str {
        &self.prev_hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(micros: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp_micros(1_780_000_000_000_000 + micros)
            .unwrap()
            .naive_utc()
    }

    fn event(seq: i64) -> ChainEvent<'static> {
        ChainEvent {
            id: "ev1",
            project_id: "p1",
            seq,
            created_at: at(123),
            actor_kind: "user",
            actor_user_id: Some("u1"),
            actor_key_id: None,
            actor_label: "owner@example.com",
            action: "api_key.revoked",
            target_type: "api_key",
            target_id: Some("k1"),
            target_label: "CRM",
            ip: Some("10.0.0.1"),
            detail: None,
        }
    }

    #[test]
    fn the_hash_is_sha256_of_the_previous_hash_and_the_canonical_bytes() {
        let e = event(1);
        let mut d = Sha256::new();
        d.update(GENESIS.as_bytes());
        d.update(e.canonical_bytes());
        assert_eq!(e.hash_after(GENESIS), hex::encode(d.finalize()));
        assert_eq!(e.hash_after(GENESIS).len(), 64);
        let text = String::from_utf8(e.canonical_bytes()).unwrap();
        assert!(
            text.starts_with(r#"["callem.audit.v1","ev1","p1",1,"2026-05-28T20:26:40.000123Z""#),
            "{text}"
        );
    }

    #[test]
    fn absent_and_empty_values_hash_differently() {
        let mut a = event(1);
        let mut b = event(1);
        a.ip = None;
        b.ip = Some("");
        assert_ne!(a.hash_after(GENESIS), b.hash_after(GENESIS));
        // A value cannot slide into its neighbour.
        a.ip = Some("ab");
        a.detail = None;
        b.ip = Some("a");
        b.detail = Some("b");
        assert_ne!(a.hash_after(GENESIS), b.hash_after(GENESIS));
    }

    #[test]
    fn the_verifier_names_a_gap_a_broken_link_and_an_altered_event() {
        let (e1, e2, e3) = (event(1), event(2), event(3));
        let h1 = e1.hash_after(GENESIS);
        let h2 = e2.hash_after(&h1);
        let h3 = e3.hash_after(&h2);
        let mut v = Verifier::default();
        assert_eq!(v.check(&e1, GENESIS, &h1), Ok(()));
        assert_eq!(
            v.clone().check(&e3, &h2, &h3),
            Err(Problem::MissingSeq { expected: 2 })
        );
        assert_eq!(v.clone().check(&e2, GENESIS, &h2), Err(Problem::BrokenLink));
        let mut altered = e2.clone();
        altered.action = "api_key.created";
        assert_eq!(
            v.clone().check(&altered, &h1, &h2),
            Err(Problem::HashMismatch)
        );
        assert_eq!(v.check(&e2, &h1, &h2), Ok(()));
        assert_eq!(v.check(&e3, &h2, &h3), Ok(()));
        assert_eq!(v.count(), 3);
        assert_eq!(
            Problem::MissingSeq { expected: 2 }.describe(3),
            "missing seq: the event with seq 2 is gone"
        );
    }

    fn opt(s: &str) -> Option<&str> {
        (!s.is_empty()).then_some(s)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Any change of any field, the time by a microsecond included, changes the hash.
        #[test]
        fn any_change_of_any_field_changes_the_hash(
            field in 0usize..15,
            value in "[a-z0-9.:@ ]{1,12}",
            seq in 1i64..1_000_000,
            shift in 1i64..1_000_000,
        ) {
            let base = event(seq);
            let mut changed = base.clone();
            let text: &str = &value;
            let mut prev = GENESIS.to_owned();
            match field {
                0 => changed.id = text,
                1 => changed.project_id = text,
                2 => changed.seq = seq + shift,
                3 => changed.created_at = base.created_at + chrono::Duration::microseconds(shift),
                4 => changed.actor_kind = text,
                5 => changed.actor_user_id = if base.actor_user_id == opt(text) { None } else { opt(text) },
                6 => changed.actor_key_id = opt(text),
                7 => changed.actor_label = text,
                8 => changed.action = text,
                9 => changed.target_type = text,
                10 => changed.target_id = if base.target_id == opt(text) { None } else { opt(text) },
                11 => changed.target_label = text,
                12 => changed.ip = if base.ip == opt(text) { None } else { opt(text) },
                13 => changed.detail = opt(text),
                _ => prev = "f".repeat(64),
            }
            prop_assume!(changed != base || prev != GENESIS);
            prop_assert_ne!(base.hash_after(GENESIS), changed.hash_after(&prev));
        }
    }
}
