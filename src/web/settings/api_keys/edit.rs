//! Edit a key (name, allowed IPs, expiry, access) from its page or the list's row menu, with
//! the create modal's validation, and warnings — before new IP rules or a new access are saved
//! — listing the clients of the last 7 days that the rules would refuse and the kinds of
//! operation of the last 7 days that the access would refuse; saving them needs "Save anyway".
//! A key a roll replaced offers no expiry choice: its overlap decides when it stops.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::change::change_key;
use super::form::{KeyForm, Origin};
use super::list::{load_table, ChangedResponse, ListView};
use crate::db::{self, api_keys::KeyChange, models::ApiKey};
use crate::domain::api_key::{masked_prefix, ApiKeyName};
use crate::domain::expiry::{self, Expiry};
use crate::domain::ids::{KeyId, ProjectId};
use crate::domain::ip_rules::IpRules;
use crate::domain::key_change::{
    self, KeySettings, RefusedOperations, WouldBeRefused, WARN_LOOKBACK_DAYS,
};
use crate::domain::scope::Scope;
use crate::domain::usage_chart::thousands;
use crate::domain::Invalid;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{KeyManager, Shell};

/// A client the new rules would refuse, as the warning shows it.
pub struct RefusedRow {
    /// The address, or `unknown` (what "Save anyway" acknowledges).
    pub ip: String,
    /// The clients behind a trusted proxy that sent no address: shown in words, not as `ip`.
    pub unknown: bool,
    /// `1,204 requests in the last 7 days`.
    pub requests: String,
}

/// A kind of operation the new access would refuse, as the warning shows it.
pub struct RefusedKindRow {
    /// `calls:delete` (what "Save anyway" acknowledges).
    pub need: &'static str,
    /// `1,204 calls delete requests in the last 7 days would be refused`.
    pub text: String,
}

/// The Expiration field of a key whose expiry an edit may not change: when it stops, and why.
pub struct LockedExpiry {
    /// `Dec 2, 2026, 12:00:00 UTC`, or `no expiration`.
    pub current: String,
    pub why: &'static str,
}

#[derive(Template, Default)]
#[template(path = "pages/settings/api_keys/_edit_modal.html")]
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
    /// A key a roll replaced: no expiry choice, and why.
    locked_expiry: Option<LockedExpiry>,
    refused: Vec<RefusedRow>,
    refused_kinds: Vec<RefusedKindRow>,
    /// The refused addresses and kinds of operation the admin is shown, comma-separated:
    /// "Save anyway" accepts cutting off these and no others.
    acknowledged: String,
}

impl EditModal {
    fn for_key(key: &ApiKey, action: String) -> Self {
        let (access, calls, knowledge) = key.scope.form_values();
        let locked_expiry =
            key_change::expiry_locked(key.status(time::now()), key.replaced_by.is_some()).map(
                |why| LockedExpiry {
                    current: key
                        .expires_at
                        .map_or_else(|| "no expiration".to_owned(), time::full_label),
                    why: why.message(),
                },
            );
        EditModal {
            locked_expiry,
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

    fn expiry_label(&self) -> &'static str {
        "Expiration"
    }

    fn expiry_hint(&self) -> &'static str {
        "A dated key works until the end of that day (UTC)."
    }

    fn warns(&self) -> bool {
        !self.refused.is_empty() || !self.refused_kinds.is_empty()
    }
}

