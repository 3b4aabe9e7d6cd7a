//! Reminders that a key expires: 14, 7 and 1 day(s) before, each once per key across all
//! replicas (a `notifications` mark per key and threshold decides which replica sends it).
//! Each reminder is an `api_key_expiring` event to the webhooks and an email to the project's
//! Owners and Admins, written in one transaction with its mark.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::models::ApiKey;
use super::schema::api_keys;
use super::webhook_outbox::{self, NewEvent};
use super::{notifications, DbConnection, DbError};
use crate::domain::webhook::EventKind;

/// Days before expiry a reminder goes out, largest first.
pub const THRESHOLDS: [i64; 3] = [14, 7, 1];

/// The reminder due for a key expiring at `expires_at`: the smallest threshold it is within
/// (a key made with 3 days left gets the 7-day one, not the 14-day one as well).
pub fn due_threshold(expires_at: NaiveDateTime, now: NaiveDateTime) -> Option<i64> {
    if expires_at <= now {
        return None;
    }
    THRESHOLDS
        .iter()
        .rev()
        .copied()
        .find(|&days| expires_at - now <= Duration::days(days))
}

/// Sends the reminders due at `now`; returns how many this call sent.
pub fn remind_expiring(conn: &mut DbConnection, now: NaiveDateTime) -> Result<usize, DbError> {
    let horizon = now + Duration::days(THRESHOLDS[0]);
    let keys: Vec<ApiKey> = api_keys::table
        .filter(api_keys::revoked_at.is_null())
        .filter(api_keys::replaced_by.is_null())
        .filter(api_keys::expires_at.gt(now))
        .filter(api_keys::expires_at.le(horizon))
        .select(ApiKey::as_select())
        .load(conn)?;
    let mut sent = 0;
    for key in keys {
        let Some(expires_at) = key.expires_at else {
            continue;
        };
        let Some(days) = due_threshold(expires_at, now) else {
            continue;
        };
        let reminded = super::write_transaction::<_, DbError, _>(conn, |conn| {
            let payload = serde_json::json!({
                "keyId": key.id.as_str(),
                "name": key.name,
                "prefix": key.prefix,
                "expiresAt": crate::time::iso_millis(expires_at),
                "days": days,
            })
            .to_string();
            let mark = format!("api_key_expiring:{}:{days}", key.id);
            if !notifications::mark_once(
                conn,
                &mark,
                &key.project_id,
                "key_expiring",
                &payload,
                now,
                false,
            )? {
                return Ok(false);
            }
            // The larger thresholds are passed: never sent later (once per key, even if its
            // expiry is pushed back).
            for larger in THRESHOLDS.iter().filter(|&&d| d > days) {
                let mark = format!("api_key_expiring:{}:{larger}", key.id);
                notifications::mark_once(
                    conn,
                    &mark,
                    &key.project_id,
                    "key_expiring",
                    "",
                    now,
                    true,
                )?;
            }
            // The key's row first, as a revocation writes it: their events take their places
            // in the key's order one after the other.
            diesel::update(api_keys::table.find(&key.id))
                .set(api_keys::id.eq(api_keys::id))
                .execute(conn)?;
            let reason = format!("expires_in_{days}_day{}", if days == 1 { "" } else { "s" });
            let event = NewEvent::key(EventKind::ApiKeyExpiring, &key, Some(&reason), now);
            webhook_outbox::enqueue(conn, &key.project_id, &[event], now)?;
            Ok(true)
        })?;
        sent += usize::from(reminded);
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reminder_due_is_the_smallest_threshold_the_key_is_within() {
        let now = chrono::DateTime::from_timestamp(1_000_000_000, 0)
            .unwrap()
            .naive_utc();
        let at = |d: i64, h: i64| now + Duration::days(d) + Duration::hours(h);
        assert_eq!(due_threshold(at(20, 0), now), None);
        assert_eq!(due_threshold(at(14, 0), now), Some(14));
        assert_eq!(due_threshold(at(13, 23), now), Some(14));
        assert_eq!(due_threshold(at(7, 0), now), Some(7));
        assert_eq!(due_threshold(at(3, 0), now), Some(7));
        assert_eq!(due_threshold(at(1, 0), now), Some(1));
        assert_eq!(due_threshold(at(0, 2), now), Some(1));
        assert_eq!(due_threshold(now, now), None);
    }
}
