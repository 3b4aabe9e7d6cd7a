//! Roll a key with an overlap the admin picks (the new key revealed once), and, during the
//! overlap, stop the old key now or give it 24 more hours.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::super::error::WebError;
use super::super::htmx;
use super::super::shell::{KeyManager, Shell};
use super::api_keys::{change_key, load_table, ListView, Origin, RevealPanel};
use crate::db::{self, api_keys::KeyChange, api_keys::OverlapChange};
use crate::domain::api_key::masked_prefix;
use crate::domain::ids::{KeyId, ProjectId};
use crate::domain::key_change::{stops_in, Overlap};
use crate::domain::key_status::KeyStatus;
use crate::state::AppState;
use crate::time;

#[derive(Template, Default)]
#[template(path = "pages/settings/_roll_modal.html")]
struct RollModal {
    action: String,
    name: String,
    prefix: String,
    has_expiry: bool,
    overlap: String,
    choices: Vec<(&'static str, &'static str)>,
    overlap_error: Option<String>,
    /// Why this key cannot be rolled (revoked, expired, rolled already).
    refused: Option<String>,
}

async fn modal_for(
    state: &AppState,
    shell: &Shell,
    kid: &KeyId,
    from: &Origin,
) -> Result<RollModal, WebError> {
    let key = shell
        .find(state, kid.clone(), db::api_keys::find_in_project)
        .await?;
    let now = time::now();
    let status = KeyStatus::of(
        key.expires_at,
        key.revoked_at,
        key.replaced_by.is_some(),
        now,
    );
    let refused = match status {
        KeyStatus::Revoked => return Err(WebError::NotFound),
        KeyStatus::Expired => {
            Some("This key has expired and cannot be rolled: create a new key instead.")
        }
        KeyStatus::Rolling(_) => Some("This key was already rolled: roll its replacement instead."),
        KeyStatus::Active | KeyStatus::ExpiresSoon(_) => None,
    };
    Ok(RollModal {
        action: shell.url(&format!("settings/api-keys/{kid}/roll{}", from.query())),
        name: key.name,
        prefix: masked_prefix(&key.prefix),
        has_expiry: key.expires_at.is_some(),
        overlap: Overlap::DEFAULT.spelling().to_owned(),
        choices: Overlap::CHOICES.iter().map(|(_, v, l)| (*v, *l)).collect(),
        overlap_error: None,
        refused: refused.map(str::to_owned),
    })
}

/// GET the roll modal (an htmx fragment).
pub async fn roll_modal(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    from: web::Query<Origin>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    htmx::html(&modal_for(&state, &shell, &kid, &from).await?)
}

#[derive(Debug, Deserialize)]
pub struct RollForm {
    #[serde(default)]
    overlap: String,
}

/// POST a roll: the new key revealed once (with `Cache-Control: no-store`), or the modal
/// again saying why not.
pub async fn roll(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    from: web::Query<Origin>,
    form: web::Form<RollForm>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let overlap = match Overlap::parse(&form.overlap) {
        Ok(o) => o,
        Err(e) => {
            let modal = modal_for(&state, &shell, &kid, &from).await?;
            return htmx::html(&RollModal {
                overlap: form.overlap.clone(),
                overlap_error: Some(e.0),
                ..modal
            });
        }
    };
    let outcome = change_key(&req, &state, &shell, &kid, move |conn, pid, kid, by| {
        db::api_keys::roll(conn, pid, kid, overlap, by, time::now())
    })
    .await?;
    let rolled = match outcome {
        KeyChange::Done(rolled) => rolled,
        KeyChange::NotFound => return Err(WebError::NotFound),
        KeyChange::Refused(message) => {
            let modal = modal_for(&state, &shell, &kid, &from).await?;
            return htmx::html(&RollModal {
                refused: Some(message.to_owned()),
                ..modal
            });
        }
        KeyChange::Unchanged => return Err(WebError::Internal("a roll changed nothing".into())),
    };
    tracing::info!(old_key_id = %kid, new_key_id = %rolled.new_key_id, "API key rolled");
    let left = rolled.old_stops_at - time::now();
    let stops = if left <= chrono::Duration::zero() {
        "has stopped working".to_owned()
    } else {
        stops_in(left)
    };
    let (done_url, table) = if from.key_page() {
        (Some(shell.url(&format!("settings/api-keys/{kid}"))), None)
    } else {
        (
            None,
            Some(load_table(&state, &shell, true, ListView::Active).await?),
        )
    };
    RevealPanel {
        title: "API key rolled",
        name: &rolled.name,
        key: rolled.secret.expose_secret(),
        rolled: Some(stops),
        done_url,
        table,
    }
    .response()
}

/// POST `…/stop`: a rolling key stops working now.
pub async fn stop(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    change(
        req,
        state,
        path.into_inner().1,
        shell,
        OverlapChange::StopNow,
    )
    .await
}

/// POST `…/extend`: a rolling key works 24 hours longer.
pub async fn extend(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    change(
        req,
        state,
        path.into_inner().1,
        shell,
        OverlapChange::Extend,
    )
    .await
}

async fn change(
    req: HttpRequest,
    state: web::Data<AppState>,
    kid: KeyId,
    shell: Shell,
    change: OverlapChange,
) -> Result<HttpResponse, WebError> {
    let outcome = change_key(&req, &state, &shell, &kid, move |conn, pid, kid, by| {
        db::api_keys::change_overlap(conn, pid, kid, change, by, time::now())
    })
    .await?;
    let toast = match (outcome, change) {
        (KeyChange::NotFound, _) => return Err(WebError::NotFound),
        (KeyChange::Refused(message), _) => message.to_owned(),
        (KeyChange::Done(_), OverlapChange::StopNow) => {
            "The old key stopped working: requests with it are refused from now on.".to_owned()
        }
        (KeyChange::Done(at), OverlapChange::Extend) => {
            format!("The old key now works until {}.", time::full_label(at))
        }
        (KeyChange::Unchanged, _) => "Nothing changed.".to_owned(),
    };
    let page = shell.url(&format!("settings/api-keys/{kid}"));
    Ok(htmx::with_toast(htmx::redirect(&req, &page), &toast))
}
