//! A webhook's buttons that change it: Enable, Disable, Send test event, and Delete after a
//! confirmation. Each answers with the webhook's page (the list, after Delete) and a toast.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::db::{self, webhooks::WebhookChange};
use crate::domain::ids::{ProjectId, WebhookId};
use crate::state::AppState;
use crate::time;
use crate::web::deletion::ConfirmDelete;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{Shell, WebhookManager};

/// Back to the webhook's page, saying what happened.
fn to_page(req: &HttpRequest, shell: &Shell, id: &WebhookId, toast: &str) -> HttpResponse {
    htmx::with_toast(
        htmx::redirect(req, &super::url(shell, &format!("/{id}"))),
        toast,
    )
}

/// GET the delete confirmation (an htmx fragment).
pub async fn confirm_delete(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let hook = super::load(&state, &shell, id).await?;
    htmx::html(&ConfirmDelete {
        title: "Delete webhook",
        question: format!(
            "Delete the webhook to {}? Nothing more is sent to it, and its delivery log is \
             deleted with it. This cannot be undone.",
            hook.url
        ),
        action: super::url(&shell, &format!("/{}/delete", hook.id)),
    })
}

/// POST delete: to the list.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let (pid, actor, wid) = (shell.project_id.clone(), shell.actor.clone(), id.clone());
    let outcome = db::run(&state.pool, move |conn| {
        db::webhooks::delete(conn, &pid, &wid, &actor, time::now())
    })
    .await?;
    let WebhookChange::Done(url) = outcome else {
        return Err(WebError::NotFound);
    };
    tracing::info!(webhook_id = %id, "webhook deleted");
    Ok(htmx::with_toast(
        htmx::redirect(&req, &super::url(&shell, "")),
        &format!("Webhook to {url} deleted."),
    ))
}

/// A switch of a webhook's state, as the db layer makes it.
type Switch = fn(
    &mut crate::db::DbConnection,
    &ProjectId,
    &WebhookId,
    &crate::domain::actor::Actor,
    chrono::NaiveDateTime,
) -> Result<WebhookChange<()>, crate::db::DbError>;

/// Enable or Disable: the change, then the page with what it did (`already`, `done`).
async fn switch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    shell: Shell,
    change: Switch,
    (already, done): (&str, &str),
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let (pid, actor, wid) = (shell.project_id.clone(), shell.actor.clone(), id.clone());
    let outcome = db::run(&state.pool, move |conn| {
        change(conn, &pid, &wid, &actor, time::now())
    })
    .await?;
    let toast = match outcome {
        WebhookChange::NotFound => return Err(WebError::NotFound),
        WebhookChange::Unchanged => already,
        WebhookChange::Done(()) => done,
    };
    Ok(to_page(&req, &shell, &id, toast))
}

/// POST enable.
pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let toasts = (
        "The webhook was already enabled.",
        "Webhook enabled: new events are sent to it again.",
    );
    switch(req, state, path, shell, db::webhooks::enable, toasts).await
}

/// POST disable: its pending deliveries are kept as failed (Recover sends them later).
pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let toasts = (
        "The webhook was already disabled.",
        "Webhook disabled: nothing is sent to it; its pending deliveries are kept as failed.",
    );
    switch(req, state, path, shell, db::webhooks::disable, toasts).await
}

/// POST **Send test event**: a `test` delivery to this webhook, queued now.
pub async fn send_test(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let hook = super::load(&state, &shell, id.clone()).await?;
    db::run(&state.pool, move |conn| {
        Ok(db::webhook_outbox::enqueue_test(conn, &hook, time::now())?)
    })
    .await?;
    state.jobs.wake_deliveries();
    Ok(to_page(
        &req,
        &shell,
        &id,
        "Test event queued: its delivery shows in the log below.",
    ))
}
