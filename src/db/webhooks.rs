//! Queries on `webhooks`: always scoped to a project. Each change is one function that writes
//! the row and its audit event in one transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, Change, Event};
use super::models::Webhook;
use super::schema::webhooks;
use super::{DbConnection, DbError};
use crate::domain::action::Action;
use crate::domain::actor::Actor;
use crate::domain::ids::{ProjectId, WebhookId};
use crate::domain::webhook::{DisabledReason, EventKinds, WebhookUrl, ROLL_OVERLAP_HOURS};
use crate::webhooks::secret::{Sealer, SigningSecret};

/// A webhook about to be added, its fields parsed.
#[derive(Debug, Clone)]
pub struct NewWebhook<'a> {
    pub url: &'a WebhookUrl,
    pub description: &'a str,
    pub events: &'a EventKinds,
}

/// Adds a webhook with a new signing secret (stored sealed), and its `webhook.created`
/// event. Returns the row and the secret (for the command line, which prints it once).
pub fn create(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    new: &NewWebhook<'_>,
    sealer: &Sealer,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<(Webhook, SigningSecret), DbError> {
    let secret = SigningSecret::generate();
    let row = Webhook {
        id: WebhookId::generate(),
        project_id: project_id.clone(),
        url: new.url.as_str().to_owned(),
        description: new.description.to_owned(),
        events: new.events.to_stored(),
        secret_sealed: sealer.seal(&secret),
        previous_secret_sealed: None,
        previous_secret_until: None,
        enabled: true,
        disabled_reason: None,
        disabled_by: None,
        disabled_at: None,
        failing_since: None,
        created_by: actor.user_id().cloned(),
        created_at: now,
        updated_at: now,
    };
    let id = row.id.clone();
    let event = Event::new(project_id, actor, Action::WebhookCreated, id.as_str());
    let row = audit::audited(conn, &event, now, |conn| {
        diesel::insert_into(webhooks::table)
            .values(&row)
            .execute(conn)?;
        Ok(Change::Made(row))
    })?;
    Ok((row, secret))
}

/// A project's webhook.
pub fn find(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &WebhookId,
) -> QueryResult<Option<Webhook>> {
    webhooks::table
        .filter(webhooks::project_id.eq(project_id))
        .filter(webhooks::id.eq(id))
        .select(Webhook::as_select())
        .first(conn)
        .optional()
}

/// A project's webhooks, oldest first.
pub fn list(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<Vec<Webhook>> {
    webhooks::table
        .filter(webhooks::project_id.eq(project_id))
        .order((webhooks::created_at.asc(), webhooks::id.asc()))
        .select(Webhook::as_select())
        .load(conn)
}

/// What a change to one webhook found.
#[derive(Debug, PartialEq, Eq)]
pub enum WebhookChange<T> {
    Done(T),
    /// Nothing to change (an edit that changes nothing, enabling an enabled webhook…).
    Unchanged,
    /// No such webhook in the project.
    NotFound,
}

/// Each changed field of an edit, before → after (`url`, `description`, `events`).
pub type Changes = Vec<(&'static str, String, String)>;

/// The audit detail of an edit: `{"field": ["before", "after"], …}`, as a key's edit writes it.
fn detail_json(changes: &Changes) -> String {
    let map: serde_json::Map<String, serde_json::Value> = changes
        .iter()
        .map(|(field, before, after)| ((*field).to_owned(), serde_json::json!([before, after])))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Saves an edit of a webhook (URL, description, events) with its `webhook.updated` event
/// (each changed field before → after), in one transaction.
pub fn update(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &WebhookId,
    new: &NewWebhook<'_>,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<WebhookChange<Changes>, DbError> {
    audit::locked(conn, project_id, |conn| {
        let Some(hook) = find(conn, project_id, id)? else {
            return Ok(WebhookChange::NotFound);
        };
        let after = (
            new.url.as_str().to_owned(),
            new.description.to_owned(),
            new.events.to_stored(),
        );
        let changes: Changes = [
            ("url", hook.url.clone(), after.0.clone()),
            ("description", hook.description.clone(), after.1.clone()),
            ("events", hook.events.clone(), after.2.clone()),
        ]
        .into_iter()
        .filter(|(_, before, after)| before != after)
        .collect();
        if changes.is_empty() {
            return Ok(WebhookChange::Unchanged);
        }
        let event = Event {
            detail: Some(detail_json(&changes)),
            ..Event::new(project_id, actor, Action::WebhookUpdated, id.as_str())
        };
        audit::audited(conn, &event, now, |conn| {
            diesel::update(webhooks::table.filter(webhooks::id.eq(id)))
                .set((
                    webhooks::url.eq(&after.0),
                    webhooks::description.eq(&after.1),
                    webhooks::events.eq(&after.2),
                    webhooks::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(Change::Made(()))
        })?;
        Ok(WebhookChange::Done(changes))
    })
}

/// Deletes a webhook (its deliveries and their attempts go with it) with its
/// `webhook.deleted` event; the event names it by the URL it had. Returns its URL.
pub fn delete(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &WebhookId,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<WebhookChange<String>, DbError> {
    let event = Event::new(project_id, actor, Action::WebhookDeleted, id.as_str());
    audit::audited(conn, &event, now, |conn| {
        let Some(hook) = find(conn, project_id, id)? else {
            return Ok(Change::Unchanged(WebhookChange::NotFound));
        };
        diesel::delete(
            webhooks::table
                .filter(webhooks::project_id.eq(project_id))
                .filter(webhooks::id.eq(id)),
        )
        .execute(conn)?;
        Ok(Change::Made(WebhookChange::Done(hook.url)))
    })
}

/// Enables a disabled webhook with its `webhook.enabled` event: the reason, who and when it
/// was disabled, and the failure streak are cleared (the 5 days count afresh).
pub fn enable(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &WebhookId,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<WebhookChange<()>, DbError> {
    let event = Event::new(project_id, actor, Action::WebhookEnabled, id.as_str());
    audit::audited(conn, &event, now, |conn| {
        let Some(hook) = find(conn, project_id, id)? else {
            return Ok(Change::Unchanged(WebhookChange::NotFound));
        };
        if hook.enabled {
            return Ok(Change::Unchanged(WebhookChange::Unchanged));
        }
        diesel::update(webhooks::table.filter(webhooks::id.eq(id)))
            .set((
                webhooks::enabled.eq(true),
                webhooks::disabled_reason.eq(None::<String>),
                webhooks::disabled_by.eq(None::<String>),
                webhooks::disabled_at.eq(None::<NaiveDateTime>),
                webhooks::failing_since.eq(None::<NaiveDateTime>),
                webhooks::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(Change::Made(WebhookChange::Done(())))
    })
}

/// What a disabled webhook's pending deliveries say they failed of.
pub const DISABLED_ERROR: &str = "webhook disabled";

/// Disables a webhook by a person (or the command line), with its `webhook.disabled` event:
/// reason `user`, `disabled_by` the actor as the audit log names them. Its pending deliveries
/// become failed ("webhook disabled"), to be recovered later if wanted.
pub fn disable(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &WebhookId,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<WebhookChange<()>, DbError> {
    let event = Event::new(project_id, actor, Action::WebhookDisabled, id.as_str());
    audit::audited(conn, &event, now, |conn| {
        let Some(hook) = find(conn, project_id, id)? else {
            return Ok(Change::Unchanged(WebhookChange::NotFound));
        };
        if !hook.enabled {
            return Ok(Change::Unchanged(WebhookChange::Unchanged));
        }
        let by = audit::actor_label(conn, actor)?;
        diesel::update(webhooks::table.filter(webhooks::id.eq(id)))
            .set((
                webhooks::enabled.eq(false),
                webhooks::disabled_reason.eq(Some(DisabledReason::ByUser.as_str())),
                webhooks::disabled_by.eq(Some(by)),
                webhooks::disabled_at.eq(Some(now)),
                webhooks::updated_at.eq(now),
            ))
            .execute(conn)?;
        super::webhook_deliveries::fail_pending(conn, id, DISABLED_ERROR, now)?;
        Ok(Change::Made(WebhookChange::Done(())))
    })
}

/// **Reveal**: records `webhook.secret_revealed` and returns the webhook's secret, still
/// sealed (the handler opens it with the server's [`Sealer`]; it is never logged).
pub fn reveal(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &WebhookId,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<Option<String>, DbError> {
    let event = Event::new(
        project_id,
        actor,
        Action::WebhookSecretRevealed,
        id.as_str(),
    );
    audit::audited(conn, &event, now, |conn| {
        Ok(match find(conn, project_id, id)? {
            Some(hook) => Change::Made(Some(hook.secret_sealed)),
            None => Change::Unchanged(None),
        })
    })
}

/// **Roll**: a new secret (stored sealed); the old one keeps signing until now +
/// [`ROLL_OVERLAP_HOURS`]; audit `webhook.secret_rolled`. Returns when the old one stops.
pub fn roll(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &WebhookId,
    sealer: &Sealer,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, DbError> {
    let event = Event::new(project_id, actor, Action::WebhookSecretRolled, id.as_str());
    let until = now + chrono::Duration::hours(ROLL_OVERLAP_HOURS);
    audit::audited(conn, &event, now, |conn| {
        let Some(hook) = find(conn, project_id, id)? else {
            return Ok(Change::Unchanged(None));
        };
        let fresh = sealer.seal(&SigningSecret::generate());
        diesel::update(webhooks::table.filter(webhooks::id.eq(id)))
            .set((
                webhooks::secret_sealed.eq(fresh),
                webhooks::previous_secret_sealed.eq(Some(hook.secret_sealed)),
                webhooks::previous_secret_until.eq(Some(until)),
                webhooks::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(Change::Made(Some(until)))
    })
}
