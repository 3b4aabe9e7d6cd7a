//! The delivery log of Settings → Webhooks: a webhook's deliveries of the last
//! [`LOG_KEPT_DAYS`] days, one delivery with its event and attempts, and the two ways a person
//! sends deliveries again (Resend, Recover failed since …). Always scoped to a project and a
//! webhook. Neither re-send is an audited action (the spec lists none): the log itself shows
//! them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{Attempt, Delivery, WebhookEvent};
use super::schema::{webhook_attempts, webhook_deliveries as wd, webhook_events};
use super::DbConnection;
use crate::domain::ids::{DeliveryId, ProjectId, WebhookId};
use crate::domain::webhook::{DeliveryState, LOG_KEPT_DAYS};

type Backend = <DbConnection as Connection>::Backend;

/// Which deliveries the log lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogFilter {
    /// Only the failed ones.
    pub failed_only: bool,
}

fn in_log(
    project_id: &ProjectId,
    webhook_id: &WebhookId,
    filter: LogFilter,
    now: NaiveDateTime,
) -> wd::BoxedQuery<'static, Backend> {
    let since = now - chrono::Duration::days(LOG_KEPT_DAYS);
    let mut q = wd::table
        .filter(wd::project_id.eq(project_id.clone()))
        .filter(wd::webhook_id.eq(webhook_id.clone()))
        .filter(wd::created_at.ge(since))
        .into_boxed();
    if filter.failed_only {
        q = q.filter(wd::state.eq(DeliveryState::Failed.as_str()));
    }
    q
}

/// How many deliveries the log holds for this webhook and filter.
pub fn count(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    webhook_id: &WebhookId,
    filter: LogFilter,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    in_log(project_id, webhook_id, filter, now)
        .count()
        .get_result(conn)
}

/// One page of the log, newest first.
pub fn page(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    webhook_id: &WebhookId,
    filter: LogFilter,
    now: NaiveDateTime,
    per_page: i64,
    offset: i64,
) -> QueryResult<Vec<Delivery>> {
    in_log(project_id, webhook_id, filter, now)
        .order((wd::created_at.desc(), wd::seq.desc(), wd::id.desc()))
        .limit(per_page)
        .offset(offset)
        .select(Delivery::as_select())
        .load(conn)
}

/// The newest delivery of each of these webhooks (the tab's "Last delivery").
pub fn last_of_each(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    webhook_ids: &[WebhookId],
) -> QueryResult<Vec<Delivery>> {
    let mut out = Vec::with_capacity(webhook_ids.len());
    for id in webhook_ids {
        let last = wd::table
            .filter(wd::project_id.eq(project_id))
            .filter(wd::webhook_id.eq(id))
            .order((wd::created_at.desc(), wd::id.desc()))
            .select(Delivery::as_select())
            .first(conn)
            .optional()?;
        out.extend(last);
    }
    Ok(out)
}

/// One delivery of this webhook, its event (the body sent) and its attempts, newest first.
pub struct DeliveryDetail {
    pub delivery: Delivery,
    pub event: Option<WebhookEvent>,
    pub attempts: Vec<Attempt>,
}

/// A delivery of this project's webhook, or `None` (another webhook's or project's too).
pub fn find(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    webhook_id: &WebhookId,
    id: &DeliveryId,
) -> QueryResult<Option<DeliveryDetail>> {
    let Some(delivery) = wd::table
        .filter(wd::project_id.eq(project_id))
        .filter(wd::webhook_id.eq(webhook_id))
        .filter(wd::id.eq(id))
        .select(Delivery::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let event = webhook_events::table
        .find(&delivery.event_id)
        .select(WebhookEvent::as_select())
        .first(conn)
        .optional()?;
    let attempts = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq(id))
        .order((
            webhook_attempts::attempted_at.desc(),
            webhook_attempts::id.desc(),
        ))
        .select(Attempt::as_select())
        .load(conn)?;
    Ok(Some(DeliveryDetail {
        delivery,
        event,
        attempts,
    }))
}

/// The columns that put a delivery back in the queue: due now, no attempt counted, no claim.
macro_rules! requeued {
    ($now:expr) => {
        (
            wd::state.eq(DeliveryState::Pending.as_str()),
            wd::next_attempt_at.eq($now),
            wd::attempts.eq(0),
            wd::lease_until.eq(None::<NaiveDateTime>),
            wd::delivered_at.eq(None::<NaiveDateTime>),
            wd::updated_at.eq($now),
        )
    };
}

/// **Resend**: the delivery goes back in the queue, due now, with the same id (so the same
/// `webhook-id`: the receiver can tell it is the same message). Whether it was found.
pub fn resend(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    webhook_id: &WebhookId,
    id: &DeliveryId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        wd::table
            .filter(wd::project_id.eq(project_id))
            .filter(wd::webhook_id.eq(webhook_id))
            .filter(wd::id.eq(id)),
    )
    .set(requeued!(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// **Recover failed since …**: every failed delivery of this webhook created since `since`
/// goes back in the queue, due now. Returns how many.
pub fn recover_failed_since(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    webhook_id: &WebhookId,
    since: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        wd::table
            .filter(wd::project_id.eq(project_id))
            .filter(wd::webhook_id.eq(webhook_id))
            .filter(wd::state.eq(DeliveryState::Failed.as_str()))
            .filter(wd::created_at.ge(since)),
    )
    .set(requeued!(now))
    .execute(conn)
}
