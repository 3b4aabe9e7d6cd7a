//! The delivery job's side of the outbox: claiming due deliveries (on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED` and a lease, so replicas share the work and a killed worker's claim
//! returns when its lease ends), recording each attempt and what it decides (delivered, retried
//! later, given up, the webhook disabled), and pruning the log after 30 days.
//!
//! A disabled webhook's deliveries (a Resend or a Recover while it is disabled) wait until it is
//! enabled again; a test event, which someone asked for, goes to it anyway.
//!
//! Order: a delivery is claimable only while no earlier delivery of the same subject (call or
//! key) to the same webhook is still pending, so one call's events reach a webhook in the order
//! they happened, and a later one waits while an earlier one is retried. Other subjects never
//! wait.

use chrono::{Duration as Span, NaiveDateTime};
use diesel::prelude::*;

use super::audit::{self, Change, Event};
use super::models::{Attempt, Delivery, Webhook};
use super::schema::{webhook_attempts, webhook_deliveries, webhook_events, webhooks};
use super::{DbConnection, DbError};
use crate::domain::action::Action;
use crate::domain::actor::Actor;
use crate::domain::ids::{new_id, DeliveryId, WebhookId};
use crate::domain::webhook::{
    DeliveryState, DisabledReason, AUTO_DISABLE_AFTER_DAYS, LOG_KEPT_DAYS,
};

/// How long a claim holds a delivery: longer than an attempt's deadline, so a live worker
/// never loses its claim; a killed one's returns after it.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// A claimed delivery with what its attempt needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: Delivery,
    pub webhook: Webhook,
    /// The body, as written when the event happened.
    pub payload: String,
}

const DUE: &str = "\
    SELECT d.id FROM webhook_deliveries d \
    WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
      AND (d.lease_until IS NULL OR d.lease_until < $1) \
      AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id \
          AND (w.enabled OR d.kind = 'test')) \
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
          WHERE e.webhook_id = d.webhook_id AND e.subject = d.subject \
            AND e.seq < d.seq AND e.state = 'pending') \
    ORDER BY d.next_attempt_at, d.seq \
    LIMIT $2";

/// Claims up to `limit` due deliveries for this worker until `now + LEASE`.
pub fn claim(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Claimed>, DbError> {
    use diesel::sql_types::{BigInt, Timestamp};
    let until = now + Span::from_std(LEASE).unwrap_or_else(|_| Span::seconds(30));
    let claimed: Vec<Delivery> = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(format!(
            "UPDATE webhook_deliveries SET lease_until = $3, updated_at = $1 \
             WHERE id IN ({DUE} FOR UPDATE SKIP LOCKED) RETURNING *"
        ))
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .bind::<Timestamp, _>(until)
        .load(pg)?,
        // One worker per process, and the write lock taken first (BEGIN IMMEDIATE): another
        // process on the same file waits for it instead of claiming the same rows.
        DbConnection::Sqlite(_) => super::write_transaction(conn, |conn| {
            let DbConnection::Sqlite(lite) = conn else {
                return Ok(Vec::new());
            };
            let ids: Vec<IdRow> = diesel::sql_query(DUE.replace("$1", "?1").replace("$2", "?2"))
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(lite)?;
            let ids: Vec<DeliveryId> = ids.into_iter().map(|r| r.id).collect();
            diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
                .set((
                    webhook_deliveries::lease_until.eq(until),
                    webhook_deliveries::updated_at.eq(now),
                ))
                .execute(conn)?;
            webhook_deliveries::table
                .filter(webhook_deliveries::id.eq_any(&ids))
                .select(Delivery::as_select())
                .load(conn)
        })?,
    };
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    // Their webhooks and bodies in two queries, whatever the batch's size.
    let hook_ids: Vec<&WebhookId> = claimed.iter().map(|d| &d.webhook_id).collect();
    let hooks: std::collections::HashMap<WebhookId, Webhook> = webhooks::table
        .filter(webhooks::id.eq_any(hook_ids))
        .select(Webhook::as_select())
        .load(conn)?
        .into_iter()
        .map(|w| (w.id.clone(), w))
        .collect();
    let event_ids: Vec<&String> = claimed.iter().map(|d| &d.event_id).collect();
    let payloads: std::collections::HashMap<String, String> = webhook_events::table
        .filter(webhook_events::id.eq_any(event_ids))
        .select((webhook_events::id, webhook_events::payload))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(claimed.len());
    for delivery in claimed {
        // A webhook deleted meanwhile took its deliveries with it (the cascade).
        if let (Some(webhook), Some(payload)) = (
            hooks.get(&delivery.webhook_id),
            payloads.get(&delivery.event_id),
        ) {
            out.push(Claimed {
                webhook: webhook.clone(),
                payload: payload.clone(),
                delivery,
            });
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: DeliveryId,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// 2xx.
    Delivered,
    /// Try again at this time.
    RetryAt(NaiveDateTime),
    /// No retry left.
    GiveUp,
    /// The receiver answered 410 Gone: the webhook is disabled at once.
    Gone,
}

/// What an attempt did, to record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempted_at: NaiveDateTime,
    pub duration_ms: i64,
    pub status: Option<i32>,
    pub error: Option<String>,
    pub response_body: String,
    /// `[[name, value], …]`.
    pub request_headers: String,
}

/// What recording an attempt changed beyond the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Only the delivery (and the webhook's failure clock).
    Delivery,
    /// The webhook was disabled (a 410, or 5 days of failures).
    Disabled(DisabledReason),
}

