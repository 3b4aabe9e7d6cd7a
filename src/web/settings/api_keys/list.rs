//! Settings → API Keys: the list (with its "Needs attention" strip, its filters and the revoked
//! keys), the create modal, the one-time reveal, and revoke.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::super::error::WebError;
use super::super::htmx;
use super::super::shell::{KeyManager, Section, Shell};
use super::key_page::key_names;
use crate::db::{self, api_keys::KeyRequest, api_keys::Revoked};
use crate::domain::api_key::{masked_prefix, ApiKeyName};
use crate::domain::client_ip::ClientAddr;
use crate::domain::expiry::{self, Expiry};
use crate::domain::ids::{KeyId, ProjectId};
use crate::domain::ip_rules::IpRules;
use crate::domain::key_names::KeyNames;
use crate::domain::key_status::{self, Attention, KeyFacts, KeyStatus};
use crate::domain::scope::Scope;
use crate::request::ClientIp;

use crate::state::AppState;
use crate::time;

/// How the Expires column shows a key.
pub enum ExpiresView {
    Never,
    On(String),
    /// Within 14 days: `Expires in 6 days` (amber), with the date on hover.
    Soon(String, String),
    Expired(String),
    /// Rolled: `Rolling · stops in 23 h` (amber), with the instant on hover.
    Rolling(String, String),
    /// The revoked list: when it was revoked.
    Revoked(String),
}

/// One row of the list, formatted for people.
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub ip_restriction: String,
    pub last_used: Option<(String, String)>,
    pub expires: ExpiresView,
    /// The "Needs attention" categories the key falls in.
    pub attention: Vec<Attention>,
    /// Active and not rolled yet: the row menu offers "Roll key…".
    pub can_roll: bool,
    /// `Read only`, `Calls: read · Knowledge: none`…; `None` for full access (shown as nothing).
    pub scope: Option<String>,
    /// A roll's other keys: (masked prefix, id) of the key that replaced this one…
    pub replaced_by: Option<(String, String)>,
    /// …and of the key this one replaced.
    pub replaces: Option<(String, String)>,
}

impl KeyRow {
    fn from_row(k: db::models::ApiKey, refused_last_24h: i64, now: NaiveDateTime) -> Self {
        let rules = IpRules::from_storage(&k.allowed_ips);
        let status = KeyStatus::of(k.expires_at, k.revoked_at, k.replaced_by.is_some(), now);
        let attention = key_status::attention(
            &KeyFacts {
                status,
                created_at: k.created_at,
                last_used_at: k.last_used_at,
                unrestricted: rules.as_ref().is_ok_and(|r| r.is_unrestricted()),
                never_expires: k.expires_at.is_none(),
                refused_last_24h,
                leak_reported_at: k.leak_reported_at,
            },
            now,
        );
        let ip_restriction = rules
            .map(|r| r.summary())
            .unwrap_or_else(|_| "—".to_owned());
        let expires = match (k.revoked_at, k.expires_at, status) {
            (Some(at), _, _) => ExpiresView::Revoked(time::date_label(at)),
            (None, None, _) => ExpiresView::Never,
            (None, Some(at), KeyStatus::Rolling(_)) => {
                ExpiresView::Rolling(status.label(), time::full_label(at))
            }
            (None, Some(at), KeyStatus::ExpiresSoon(_)) => {
                ExpiresView::Soon(status.label(), time::date_label(at))
            }
            (None, Some(at), _) if expiry::is_expired(Some(at), now) => {
                ExpiresView::Expired(time::date_label(at))
            }
            (None, Some(at), _) => ExpiresView::On(time::date_label(at)),
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
            attention,
            can_roll: status.can_roll(),
            scope: (!k.scope.is_full()).then(|| k.scope.label()),
            replaced_by: None,
            replaces: None,
        }
    }

