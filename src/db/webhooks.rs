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
use crate::domain::webhook::{EventKinds, WebhookUrl};
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
