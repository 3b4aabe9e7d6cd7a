//! The webhook outbox: an event row, and one delivery row per enabled webhook subscribed to it,
//! written by the function that makes the change, inside its transaction. A change that rolls
//! back sends nothing; one that commits is delivered even if the process dies the next instant
//! (the delivery job reads these rows, on any replica).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{json, Value};

use super::models::{ApiKey, Call, Delivery, Webhook, WebhookEvent};
use super::schema::{webhook_deliveries, webhook_events, webhooks};
use super::DbConnection;
use crate::domain::ids::{new_id, DeliveryId, ProjectId};
use crate::domain::webhook::{DeliveryState, EventKind, EventKinds};
use crate::time::iso_millis;

/// How a call reads in an event's body: the API's call object. The API owns that shape and
/// hands its function to the writes that cause call events (this layer does not import it).
pub type CallJson = fn(&Call) -> Value;

/// An event about to be written: its kind, what it is about, and its body's object.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    /// The call's or key's id: one subject's events are delivered in order.
    pub subject: String,
    /// The body as sent: `{"event", "timestamp", "call" | "apiKey" | …}`.
    pub body: Value,
}

impl NewEvent {
    /// A call event in the hosted envelope.
    pub fn call(kind: EventKind, call: &Call, render: CallJson, at: NaiveDateTime) -> Self {
        NewEvent {
            kind,
            subject: call.id.as_str().to_owned(),
            body: json!({
                "event": kind.as_str(),
                "timestamp": iso_millis(at),
                "call": render(call),
            }),
        }
    }

    /// A key event: the key's id, name, prefix, expiry and the reason, never the key itself.
    pub fn key(kind: EventKind, key: &ApiKey, reason: Option<&str>, at: NaiveDateTime) -> Self {
        NewEvent {
            kind,
            subject: key.id.as_str().to_owned(),
            body: json!({
                "event": kind.as_str(),
                "timestamp": iso_millis(at),
                "apiKey": {
                    "id": key.id.as_str(),
                    "name": key.name,
                    "prefix": key.prefix,
                    "expiresAt": key.expires_at.map(iso_millis),
                    "reason": reason,
                },
            }),
        }
    }
}

/// Which events a change of a call causes, in the order they happened: `before` is the call
/// as it was (`None` when created), `after` as it is now. `call_started` for a call created
/// live; `call_ended` for one created completed or turned completed; `call_analyzed` when its
/// analysis becomes non-empty, after the `call_ended` of the same change.
pub fn call_events(before: Option<&Call>, after: &Call) -> Vec<EventKind> {
    use crate::domain::calls::CallStatus;
    let analysed = |c: &Call| {
        serde_json::from_str::<serde_json::Map<String, Value>>(&c.call_analysis)
            .map(|m| !m.is_empty())
            .unwrap_or(false)
    };
    let mut kinds = Vec::new();
    let live = |c: &Call| c.status == CallStatus::Live;
    match before {
        None if live(after) => kinds.push(EventKind::CallStarted),
        None => kinds.push(EventKind::CallEnded),
        Some(b) if live(b) && !live(after) => kinds.push(EventKind::CallEnded),
        Some(_) => {}
    }
    if analysed(after) && !before.is_some_and(analysed) {
        kinds.push(EventKind::CallAnalyzed);
    }
    kinds
}