    /// Names the roll's other keys of this row, by their masked prefix.
    fn with_rolls(mut self, names: &KeyNames) -> Self {
        let other = |id: Option<&str>| id.and_then(|id| Some((names.short(id)?, id.to_owned())));
        self.replaced_by = other(names.replaced_by(&self.id));
        self.replaces = other(names.replaces(&self.id));
        self
    }
}

#[derive(Template)]
#[template(path = "pages/settings/_keys_table.html")]
pub struct KeysTable {
    pub project_url: String,
    /// `…/settings/api-keys`.
    pub keys_url: String,
    pub rows: Vec<KeyRow>,
    pub can_manage: bool,
    pub oob: bool,
    pub view: ListView,
    /// The "Needs attention" counts over all active keys (empty categories left out).
    pub attention: Vec<(Attention, usize)>,
}

impl KeysTable {
    fn is_filter(&self, a: &Attention) -> bool {
        self.view == ListView::Attention(*a)
    }
}

/// Which keys the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListView {
    Active,
    /// The active keys in one "Needs attention" category.
    Attention(Attention),
    /// The revoked keys, read-only.
    Revoked,
}

impl ListView {
    fn from_query(q: &ListQuery) -> Self {
        let attention = q.attention.as_deref().and_then(Attention::from_slug);
        match (q.show.as_deref() == Some("revoked"), attention) {
            (_, Some(a)) if a.lists_revoked() => ListView::Attention(a),
            (true, _) => ListView::Revoked,
            (false, a) => a.map_or(ListView::Active, ListView::Attention),
        }
    }

    /// Whether it lists revoked keys (read-only, with their status instead of their expiry).
    pub fn is_revoked(self) -> bool {
        match self {
            ListView::Revoked => true,
            ListView::Attention(a) => a.lists_revoked(),
            ListView::Active => false,
        }
    }
}

/// `?show=revoked`, `?attention=never_used` or `?show=revoked&attention=leaked` on the list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    show: Option<String>,
    attention: Option<String>,
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
#[template(path = "pages/settings/_reveal.html")]
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

#[derive(Template)]
#[template(path = "pages/settings/_revoke_confirm.html")]
struct RevokeConfirm {
    name: String,
    action: String,
}

/// After a change made from the list: the modal closes and the table is swapped in.
#[derive(Template)]
#[template(path = "pages/settings/_changed.html")]
pub(super) struct ChangedResponse {
    /// Said to screen readers.
    pub status: &'static str,
    pub table: KeysTable,
}

pub(super) async fn load_table(
    state: &AppState,
    shell: &Shell,
    oob: bool,
    view: ListView,
) -> Result<KeysTable, WebError> {
    let pid = shell.project_id.clone();
    let now = time::now();
    let since = now - chrono::Duration::hours(24);
    let leaks_since = now - chrono::Duration::days(key_status::LEAKED_WITHIN_DAYS);
    let (keys, revoked, leaked, refused, names) = db::run(&state.pool, move |conn| {
        let keys = db::api_keys::list_active(conn, &pid)?;
        let revoked = match view {
            ListView::Revoked => db::api_keys::list_revoked(conn, &pid)?,
            _ => Vec::new(),
        };
        let leaked = db::api_keys::reported_leaked_since(conn, &pid, leaks_since)?;
        let refused = db::api_keys::refused_since(conn, &pid, since)?;
        let names = key_names(db::api_keys::names(conn, &pid)?);
        Ok((keys, revoked, leaked, refused, names))
    })
    .await?;
    let refused_of = |k: &db::models::ApiKey| {
        refused
            .iter()
            .find(|(id, _)| *id == k.id)
            .map_or(0, |(_, n)| *n)
    };
    let active: Vec<KeyRow> = keys
        .into_iter()
        .map(|k| {
            let n = refused_of(&k);
            KeyRow::from_row(k, n, now)
        })
        .collect();
    let leaked: Vec<KeyRow> = leaked
        .into_iter()
        .map(|k| KeyRow::from_row(k, 0, now))
        .collect();
    // A reported key is revoked at once: the two sets are apart, and the strip counts both.
    let attention = key_status::counts(
        active
            .iter()
            .chain(leaked.iter())
            .map(|r| r.attention.as_slice()),
    );
    let rows = match view {
        ListView::Active => active,
        ListView::Attention(a) if a.lists_revoked() => leaked
            .into_iter()
            .filter(|r| r.attention.contains(&a))
            .collect(),
        ListView::Attention(a) => active
            .into_iter()
            .filter(|r| r.attention.contains(&a))
            .collect(),
        ListView::Revoked => revoked
            .into_iter()
            .map(|k| KeyRow::from_row(k, 0, now))
            .collect(),
    };
    Ok(KeysTable {
        project_url: shell.url(""),
        keys_url: shell.url("settings/api-keys"),
        rows: rows.into_iter().map(|r| r.with_rolls(&names)).collect(),
        can_manage: shell.role.can_manage_keys() && !view.is_revoked(),
        oob,
        view,
        attention,
    })
}

