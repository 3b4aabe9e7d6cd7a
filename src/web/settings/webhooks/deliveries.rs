//! The delivery log's own pages and buttons: a delivery (its request and each attempt),
//! **Resend**, and **Recover failed since …**.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDate, NaiveDateTime};
use serde::Deserialize;

use crate::db::{self, models::Delivery};
use crate::domain::ids::{DeliveryId, ProjectId, WebhookId};
use crate::domain::webhook::{self, DeliveryState, EventKind};
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{Section, Shell, WebhookManager};

/// A delivery's status in the log ([`webhook::delivery_status`]).
pub fn delivery_status(d: &Delivery) -> String {
    match d.state.parse::<DeliveryState>() {
        Ok(state) => {
            webhook::delivery_status(state, d.attempts, &time::full_label(d.next_attempt_at))
        }
        Err(_) => d.state.clone(),
    }
}

/// The badge's tone of a delivery's status.
fn tone(d: &Delivery) -> &'static str {
    match d.state.parse::<DeliveryState>() {
        Ok(DeliveryState::Delivered) => "success",
        Ok(DeliveryState::Failed) => "danger",
        Ok(DeliveryState::Pending) if d.attempts > 0 => "warning",
        _ => "muted",
    }
}

/// What a delivery is about, in the log: the call or the key (linked to its page), or
/// nothing for a test event.
pub struct Subject {
    pub label: String,
    pub url: Option<String>,
}

fn subject(shell: &Shell, d: &Delivery) -> Subject {
    match d.kind.parse::<EventKind>() {
        Ok(EventKind::Test) => Subject {
            label: "Test event".to_owned(),
            url: None,
        },
        Ok(k) if k.is_about_a_call() => Subject {
            label: format!("Call {}", d.subject),
            url: Some(shell.url(&format!("calls/{}", d.subject))),
        },
        Ok(_) => Subject {
            label: format!("Key {}", d.subject),
            url: Some(shell.url(&format!("settings/api-keys/{}", d.subject))),
        },
        Err(_) => Subject {
            label: d.subject.clone(),
            url: None,
        },
    }
}

/// One delivery of the log, formatted for people.
pub struct DeliveryRow {
    pub id: String,
    pub page: String,
    pub event: String,
    pub subject: Subject,
    pub status: String,
    pub tone: &'static str,
    pub attempts: i32,
    /// When it was queued: (relative, exact).
    pub created: (String, String),
}

impl DeliveryRow {
    pub fn new(shell: &Shell, d: &Delivery, now: NaiveDateTime) -> Self {
        DeliveryRow {
            id: d.id.as_str().to_owned(),
            page: super::url(shell, &format!("/{}/deliveries/{}", d.webhook_id, d.id)),
            event: d.kind.clone(),
            subject: subject(shell, d),
            status: delivery_status(d),
            tone: tone(d),
            attempts: d.attempts,
            created: (
                time::relative(d.created_at, now),
                time::full_label(d.created_at),
            ),
        }
    }
}

/// One attempt, formatted for people.
pub struct AttemptRow {
    pub when: (String, String),
    /// `200`, or the error.
    pub outcome: String,
    pub ok: bool,
    pub duration: String,
    pub response_body: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "pages/settings/webhooks/delivery.html")]
struct DeliveryPage {
    shell: Shell,
    back: String,
    webhook_url: String,
    row: DeliveryRow,
    /// The `webhook-id` every attempt carried.
    message_id: String,
    /// The request's body (the event's payload), pretty-printed.
    body: String,
    attempts: Vec<AttemptRow>,
    last_error: Option<String>,
    resend: Option<String>,
}