/// Writes the events and their deliveries. Call it inside the change's transaction. An event
/// no enabled webhook of the project subscribes to is not written at all (nothing would read
/// it). Returns the number of deliveries queued.
pub fn enqueue(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    events: &[NewEvent],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let subscribed: Vec<(crate::domain::ids::WebhookId, String)> = webhooks::table
        .filter(webhooks::project_id.eq(project_id))
        .filter(webhooks::enabled.eq(true))
        .select((webhooks::id, webhooks::events))
        .load(conn)?;
    if subscribed.is_empty() {
        return Ok(0);
    }
    let subscribed: Vec<_> = subscribed
        .into_iter()
        .map(|(id, events)| (id, EventKinds::from_stored(&events)))
        .collect();
    let mut queued = 0;
    for event in events {
        let to: Vec<_> = subscribed
            .iter()
            .filter(|(_, kinds)| kinds.contains(event.kind) && event.kind != EventKind::Test)
            .map(|(id, _)| id.clone())
            .collect();
        if to.is_empty() {
            continue;
        }
        let row = insert_event(conn, project_id, event, now)?;
        for webhook_id in to {
            insert_delivery(conn, &row, webhook_id, now)?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// **Send test event**: a `test` event to this one webhook (enabled or not: the person asked).
pub fn enqueue_test(
    conn: &mut DbConnection,
    webhook: &Webhook,
    now: NaiveDateTime,
) -> QueryResult<DeliveryId> {
    let event = NewEvent {
        kind: EventKind::Test,
        subject: webhook.id.as_str().to_owned(),
        body: json!({
            "event": EventKind::Test.as_str(),
            "timestamp": iso_millis(now),
            "webhook": {"id": webhook.id.as_str(), "url": webhook.url},
        }),
    };
    super::transaction(conn, |conn| {
        // The webhook's row first: two test events at once take their places in turn.
        diesel::update(webhooks::table.find(&webhook.id))
            .set(webhooks::updated_at.eq(webhooks::updated_at))
            .execute(conn)?;
        let row = insert_event(conn, &webhook.project_id, &event, now)?;
        insert_delivery(conn, &row, webhook.id.clone(), now)
    })
}

fn insert_event(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    event: &NewEvent,
    now: NaiveDateTime,
) -> QueryResult<WebhookEvent> {
    // The subject's row was written (and so locked) first by the change itself, so two
    // changes of one call take their places one after the other.
    let last: Option<i64> = webhook_events::table
        .filter(webhook_events::project_id.eq(project_id))
        .filter(webhook_events::subject.eq(&event.subject))
        .select(diesel::dsl::max(webhook_events::seq))
        .first(conn)?;
    let row = WebhookEvent {
        id: format!("evt_{}", new_id()),
        project_id: project_id.clone(),
        kind: event.kind.as_str().to_owned(),
        subject: event.subject.clone(),
        seq: last.unwrap_or(0) + 1,
        payload: event.body.to_string(),
        created_at: now,
    };
    diesel::insert_into(webhook_events::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

fn insert_delivery(
    conn: &mut DbConnection,
    event: &WebhookEvent,
    webhook_id: crate::domain::ids::WebhookId,
    now: NaiveDateTime,
) -> QueryResult<DeliveryId> {
    let row = Delivery {
        id: DeliveryId::new_message(),
        webhook_id,
        event_id: event.id.clone(),
        project_id: event.project_id.clone(),
        kind: event.kind.clone(),
        subject: event.subject.clone(),
        seq: event.seq,
        state: DeliveryState::Pending.as_str().to_owned(),
        attempts: 0,
        next_attempt_at: now,
        lease_until: None,
        last_status: None,
        last_error: None,
        created_at: now,
        updated_at: now,
        delivered_at: None,
    };
    diesel::insert_into(webhook_deliveries::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calls::CallStatus;
    use crate::domain::ids::CallId;

    fn call(status: CallStatus, analysis: &str) -> Call {
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc();
        Call {
            id: CallId::generate(),
            project_id: ProjectId::generate(),
            status,
            duration: 0.0,
            summary: None,
            evaluation: None,
            ended_reason: None,
            caller_number: None,
            called_number: None,
            is_engaged: false,
            call_analysis: analysis.to_owned(),
            transcript: "[]".to_owned(),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_calls_changes_cause_its_events_in_the_order_they_happened() {
        use CallStatus::{Completed, Live};
        use EventKind::{CallAnalyzed as A, CallEnded as E, CallStarted as S};
        assert_eq!(call_events(None, &call(Live, "{}")), [S]);
        assert_eq!(call_events(None, &call(Completed, "{}")), [E]);
        assert_eq!(call_events(None, &call(Completed, r#"{"x":1}"#)), [E, A]);
        let live = call(Live, "{}");
        assert_eq!(
            call_events(Some(&live), &call(Completed, r#"{"x":1}"#)),
            [E, A]
        );
        assert_eq!(call_events(Some(&live), &call(Live, "{}")), []);
        let ended = call(Completed, "{}");
        assert_eq!(
            call_events(Some(&ended), &call(Completed, r#"{"a":"b"}"#)),
            [A]
        );
        let analysed = call(Completed, r#"{"a":"b"}"#);
        assert_eq!(
            call_events(Some(&analysed), &call(Completed, r#"{"a":"c"}"#)),
            []
        );
    }
}