fn action(shell: &Shell, kid: &KeyId, from: &Origin) -> String {
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
/// errors, or the modal with the "would be refused" warnings and their "Save anyway".
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
    let locked = key_change::expiry_locked(key.status(time::now()), key.replaced_by.is_some());
    let exp = match (form.expires.trim(), locked) {
        ("keep", _) => Ok(NewExpiry::Keep),
        (_, Some(why)) => Err(Invalid::new(why.message())),
        (choice, None) => Expiry::from_form(choice, &form.expires_on, today).map(NewExpiry::Set),
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
    let warnings = warnings(
        &state,
        &key,
        (allowed_ips != key.allowed_ips).then_some(&rules),
        scope,
    )
    .await?;
    let acknowledged: Vec<&str> = acknowledged
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .collect();
    if warnings
        .tokens()
        .any(|shown| !acknowledged.contains(&shown))
    {
        return htmx::html(&EditModal {
            acknowledged: warnings.tokens().collect::<Vec<_>>().join(","),
            refused: warnings.clients.iter().map(refused_row).collect(),
            refused_kinds: warnings.operations.iter().map(refused_kind_row).collect(),
            ..modal(&key)
        });
    }

    let outcome = change_key(&state, &shell, &kid, move |conn, pid, kid, by| {
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
        KeyChange::NotFound => return Err(WebError::NotFound),
        // Rolled between the form's check and the save: the rules refused the new expiry.
        KeyChange::Refused(why) => {
            let key = shell
                .find(&state, kid.clone(), db::api_keys::find_in_project)
                .await?;
            return htmx::html(&EditModal {
                expires_error: Some(why.to_owned()),
                ..modal(&key)
            });
        }
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

/// What an edit would cut off, from the key's last 7 days of allowed requests.
struct Warnings {
    /// The clients the new IP rules would refuse.
    clients: Vec<WouldBeRefused>,
    /// The kinds of operation the new access would refuse.
    operations: Vec<RefusedOperations>,
}

impl Warnings {
    /// What the admin is shown, as "Save anyway" acknowledges it: addresses (or `unknown`)
    /// and kinds of operation (`calls:delete`).
    fn tokens(&self) -> impl Iterator<Item = &str> {
        self.clients
            .iter()
            .map(|c| c.ip.as_str())
            .chain(self.operations.iter().map(|o| o.need.spelling()))
    }
}

/// The recent use that `new_rules` (when the rules change) and `new_scope` would refuse; no
/// query when neither changes anything.
async fn warnings(
    state: &AppState,
    key: &ApiKey,
    new_rules: Option<&IpRules>,
    new_scope: Scope,
) -> Result<Warnings, WebError> {
    let scope_changed = new_scope != key.scope;
    if new_rules.is_none() && !scope_changed {
        return Ok(Warnings {
            clients: Vec::new(),
            operations: Vec::new(),
        });
    }
    let since = time::now() - chrono::Days::new(WARN_LOOKBACK_DAYS - 1);
    let kid = key.id.clone();
    let (by_client, (by_operation, _unknown_kind)) = db::run(&state.pool, move |conn| {
        Ok((
            db::key_usage::allowed_by_client_since(conn, &kid, since)?,
            db::key_usage::allowed_by_operation_since(conn, &kid, since)?,
        ))
    })
    .await?;
    Ok(Warnings {
        clients: new_rules
            .map(|rules| key_change::would_be_refused(&by_client, rules))
            .unwrap_or_default(),
        operations: if scope_changed {
            key_change::operations_refused(&by_operation.by_need(), new_scope)
        } else {
            Vec::new()
        },
    })
}

/// `1,204 requests`, `1 request`.
fn requests(n: i64) -> String {
    format!("{} request{}", thousands(n), if n == 1 { "" } else { "s" })
}

fn refused_row(r: &WouldBeRefused) -> RefusedRow {
    RefusedRow {
        ip: r.ip.clone(),
        unknown: r.is_unknown(),
        requests: format!(
            "{} in the last {WARN_LOOKBACK_DAYS} days",
            requests(r.allowed_requests)
        ),
    }
}

fn refused_kind_row(r: &RefusedOperations) -> RefusedKindRow {
    let n = r.allowed_requests;
    RefusedKindRow {
        need: r.need.spelling(),
        text: format!(
            "{} {} request{} in the last {WARN_LOOKBACK_DAYS} days would be refused",
            thousands(n),
            r.need.kind_label(),
            if n == 1 { "" } else { "s" }
        ),
    }
}