/// Records an attempt and its outcome in one transaction. A failure starts (or continues) the
/// webhook's failure clock; when every attempt has failed for 5 days, or the receiver answered
/// 410, the webhook is disabled (audited as the server), its pending deliveries kept as failed,
/// and an email to the project's Owners and Admins queued.
pub fn record(
    conn: &mut DbConnection,
    claimed: &Claimed,
    attempt: AttemptRecord,
    outcome: Outcome,
    now: NaiveDateTime,
) -> Result<Recorded, DbError> {
    super::write_transaction::<_, DbError, _>(conn, |conn| {
        record_in(conn, claimed, attempt, outcome, now)
    })
}

/// One attempt, as [`record`] writes it, for each of several, all in one transaction (the
/// job's attempts that ended together: one commit, one connection, for all of them).
pub fn record_all(
    conn: &mut DbConnection,
    attempts: Vec<(Claimed, AttemptRecord, Outcome)>,
    now: NaiveDateTime,
) -> Result<Vec<(WebhookId, Recorded)>, DbError> {
    super::write_transaction::<_, DbError, _>(conn, |conn| {
        let mut out = Vec::with_capacity(attempts.len());
        for (claimed, attempt, outcome) in attempts {
            let recorded = record_in(conn, &claimed, attempt, outcome, now)?;
            out.push((claimed.webhook.id, recorded));
        }
        Ok(out)
    })
}

fn record_in(
    conn: &mut DbConnection,
    claimed: &Claimed,
    attempt: AttemptRecord,
    outcome: Outcome,
    now: NaiveDateTime,
) -> Result<Recorded, DbError> {
    let delivery = &claimed.delivery;
    let webhook_id = &claimed.webhook.id;
    {
        diesel::insert_into(webhook_attempts::table)
            .values(&Attempt {
                id: new_id(),
                delivery_id: delivery.id.clone(),
                attempted_at: attempt.attempted_at,
                duration_ms: attempt.duration_ms,
                status: attempt.status,
                error: attempt.error.clone(),
                response_body: attempt.response_body,
                request_headers: attempt.request_headers,
            })
            .execute(conn)?;
        let (state, next, delivered_at) = match &outcome {
            Outcome::Delivered => (DeliveryState::Delivered, None, Some(now)),
            Outcome::RetryAt(at) => (DeliveryState::Pending, Some(*at), None),
            Outcome::GiveUp | Outcome::Gone => (DeliveryState::Failed, None, None),
        };
        diesel::update(webhook_deliveries::table.find(&delivery.id))
            .set((
                webhook_deliveries::state.eq(state.as_str()),
                webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                webhook_deliveries::next_attempt_at.eq(next.unwrap_or(delivery.next_attempt_at)),
                webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
                webhook_deliveries::last_status.eq(attempt.status),
                webhook_deliveries::last_error.eq(&attempt.error),
                webhook_deliveries::updated_at.eq(now),
                webhook_deliveries::delivered_at.eq(delivered_at),
            ))
            .execute(conn)?;
        if matches!(outcome, Outcome::Delivered) {
            // A success ends the failure clock (read now, not as claimed: another attempt
            // may have failed meanwhile).
            diesel::update(webhooks::table.find(webhook_id))
                .filter(webhooks::failing_since.is_not_null())
                .set(webhooks::failing_since.eq(None::<NaiveDateTime>))
                .execute(conn)?;
            return Ok(Recorded::Delivery);
        }
        diesel::update(webhooks::table.find(webhook_id))
            .filter(webhooks::failing_since.is_null())
            .set(webhooks::failing_since.eq(attempt.attempted_at))
            .execute(conn)?;
        let failing_since: Option<NaiveDateTime> = webhooks::table
            .find(webhook_id)
            .select(webhooks::failing_since)
            .first::<Option<NaiveDateTime>>(conn)
            .optional()?
            .flatten();
        let reason = match outcome {
            Outcome::Gone => Some(DisabledReason::Gone),
            _ if failing_since
                .is_some_and(|since| now - since >= Span::days(AUTO_DISABLE_AFTER_DAYS)) =>
            {
                Some(DisabledReason::Failing)
            }
            _ => None,
        };
        match reason {
            Some(reason) if disable(conn, &claimed.webhook, reason, now)? => {
                Ok(Recorded::Disabled(reason))
            }
            _ => Ok(Recorded::Delivery),
        }
    }
}

