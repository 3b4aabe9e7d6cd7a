//! Roll a key with an overlap the admin picks (the new key revealed once), and, during the
//! overlap, stop the old key now or give it 24 more hours.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::change::change_key;
use super::create::RevealPanel;
use super::form::Origin;
use super::list::{load_table, ListView};
use super::page::SinceRollFacts;
use crate::db::{self, api_keys::KeyChange, api_keys::OverlapChange};
use crate::domain::api_key::masked_prefix;
use crate::domain::expiry::{self, Expiry};
use crate::domain::ids::{KeyId, ProjectId};
use crate::domain::key_change::{stops_in, Overlap, RollPlan};
use crate::domain::key_names::key_label;
use crate::domain::key_status::KeyStatus;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{KeyManager, Shell};

#[derive(Template, Default)]
#[template(path = "pages/settings/api_keys/_roll_modal.html")]
struct RollModal {
    action: String,
    name: String,
    prefix: String,
    overlap: String,
    /// The new key's Expiration field (`_expiry_field.html`), its "Keep" the old key's expiry.
    expires: String,
    expires_on: String,
    min_date: String,
    keep_expiry: Option<String>,
    expires_error: Option<String>,
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
    let new_expires_on = RollPlan::new(key.created_at, key.expires_at, Overlap::DEFAULT, now)
        .new_expires_at
        .map(|at| at.date().to_string());
    Ok(RollModal {
        action: shell.url(&format!("settings/api-keys/{kid}/roll{}", from.query())),
        name: key.name,
        prefix: masked_prefix(&key.prefix),
        overlap: Overlap::DEFAULT.spelling().to_owned(),
        // Prefilled with what a roll gives by default (as long after its creation as the old
        // key's was), as a date the admin sees and may change: a date chosen as a contract's
        // end never moves silently; "Keep" offers the old key's own.
        expires: if new_expires_on.is_some() {
            "custom"
        } else {
            "never"
        }
        .to_owned(),
        expires_on: new_expires_on.unwrap_or_default(),
        min_date: (now.date() + chrono::Days::new(1)).to_string(),
        keep_expiry: Some(
            key.expires_at
                .map_or_else(|| "no expiration".to_owned(), time::date_label),
        ),
        choices: Overlap::CHOICES.iter().map(|(_, v, l)| (*v, *l)).collect(),
        refused: refused.map(str::to_owned),
        ..Default::default()
    })
}

impl RollModal {
    fn presets(&self) -> &'static [(&'static str, &'static str)] {
        &expiry::PRESETS
    }

    fn expiry_label(&self) -> &'static str {
        "The new key expires"
    }

    fn expiry_hint(&self) -> &'static str {
        "Prefilled as long after today as the old key had from its creation; “Keep” gives \
         it the old key’s own date. A dated key works until the end of that day (UTC)."
    }
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
    /// The new key's expiry: `keep` (the old key's), a preset, `never` or `custom`.
    #[serde(default)]
    expires: String,
    #[serde(default)]
    expires_on: String,
}

/// POST a roll: the new key revealed once (with `Cache-Control: no-store`), or the modal
/// again saying why not.
pub async fn roll(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    from: web::Query<Origin>,
    form: web::Form<RollForm>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let key = shell
        .find(&state, kid.clone(), db::api_keys::find_in_project)
        .await?;
    let overlap = Overlap::parse(&form.overlap);
    // Exactly what the admin chose: the old key's expiry kept as it is, or a new one
    // validated as at creation. A form without the field (a script written before the modal
    // showed it) gets what the modal prefills: the roll's lifetime rule, as `callem keys roll`.
    let expiry = match form.expires.trim() {
        "" => Ok(None),
        "keep" => Ok(Some(key.expires_at)),
        choice => Expiry::from_form(choice, &form.expires_on, time::now().date())
            .map(|e| Some(e.expires_at())),
    };
    let (overlap, new_expires_at) = match (overlap, expiry) {
        (Ok(o), Ok(e)) => (o, e),
        (o, e) => {
            let modal = modal_for(&state, &shell, &kid, &from).await?;
            return htmx::html(&RollModal {
                overlap: form.overlap.clone(),
                overlap_error: o.err().map(|e| e.0),
                expires: form.expires.clone(),
                expires_on: form.expires_on.clone(),
                expires_error: e.err().map(|e| e.0),
                ..modal
            });
        }
    };
    let outcome = change_key(&state, &shell, &kid, move |conn, pid, kid, by| {
        db::api_keys::roll(conn, pid, kid, overlap, new_expires_at, by, time::now())
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

/// Stop now's confirmation: the old key's use since the roll, as its panel says it.
#[derive(Template)]
#[template(path = "pages/settings/api_keys/_stop_confirm.html")]
struct StopConfirm {
    action: String,
    /// `Production CRM (ck_live_tk61••••)`.
    label: String,
    facts: Option<SinceRollFacts>,
    /// Why it cannot be stopped (not in an overlap any more).
    refused: Option<&'static str>,
}

/// GET `…/stop`: Stop now's confirmation (an htmx fragment), repeating the traffic the
/// rolling panel shows, so nobody cuts off a client that is still calling by one click.
pub async fn confirm_stop(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let kid = path.into_inner().1;
    let key = shell
        .find(&state, kid.clone(), db::api_keys::find_in_project)
        .await?;
    let now = time::now();
    let status = KeyStatus::of(
        key.expires_at,
        key.revoked_at,
        key.replaced_by.is_some(),
        now,
    );
    let label = key_label(&key.name, &key.prefix);
    let since = if matches!(status, KeyStatus::Rolling(_)) {
        db::run(&state.pool, move |conn| {
            Ok(db::api_keys::since_roll(conn, &key)?)
        })
        .await?
    } else {
        None
    };
    htmx::html(&StopConfirm {
        action: shell.url(&format!("settings/api-keys/{kid}/stop")),
        label,
        refused: since
            .is_none()
            .then_some("This key is not in a roll's overlap any more."),
        facts: since.map(|s| SinceRollFacts::of(&s, now)),
    })
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
    let outcome = change_key(&state, &shell, &kid, move |conn, pid, kid, by| {
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
