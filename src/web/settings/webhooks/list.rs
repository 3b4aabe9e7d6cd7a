//! The tab's list: every webhook of the project with its URL, description, events, status and
//! last delivery. Every member sees it; Owners and Admins also get Add Webhook.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::deliveries::delivery_status;
use crate::db;
use crate::domain::webhook::EventKinds;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{Section, Shell};

/// One webhook of the list, formatted for people.
pub struct WebhookRow {
    pub url: String,
    pub page: String,
    pub description: String,
    pub events: Vec<&'static str>,
    pub status: String,
    pub tone: &'static str,
    /// The last delivery: (its status, when relative, when exactly).
    pub last: Option<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "pages/settings/webhooks/index.html")]
struct WebhooksPage {
    shell: Shell,
    rows: Vec<WebhookRow>,
    can_manage: bool,
    not_offered: &'static str,
}

/// GET the tab.
pub async fn index(state: web::Data<AppState>, shell: Shell) -> Result<HttpResponse, WebError> {
    let pid = shell.project_id.clone();
    let (hooks, lasts) = db::run(&state.pool, move |conn| {
        let hooks = db::webhooks::list(conn, &pid)?;
        let ids: Vec<_> = hooks.iter().map(|h| h.id.clone()).collect();
        let lasts = db::delivery_log::last_of_each(conn, &pid, &ids)?;
        Ok((hooks, lasts))
    })
    .await?;
    let now = time::now();
    let rows = hooks
        .into_iter()
        .map(|h| {
            let (status, tone) = super::status(&h);
            let last = lasts.iter().find(|d| d.webhook_id == h.id).map(|d| {
                (
                    delivery_status(d),
                    time::relative(d.created_at, now),
                    time::full_label(d.created_at),
                )
            });
            WebhookRow {
                page: super::url(&shell, &format!("/{}", h.id)),
                events: EventKinds::from_stored(&h.events)
                    .iter()
                    .map(|k| k.as_str())
                    .collect(),
                url: h.url,
                description: h.description,
                status,
                tone,
                last,
            }
        })
        .collect();
    htmx::html(&WebhooksPage {
        can_manage: shell.role.can_manage_webhooks(),
        shell,
        rows,
        not_offered: super::form::NOT_OFFERED,
    })
}