/// Disables a webhook for a receiver's reason (audited as the server): its pending deliveries
/// are kept as failed, and an email to the Owners and Admins is queued (once). False when it
/// was already disabled.
fn disable(
    conn: &mut DbConnection,
    webhook: &Webhook,
    reason: DisabledReason,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let actor = Actor::server();
    let detail = serde_json::json!({"reason": reason.as_str()}).to_string();
    let mut event = Event::new(
        &webhook.project_id,
        &actor,
        Action::WebhookDisabled,
        webhook.id.as_str(),
    );
    event.detail = Some(detail);
    audit::audited(conn, &event, now, |conn| {
        let changed = diesel::update(webhooks::table.find(&webhook.id))
            .filter(webhooks::enabled.eq(true))
            .set((
                webhooks::enabled.eq(false),
                webhooks::disabled_reason.eq(reason.as_str()),
                webhooks::disabled_by.eq(None::<String>),
                webhooks::disabled_at.eq(now),
                webhooks::updated_at.eq(now),
            ))
            .execute(conn)?;
        if changed == 0 {
            return Ok(Change::Unchanged(false));
        }
        fail_pending(conn, &webhook.id, "the webhook was disabled", now)?;
        let payload = serde_json::json!({
            "webhookId": webhook.id.as_str(),
            "url": webhook.url,
            "reason": reason.as_str(),
        })
        .to_string();
        let mark = format!("webhook_disabled:{}:{now}", webhook.id);
        super::notifications::mark_once(
            conn,
            &mark,
            &webhook.project_id,
            "webhook_disabled",
            &payload,
            now,
            false,
        )?;
        Ok(Change::Made(true))
    })
}

/// Keeps a webhook's pending deliveries as failed (it was disabled).
pub fn fail_pending(
    conn: &mut DbConnection,
    webhook_id: &WebhookId,
    why: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook_id))
            .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str())),
    )
    .set((
        webhook_deliveries::state.eq(DeliveryState::Failed.as_str()),
        webhook_deliveries::last_error.eq(why),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::updated_at.eq(now),
    ))
    .execute(conn)
}

/// When the next delivery is due, if any is pending (the job sleeps until then, at most its
/// interval).
pub fn next_due(conn: &mut DbConnection) -> QueryResult<Option<NaiveDateTime>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()))
        .select(diesel::dsl::min(webhook_deliveries::next_attempt_at))
        .first(conn)
}

/// Deletes deliveries (with their attempts) and events older than the log keeps.
pub fn prune(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    let before = now - Span::days(LOG_KEPT_DAYS);
    let deliveries = diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::created_at.lt(before))
            .filter(webhook_deliveries::state.ne(DeliveryState::Pending.as_str())),
    )
    .execute(conn)?;
    let unreferenced = webhook_deliveries::table
        .filter(webhook_deliveries::event_id.eq(webhook_events::id))
        .select(webhook_deliveries::id);
    diesel::delete(
        webhook_events::table
            .filter(webhook_events::created_at.lt(before))
            .filter(diesel::dsl::not(diesel::dsl::exists(unreferenced))),
    )
    .execute(conn)?;
    Ok(deliveries)
}
