//! Revoke a key, from the list or from its page, after a confirmation.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::form::Origin;
use super::list::{load_table, ChangedResponse, ListView};
use crate::db::{self, api_keys::Revoked};
use crate::domain::ids::{KeyId, ProjectId};
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::KeyManager;

#[derive(Template)]
#[template(path = "pages/settings/api_keys/_revoke_confirm.html")]
struct RevokeConfirm {
    name: String,
    action: String,
}

/// GET the revoke confirmation (an htmx fragment).
pub async fn confirm_revoke(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    from: web::Query<Origin>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let pid = shell.project_id.clone();
    let key = {
        let (pid, kid) = (pid.clone(), kid.clone());
        db::run(&state.pool, move |conn| {
            Ok(db::api_keys::find_in_project(conn, &pid, &kid)?)
        })
        .await?
    };
    let key = key
        .filter(|k| k.revoked_at.is_none())
        .ok_or(WebError::NotFound)?;
    htmx::html(&RevokeConfirm {
        name: key.name,
        action: shell.url(&format!("settings/api-keys/{kid}/revoke{}", from.query())),
    })
}

/// POST revoke: the row leaves the list; a repeat is harmless.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    from: web::Query<Origin>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let pid = shell.project_id.clone();
    let actor = shell.actor.clone();
    let outcome = {
        let kid = kid.clone();
        db::run(&state.pool, move |conn| {
            db::api_keys::revoke(conn, &pid, &kid, &actor, time::now())
        })
        .await?
    };
    let name = match outcome {
        Revoked::NotFound => return Err(WebError::NotFound),
        Revoked::Now(name) => {
            tracing::info!(key_id = %kid, "API key revoked");
            name
        }
        Revoked::Already(name) => name,
    };
    let toast = format!("Key “{name}” revoked: requests with it are refused from now on.");
    if from.key_page() {
        let page = shell.url(&format!("settings/api-keys/{kid}"));
        return Ok(htmx::with_toast(htmx::redirect(&req, &page), &toast));
    }
    if !htmx::is_htmx(&req) {
        return Ok(htmx::redirect(&req, &shell.url("settings/api-keys")));
    }
    let table = load_table(&state, &shell, true, ListView::Active).await?;
    Ok(htmx::with_toast(
        htmx::html(&ChangedResponse {
            status: "Key revoked.",
            table,
        })?,
        &toast,
    ))
}
