//! A webhook's own page: its URL, description, events and status, its signing secret
//! (masked, with Reveal and Roll), its buttons, and its delivery log (newest first, "failed
//! only", paged). Every member sees it; Owners and Admins also see its actions.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::deliveries::DeliveryRow;
use crate::db::{self, delivery_log::LogFilter};
use crate::domain::ids::{ProjectId, WebhookId};
use crate::domain::pagination::PageNumber;
use crate::domain::webhook::{EventKinds, LOG_KEPT_DAYS};
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::pager::{self, PageLink};
use crate::web::shell::{Section, Shell};

/// Deliveries a page of the log shows.
pub const PAGE_SIZE: i64 = 25;

/// `?failed=1&page=2`.
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    failed: Option<String>,
    page: Option<String>,
}

impl LogQuery {
    fn filter(&self) -> LogFilter {
        LogFilter {
            failed_only: matches!(self.failed.as_deref(), Some("1" | "on" | "true")),
        }
    }
}

/// The query string of a page of the log with this filter.
fn query(filter: LogFilter, page: i64) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if filter.failed_only {
        q.append_pair("failed", "1");
    }
    if page > 1 {
        q.append_pair("page", &page.to_string());
    }
    q.finish()
}

#[derive(Template)]
#[template(path = "pages/settings/webhooks/show.html")]
struct WebhookPage {
    shell: Shell,
    back: String,
    /// `…/settings/webhooks/{id}`.
    base: String,
    url: String,
    description: String,
    events: Vec<(&'static str, &'static str)>,
    status: String,
    tone: &'static str,
    enabled: bool,
    created: (String, String),
    /// During a roll's overlap: until when the previous secret signs too (exact instant).
    previous_until: Option<String>,
    can_manage: bool,
    failed_only: bool,
    rows: Vec<DeliveryRow>,
    total: i64,
    prev: Option<String>,
    next: Option<String>,
    pages: Vec<PageLink>,
    kept_days: i64,
    /// The Recover form's default: a day ago, as a `datetime-local` value.
    recover_default: String,
}

/// GET the webhook's page.
pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    q: web::Query<LogQuery>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let hook = super::load(&state, &shell, id).await?;
    let filter = q.filter();
    let asked = PageNumber::from_query(q.page.as_deref());
    let now = time::now();
    let (pid, wid) = (shell.project_id.clone(), hook.id.clone());
    let (total, page, deliveries) = db::run(&state.pool, move |conn| {
        let total = db::delivery_log::count(conn, &pid, &wid, filter, now)?;
        let page = asked.within(total, PAGE_SIZE);
        let rows = db::delivery_log::page(
            conn,
            &pid,
            &wid,
            filter,
            now,
            PAGE_SIZE,
            page.offset(PAGE_SIZE),
        )?;
        Ok((total, page, rows))
    })
    .await?;
    let (p, count) = (page.get(), PageNumber::count(total, PAGE_SIZE));
    let (status, tone) = super::status(&hook);
    let base = super::url(&shell, &format!("/{}", hook.id));
    htmx::html(&WebhookPage {
        back: super::url(&shell, ""),
        rows: deliveries
            .iter()
            .map(|d| DeliveryRow::new(&shell, d, now))
            .collect(),
        base,
        url: hook.url.clone(),
        description: hook.description.clone(),
        events: EventKinds::from_stored(&hook.events)
            .iter()
            .map(|k| (k.as_str(), k.description()))
            .collect(),
        status,
        tone,
        enabled: hook.enabled,
        created: (
            time::date_label(hook.created_at),
            time::full_label(hook.created_at),
        ),
        previous_until: hook
            .previous_secret_until
            .filter(|until| *until > now && hook.previous_secret_sealed.is_some())
            .map(time::full_label),
        can_manage: shell.role.can_manage_webhooks(),
        failed_only: filter.failed_only,
        total,
        prev: (p > 1).then(|| query(filter, p - 1)),
        next: (p < count).then(|| query(filter, p + 1)),
        pages: if count > 1 {
            pager::links(p, count, |n| query(filter, n))
        } else {
            Vec::new()
        },
        kept_days: LOG_KEPT_DAYS,
        recover_default: (now - chrono::Duration::days(1))
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
        shell,
    })
}
