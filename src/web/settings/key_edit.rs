//! Edit a key (name, allowed IPs, expiry, access) from its page or the list's row menu, with
//! the create modal's validation, and a warning — before new IP rules are saved — listing the
//! clients of the last 7 days that the rules would refuse; saving them needs "Save anyway".

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::super::error::WebError;
use super::super::htmx;
use super::super::shell::KeyManager;
use super::api_keys::{change_key, load_table, ChangedResponse, KeyForm, ListView, Origin};
use crate::db::{self, api_keys::KeyChange, models::ApiKey};
use crate::domain::api_key::{masked_prefix, ApiKeyName};
use crate::domain::expiry::{self, Expiry};
use crate::domain::ids::{KeyId, ProjectId};
use crate::domain::ip_rules::IpRules;
use crate::domain::key_change::{self, KeySettings, WouldBeRefused, WARN_LOOKBACK_DAYS};
use crate::domain::scope::Scope;
use crate::domain::usage_chart::thousands;
use crate::state::AppState;
use crate::time;

/// A client the new rules would refuse, as the warning shows it.
pub struct RefusedRow {
    pub ip: String,
    /// `1,204 requests in the last 7 days`.
    pub requests: String,
}

#[derive(Template, Default)]
#[template(path = "pages/settings/_edit_modal.html")]
struct EditModal {
    action: String,
    prefix: String,
    name: String,
    allowed_ips: String,
    expires: String,
    expires_on: String,
    /// What "Keep" keeps: `Mar 1, 2027` or `no expiration`.
    keep_expiry: Option<String>,
    min_date: String,
    access_choice: String,
    calls_access: String,
    knowledge_access: String,
    name_error: Option<String>,
    allowed_ips_error: Option<String>,
    expires_error: Option<String>,
    access_error: Option<String>,
    refused: Vec<RefusedRow>,
    /// The refused addresses the admin is shown, comma-separated: "Save anyway" accepts
    /// cutting off these and no others.
    acknowledged: String,
}

impl EditModal {
    fn for_key(key: &ApiKey, action: String) -> Self {
        let (access, calls, knowledge) = key.scope.form_values();
        EditModal {
            action,
            prefix: masked_prefix(&key.prefix),
            name: key.name.clone(),
            allowed_ips: key.allowed_ips.clone(),
            expires: "keep".to_owned(),
            keep_expiry: Some(
                key.expires_at
                    .map_or_else(|| "no expiration".to_owned(), time::date_label),
            ),
            min_date: (time::now().date() + chrono::Days::new(1)).to_string(),
            access_choice: access.to_owned(),
            calls_access: calls.to_owned(),
            knowledge_access: knowledge.to_owned(),
            ..Default::default()
        }
    }

    fn presets(&self) -> &'static [(&'static str, &'static str)] {
        &expiry::PRESETS
    }
}

fn action(shell: &super::super::shell::Shell, kid: &KeyId, from: &Origin) -> String {
    shell.url(&format!("settings/api-keys/{kid}/edit{}", from.query()))
}

/// GET the edit modal (an htmx fragment); a revoked key cannot be edited.
pub async fn edit_modal(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    from: web::Query<Origin>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let key = shell
        .find(&state, kid.clone(), db::api_keys::find_in_project)
        .await?;
    if key.revoked_at.is_some() {
        return Err(WebError::NotFound);
    }
    htmx::html(&EditModal::for_key(&key, action(&shell, &kid, &from)))
}

/// The create modal's fields, and after the warning the addresses "Save anyway" agrees to
/// cut off.
#[derive(Debug, Deserialize)]
pub struct EditForm {
    #[serde(flatten)]
    key: KeyForm,
    acknowledged: Option<String>,
}

/// The new expiry the form asks for: keep the current one, or a new choice.
enum NewExpiry {
    Keep,
    Set(Expiry),
}

