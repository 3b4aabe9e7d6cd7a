//! Create a key: the modal, and the one-time reveal of a created (or rolled) key.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::form::KeyForm;
use super::list::{load_table, KeysTable, ListView};
use crate::db::{self, api_keys::KeyRequest};
use crate::domain::api_key::ApiKeyName;
use crate::domain::expiry::{self, Expiry};
use crate::domain::ip_rules::IpRules;
use crate::domain::scope::Scope;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{KeyManager, Shell};

#[derive(Template, Default)]
#[template(path = "pages/settings/api_keys/_create_modal.html")]
struct CreateModal {
    action: String,
    name: String,
    allowed_ips: String,
    expires: String,
    expires_on: String,
    min_date: String,
    /// The edit modal's "Keep" choice; never in the create modal.
    keep_expiry: Option<String>,
    /// The Access field (`_access_field.html`): `full|read|custom` and the two custom selects.
    access_choice: String,
    calls_access: String,
    knowledge_access: String,
    name_error: Option<String>,
    allowed_ips_error: Option<String>,
    expires_error: Option<String>,
    access_error: Option<String>,
}

impl CreateModal {
    fn new(shell: &Shell) -> Self {
        let (access, calls, knowledge) = Scope::default().form_values();
        CreateModal {
            action: shell.url("settings/api-keys"),
            expires: expiry::DEFAULT_CHOICE.to_owned(),
            access_choice: access.to_owned(),
            calls_access: calls.to_owned(),
            knowledge_access: knowledge.to_owned(),
            min_date: (time::now().date() + chrono::Days::new(1)).to_string(),
            ..Default::default()
        }
    }

    fn presets(&self) -> &'static [(&'static str, &'static str)] {
        &expiry::PRESETS
    }

    fn expiry_label(&self) -> &'static str {
        "Expiration"
    }

    fn expiry_hint(&self) -> &'static str {
        "A dated key works until the end of that day (UTC)."
    }
}

/// The one-time reveal of a created or rolled key (sent with `Cache-Control: no-store`).
#[derive(Template)]
#[template(path = "pages/settings/api_keys/_reveal.html")]
pub(super) struct RevealPanel<'a> {
    pub title: &'static str,
    pub name: &'a str,
    pub key: &'a str,
    /// For a roll: when the old key stops (`stops in 24 h`, `has stopped`).
    pub rolled: Option<String>,
    /// Where Done goes (the key page, after a roll made there); `None` closes the panel.
    pub done_url: Option<String>,
    /// The list, swapped in out of band behind the panel.
    pub table: Option<KeysTable>,
}

impl RevealPanel<'_> {
    /// The response: the full key is in this body only, which no cache may keep.
    pub fn response(&self) -> Result<HttpResponse, WebError> {
        Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(self.render()?))
    }
}

/// GET the create modal (an htmx fragment).
pub async fn new_modal(KeyManager(shell): KeyManager) -> Result<HttpResponse, WebError> {
    htmx::html(&CreateModal::new(&shell))
}

/// POST a new key: the reveal panel, or the modal again with the errors.
pub async fn create(
    state: web::Data<AppState>,
    form: web::Form<KeyForm>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let today = time::now().date();
    let name = ApiKeyName::parse(&form.name);
    let rules = IpRules::parse(&form.allowed_ips);
    let exp = Expiry::from_form(&form.expires, &form.expires_on, today);
    let scope = Scope::from_form(&form.access, &form.calls_access, &form.knowledge_access);
    let (name, rules, exp, scope) = match (name, rules, exp, scope) {
        (Ok(n), Ok(r), Ok(e), Ok(s)) => (n, r, e, s),
        (n, r, e, s) => {
            let modal = CreateModal {
                name: form.name.clone(),
                allowed_ips: form.allowed_ips.clone(),
                expires: form.expires.clone(),
                expires_on: form.expires_on.clone(),
                access_choice: form.access.clone(),
                calls_access: form.calls_access.clone(),
                knowledge_access: form.knowledge_access.clone(),
                name_error: n.err().map(|e| e.0),
                allowed_ips_error: r.err().map(|e| e.0),
                expires_error: e.err().map(|e| e.0),
                access_error: s.err().map(|e| e.0),
                ..CreateModal::new(&shell)
            };
            // 200 so htmx swaps the modal with its messages in place.
            return htmx::html(&modal);
        }
    };

    let (pid, actor) = (shell.project_id.clone(), shell.actor.clone());
    let key_name = name.clone();
    let (key_id, secret) = db::run(&state.pool, move |conn| {
        let request = KeyRequest {
            project_id: &pid,
            name: &key_name,
            rules: &rules,
            expiry: exp,
            scope,
            actor: &actor,
        };
        db::api_keys::issue(conn, &request, time::now())
    })
    .await?;
    tracing::info!(key_id = %key_id, project_id = %shell.project_id, "API key created");
    let table = load_table(&state, &shell, true, ListView::Active).await?;
    RevealPanel {
        title: "API key created",
        name: name.as_str(),
        key: secret.expose_secret(),
        rolled: None,
        done_url: None,
        table: Some(table),
    }
    .response()
}
