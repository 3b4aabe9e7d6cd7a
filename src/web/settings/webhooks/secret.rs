//! A webhook's signing secret: **Reveal** (to Owners and Admins, audited, never cached or
//! logged) and **Roll** (a new secret; both sign for 24 hours), after a confirmation.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::db;
use crate::domain::ids::{ProjectId, WebhookId};
use crate::domain::webhook::ROLL_OVERLAP_HOURS;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::WebhookManager;

/// The revealed secret, swapped in place of the masked one.
#[derive(Template)]
#[template(path = "pages/settings/webhooks/_secret.html")]
struct Revealed {
    /// `whsec_…`, or `None` when the server's secret key no longer opens it.
    secret: Option<String>,
}

/// POST reveal: the secret, in a response no cache may keep. Its `webhook.secret_revealed`
/// event is recorded first.
pub async fn reveal(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let (pid, actor) = (shell.project_id.clone(), shell.actor.clone());
    let sealed = db::run(&state.pool, move |conn| {
        db::webhooks::reveal(conn, &pid, &id, &actor, time::now())
    })
    .await?
    .ok_or(WebError::NotFound)?;
    let secret = state
        .webhooks
        .sealer
        .open(&sealed)
        .ok()
        .map(|s| s.to_whsec());
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(Revealed { secret }.render()?))
}

/// The Roll confirmation.
#[derive(Template)]
#[template(path = "pages/settings/webhooks/_roll_modal.html")]
struct RollModal {
    url: String,
    action: String,
    hours: i64,
}

/// GET the Roll confirmation (an htmx fragment).
pub async fn roll_modal(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let hook = super::load(&state, &shell, id).await?;
    htmx::html(&RollModal {
        url: hook.url,
        action: super::url(&shell, &format!("/{}/roll", hook.id)),
        hours: ROLL_OVERLAP_HOURS,
    })
}

/// POST roll: back to the page, which shows until when the previous secret signs too.
pub async fn roll(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let (pid, actor, wid) = (shell.project_id.clone(), shell.actor.clone(), id.clone());
    let sealer = state.webhooks.sealer.clone();
    let until = db::run(&state.pool, move |conn| {
        db::webhooks::roll(conn, &pid, &wid, &sealer, &actor, time::now())
    })
    .await?
    .ok_or(WebError::NotFound)?;
    tracing::info!(webhook_id = %id, "webhook secret rolled");
    let toast = format!(
        "Secret rolled: both secrets sign until {}. Reveal the new one and put it in your receiver.",
        time::full_label(until)
    );
    Ok(htmx::with_toast(
        htmx::redirect(&req, &super::url(&shell, &format!("/{id}"))),
        &toast,
    ))
}