/// POST an edit: saved (the list or the page again, with a toast), the modal again with the
/// errors, or the modal with the "would be refused" warning and its "Save anyway".
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    from: web::Query<Origin>,
    form: web::Form<EditForm>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let EditForm {
        key: form,
        acknowledged,
    } = form.into_inner();
    let key = shell
        .find(&state, kid.clone(), db::api_keys::find_in_project)
        .await?;
    if key.revoked_at.is_some() {
        return Err(WebError::NotFound);
    }
    let today = time::now().date();
    let name = ApiKeyName::parse(&form.name);
    let rules = IpRules::parse(&form.allowed_ips);
    let exp = match form.expires.trim() {
        "keep" => Ok(NewExpiry::Keep),
        choice => Expiry::from_form(choice, &form.expires_on, today).map(NewExpiry::Set),
    };
    let scope = Scope::from_form(&form.access, &form.calls_access, &form.knowledge_access);
    let modal = |key: &ApiKey| EditModal {
        name: form.name.clone(),
        allowed_ips: form.allowed_ips.clone(),
        expires: form.expires.clone(),
        expires_on: form.expires_on.clone(),
        access_choice: form.access.clone(),
        calls_access: form.calls_access.clone(),
        knowledge_access: form.knowledge_access.clone(),
        ..EditModal::for_key(key, action(&shell, &kid, &from))
    };
    let (name, rules, exp, scope) = match (name, rules, exp, scope) {
        (Ok(n), Ok(r), Ok(e), Ok(s)) => (n, r, e, s),
        (n, r, e, s) => {
            // 200 so htmx swaps the modal with its messages in place.
            return htmx::html(&EditModal {
                name_error: n.err().map(|e| e.0),
                allowed_ips_error: r.err().map(|e| e.0),
                expires_error: e.err().map(|e| e.0),
                access_error: s.err().map(|e| e.0),
                ..modal(&key)
            });
        }
    };

    let allowed_ips = rules.to_storage();
    if allowed_ips != key.allowed_ips {
        let refused = refused_by(&state, &kid, &rules).await?;
        let acknowledged: Vec<&str> = acknowledged
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .collect();
        if refused
            .iter()
            .any(|r| !acknowledged.contains(&r.ip.as_str()))
        {
            return htmx::html(&EditModal {
                acknowledged: refused
                    .iter()
                    .map(|r| r.ip.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                refused: refused
                    .into_iter()
                    .map(|r| RefusedRow {
                        requests: format!(
                            "{} request{} in the last {WARN_LOOKBACK_DAYS} days",
                            thousands(r.allowed_requests),
                            if r.allowed_requests == 1 { "" } else { "s" }
                        ),
                        ip: r.ip,
                    })
                    .collect(),
                ..modal(&key)
            });
        }
    }

    let outcome = change_key(&req, &state, &shell, &kid, move |conn, pid, kid, by| {
        db::api_keys::update(conn, pid, kid, by, time::now(), |current| KeySettings {
            name: name.as_str().to_owned(),
            allowed_ips,
            expires_at: match exp {
                NewExpiry::Keep => current.expires_at,
                NewExpiry::Set(e) => e.expires_at(),
            },
            scope,
        })
    })
    .await?;
    let toast = match outcome {
        KeyChange::NotFound | KeyChange::Refused(_) => return Err(WebError::NotFound),
        KeyChange::Unchanged => "Nothing changed.".to_owned(),
        KeyChange::Done(changes) => {
            tracing::info!(key_id = %kid, fields = changes.len(), "API key updated");
            let fields: Vec<String> =
                key_change::describe(Some(&key_change::detail_json(&changes)))
                    .into_iter()
                    .map(|(field, _, _)| field)
                    .collect();
            format!("Key “{}” updated: {}.", form.name.trim(), fields.join(", "))
        }
    };
    if from.key_page() {
        let page = shell.url(&format!("settings/api-keys/{kid}"));
        return Ok(htmx::with_toast(htmx::redirect(&req, &page), &toast));
    }
    let table = load_table(&state, &shell, true, ListView::Active).await?;
    Ok(htmx::with_toast(
        htmx::html(&ChangedResponse {
            status: "Key updated.",
            table,
        })?,
        &toast,
    ))
}

/// The clients of the last 7 days with allowed requests that `rules` would refuse.
async fn refused_by(
    state: &AppState,
    kid: &KeyId,
    rules: &IpRules,
) -> Result<Vec<WouldBeRefused>, WebError> {
    let since = time::now() - chrono::Days::new(WARN_LOOKBACK_DAYS - 1);
    let kid = kid.clone();
    let recent = db::run(&state.pool, move |conn| {
        Ok(db::key_usage::allowed_by_client_since(conn, &kid, since)?)
    })
    .await?;
    Ok(key_change::would_be_refused(&recent, rules))
}