/// GET the tab: the active keys, one "Needs attention" category of them, or the revoked ones.
pub async fn index(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let table = load_table(&state, &shell, false, ListView::from_query(&query)).await?;
    htmx::html(&ApiKeysPage { shell, table })
}

/// GET the create modal (an htmx fragment).
pub async fn new_modal(KeyManager(shell): KeyManager) -> Result<HttpResponse, WebError> {
    htmx::html(&CreateModal::new(&shell))
}

/// The fields of the create and edit modals.
#[derive(Debug, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub allowed_ips: String,
    #[serde(default)]
    pub expires: String,
    #[serde(default)]
    pub expires_on: String,
    #[serde(default)]
    pub access: String,
    #[serde(default)]
    pub calls_access: String,
    #[serde(default)]
    pub knowledge_access: String,
}

/// POST a new key: the reveal panel, or the modal again with the errors.
pub async fn create(
    ClientIp(client): ClientIp,
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

    let ip = client.to_string();
    let (pid, uid) = (shell.project_id.clone(), shell.user_id.clone());
    let key_name = name.clone();
    let (key_id, secret) = db::run(&state.pool, move |conn| {
        let request = KeyRequest {
            project_id: &pid,
            name: &key_name,
            rules: &rules,
            expiry: exp,
            scope,
            actor_user_id: Some(&uid),
            ip: Some(&ip),
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

/// `?from=page`: the change was asked for on the key's own page, which it then reloads.
#[derive(Debug, Default, Deserialize)]
pub struct Origin {
    from: Option<String>,
}

impl Origin {
    pub fn key_page(&self) -> bool {
        self.from.as_deref() == Some("page")
    }

    /// The query that keeps the origin on the next request.
    pub fn query(&self) -> &'static str {
        if self.key_page() {
            "?from=page"
        } else {
            ""
        }
    }
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
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    from: web::Query<Origin>,
    KeyManager(shell): KeyManager,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let pid = shell.project_id.clone();
    let ip = client.to_string();
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

/// Runs a change of one of the project's keys (edit, roll, an overlap's end) on the pool, made
/// by the signed-in user from this request's client address: the one place that says who
/// changed a key from the dashboard.
pub(super) async fn change_key<T, F>(
    client: ClientAddr,
    state: &AppState,
    shell: &Shell,
    kid: &KeyId,
    change: F,
) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(
            &mut db::DbConnection,
            &ProjectId,
            &KeyId,
            db::api_keys::ChangedBy<'_>,
        ) -> Result<T, db::DbError>
        + Send
        + 'static,
{
    let ip = client.to_string();
    let (pid, uid, kid) = (shell.project_id.clone(), shell.user_id.clone(), kid.clone());
    Ok(db::run(&state.pool, move |conn| {
        let by = db::api_keys::ChangedBy {
            user: Some(&uid),
            ip: Some(&ip),
        };
        change(conn, &pid, &kid, by)
    })
    .await?)
}