/// GET a delivery of the webhook: its request and each attempt, newest first.
pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId, DeliveryId)>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let (_, wid, did) = path.into_inner();
    let hook = super::load(&state, &shell, wid.clone()).await?;
    let pid = shell.project_id.clone();
    let detail = db::run(&state.pool, move |conn| {
        Ok(db::delivery_log::find(conn, &pid, &wid, &did)?)
    })
    .await?
    .ok_or(WebError::NotFound)?;
    let now = time::now();
    let body = detail
        .event
        .as_ref()
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.payload)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_else(|_| e.payload.clone())
        })
        .unwrap_or_default();
    let attempts = detail
        .attempts
        .iter()
        .map(|a| AttemptRow {
            when: (
                time::relative(a.attempted_at, now),
                time::full_label(a.attempted_at),
            ),
            outcome: match (a.status, &a.error) {
                (Some(s), Some(e)) => format!("{s} — {e}"),
                (Some(s), None) => s.to_string(),
                (None, Some(e)) => e.clone(),
                (None, None) => "No response".to_owned(),
            },
            ok: a.status.is_some_and(|s| (200..300).contains(&s)) && a.error.is_none(),
            duration: format!("{} ms", a.duration_ms),
            response_body: a.response_body.clone(),
            headers: serde_json::from_str(&a.request_headers).unwrap_or_default(),
        })
        .collect();
    let d = &detail.delivery;
    let back = super::url(&shell, &format!("/{}", hook.id));
    htmx::html(&DeliveryPage {
        resend: shell
            .role
            .can_manage_webhooks()
            .then(|| format!("{}/deliveries/{}/resend", back, d.id)),
        row: DeliveryRow::new(&shell, d, now),
        message_id: d.id.as_str().to_owned(),
        last_error: d.last_error.clone(),
        body,
        attempts,
        webhook_url: hook.url,
        back,
        shell,
    })
}

/// POST **Resend**: the delivery is queued again, with the same `webhook-id`.
pub async fn resend(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId, DeliveryId)>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let (_, wid, did) = path.into_inner();
    let pid = shell.project_id.clone();
    let (w, d) = (wid.clone(), did.clone());
    let found = db::run(&state.pool, move |conn| {
        Ok(db::delivery_log::resend(conn, &pid, &w, &d, time::now())?)
    })
    .await?;
    state.jobs.wake_deliveries();
    if !found {
        return Err(WebError::NotFound);
    }
    let page = super::url(&shell, &format!("/{wid}/deliveries/{did}"));
    Ok(htmx::with_toast(
        htmx::redirect(&req, &page),
        "Delivery queued again, with the same webhook-id.",
    ))
}

/// The Recover form: `since`, a date (`2026-03-17`, from its start) or a date and time
/// (`2026-03-17T09:30`), UTC.
#[derive(Debug, Deserialize)]
pub struct RecoverForm {
    #[serde(default)]
    since: String,
}

/// `since` read as UTC, or `None`.
fn parse_since(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// POST **Recover failed since …**: every failed delivery of the webhook created since then is
/// queued again; the toast says how many.
pub async fn recover(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    form: web::Form<RecoverForm>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let (_, wid) = path.into_inner();
    let hook = super::load(&state, &shell, wid.clone()).await?;
    let page = super::url(&shell, &format!("/{wid}"));
    let Some(since) = parse_since(&form.since) else {
        return Ok(htmx::with_toast(
            htmx::redirect(&req, &page),
            "Choose the date (and time, UTC) to recover failed deliveries from.",
        ));
    };
    let pid = shell.project_id.clone();
    let n = db::run(&state.pool, move |conn| {
        Ok(db::delivery_log::recover_failed_since(
            conn,
            &pid,
            &hook.id,
            since,
            time::now(),
        )?)
    })
    .await?;
    state.jobs.wake_deliveries();
    let toast = match n {
        0 => format!(
            "No failed delivery since {}: nothing to recover.",
            time::full_label(since)
        ),
        1 => format!(
            "1 failed delivery since {} queued again.",
            time::full_label(since)
        ),
        n => format!(
            "{n} failed deliveries since {} queued again.",
            time::full_label(since)
        ),
    };
    Ok(htmx::with_toast(htmx::redirect(&req, &page), &toast))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recover_reads_a_date_or_a_date_and_time() {
        let d = |s| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(parse_since("2026-03-17"), Some(d("2026-03-17 00:00:00")));
        assert_eq!(
            parse_since("2026-03-17T09:30"),
            Some(d("2026-03-17 09:30:00"))
        );
        assert_eq!(parse_since(""), None);
        assert_eq!(parse_since("yesterday"), None);
    }
}
