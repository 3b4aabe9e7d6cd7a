//! Settings → API Keys: the list, the create modal, the one-time reveal, and revoke.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::super::error::WebError;
use super::super::shell::{KeyManager, Section, Shell};
use super::super::{client_ip, htmx};
use crate::db::{self, api_keys::KeyRequest, api_keys::Revoked};
use crate::domain::api_key::{masked_prefix, ApiKeyName};
use crate::domain::expiry::{self, Expiry};
use crate::domain::ids::{KeyId, ProjectId};
use crate::domain::ip_rules::IpRules;

use crate::state::AppState;
use crate::time;

/// How the Expires column shows a key.
pub enum ExpiresView {
    Never,
    On(String),
    Expired(String),
}

/// One row of the list, formatted for people.
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub ip_restriction: String,
    pub last_used: Option<(String, String)>,
    pub expires: ExpiresView,
}

impl KeyRow {
    fn from_row(k: db::models::ApiKey, now: NaiveDateTime) -> Self {
        let ip_restriction = IpRules::from_storage(&k.allowed_ips)
            .map(|r| r.summary())
            .unwrap_or_else(|_| "—".to_owned());
        let expires = match k.expires_at {
            None => ExpiresView::Never,
            Some(at) if expiry::is_expired(Some(at), now) => {
                ExpiresView::Expired(time::date_label(at))
            }
            Some(at) => ExpiresView::On(time::date_label(at)),
        };
        KeyRow {
            prefix: masked_prefix(&k.prefix),
            last_used: k
                .last_used_at
                .map(|t| (time::relative(t, now), time::full_label(t))),
            id: k.id.into_string(),
            name: k.name,
            ip_restriction,
            expires,
        }
    }
}

#[derive(Template)]
#[template(path = "pages/settings/_keys_table.html")]
pub struct KeysTable {
    pub project_url: String,
    pub rows: Vec<KeyRow>,
    pub can_manage: bool,
    pub oob: bool,
}

#[derive(Template)]
#[template(path = "pages/settings/api_keys.html")]
struct ApiKeysPage {
    shell: Shell,
    table: KeysTable,
}

#[derive(Template, Default)]
#[template(path = "pages/settings/_create_modal.html")]
struct CreateModal {
    action: String,
    name: String,
    allowed_ips: String,
    expires: String,
    expires_on: String,
    min_date: String,
    name_error: Option<String>,
    allowed_ips_error: Option<String>,
    expires_error: Option<String>,
}

impl CreateModal {
    fn new(shell: &Shell) -> Self {
        CreateModal {
            action: shell.url("settings/api-keys"),
            expires: expiry::DEFAULT_CHOICE.to_owned(),
            min_date: (time::now().date() + chrono::Days::new(1)).to_string(),
            ..Default::default()
        }
    }

    fn presets(&self) -> &'static [(&'static str, &'static str)] {
        &expiry::PRESETS
    }
}

#[derive(Template)]
#[template(path = "pages/settings/_reveal.html")]
struct RevealPanel<'a> {
    name: &'a str,
    key: &'a str,
    table: KeysTable,
}

#[derive(Template)]
#[template(path = "pages/settings/_revoke_confirm.html")]
struct RevokeConfirm {
    name: String,
    action: String,
}

#[derive(Template)]
#[template(path = "pages/settings/_revoked.html")]
struct RevokedResponse {
    table: KeysTable,
}

async fn load_table(state: &AppState, shell: &Shell, oob: bool) -> Result<KeysTable, WebError> {
    let pid = shell.project_id.clone();
    let keys = db::run(&state.pool, move |conn| {
        Ok(db::api_keys::list_active(conn, &pid)?)
    })
    .await?;
    let now = time::now();
    Ok(KeysTable {
        project_url: shell.url(""),
        rows: keys.into_iter().map(|k| KeyRow::from_row(k, now)).collect(),
        can_manage: shell.role.can_manage_keys(),
        oob,
    })
}

/// GET the tab.
pub async fn index(state: web::Data<AppState>, shell: Shell) -> Result<HttpResponse, WebError> {
    let table = load_table(&state, &shell, false).await?;
    htmx::html(&ApiKeysPage { shell, table })
}

/// GET the create modal (an htmx fragment).
pub async fn new_modal(KeyManager(shell): KeyManager) -> Result<HttpResponse, WebError> {
    htmx::html(&CreateModal::new(&shell))
}

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    allowed_ips: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    expires_on: String,
}

/// POST a new key: the reveal panel, or the modal again with the errors.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let today = time::now().date();
    let name = ApiKeyName::parse(&form.name);
    let rules = IpRules::parse(&form.allowed_ips);
    let exp = Expiry::from_form(&form.expires, &form.expires_on, today);
    let (name, rules, exp) = match (name, rules, exp) {
        (Ok(n), Ok(r), Ok(e)) => (n, r, e),
        (n, r, e) => {
            let modal = CreateModal {
                name: form.name.clone(),
                allowed_ips: form.allowed_ips.clone(),
                expires: form.expires.clone(),
                expires_on: form.expires_on.clone(),
                name_error: n.err().map(|e| e.0),
                allowed_ips_error: r.err().map(|e| e.0),
                expires_error: e.err().map(|e| e.0),
                ..CreateModal::new(&shell)
            };
            // 200 so htmx swaps the modal with its messages in place.
            return htmx::html(&modal);
        }
    };

    let ip = client_ip(&req).to_string();
    let (pid, uid) = (shell.project_id.clone(), shell.user_id.clone());
    let key_name = name.clone();
    let (key_id, secret) = db::run(&state.pool, move |conn| {
        let request = KeyRequest {
            project_id: &pid,
            name: &key_name,
            rules: &rules,
            expiry: exp,
            actor_user_id: Some(&uid),
            ip: Some(&ip),
        };
        db::api_keys::issue(conn, &request, time::now())
    })
    .await?;
    tracing::info!(key_id = %key_id, project_id = %shell.project_id, "API key created");
    let table = load_table(&state, &shell, true).await?;
    let body = RevealPanel {
        name: name.as_str(),
        key: secret.expose_secret(),
        table,
    }
    .render()?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// GET the revoke confirmation (an htmx fragment).
pub async fn confirm_revoke(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
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
        action: shell.url(&format!("settings/api-keys/{kid}/revoke")),
    })
}

/// POST revoke: the row leaves the list; a repeat is harmless.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let pid = shell.project_id.clone();
    let ip = client_ip(&req).to_string();
    let uid = shell.user_id.clone();
    let outcome = {
        let kid = kid.clone();
        db::run(&state.pool, move |conn| {
            db::api_keys::revoke(conn, &pid, &kid, Some(&uid), Some(&ip), time::now())
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
    if !htmx::is_htmx(&req) {
        return Ok(htmx::redirect(&req, &shell.url("settings/api-keys")));
    }
    let table = load_table(&state, &shell, true).await?;
    Ok(htmx::with_toast(
        htmx::html(&RevokedResponse { table })?,
        &toast,
    ))
}
