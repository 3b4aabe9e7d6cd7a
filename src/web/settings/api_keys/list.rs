//! The tab's list: the active keys (with the "Needs attention" strip and its filters) or the
//! revoked ones, and the table a change made from the list swaps in.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::db;
use crate::domain::api_key::masked_prefix;
use crate::domain::expiry;
use crate::domain::ip_rules::IpRules;
use crate::domain::key_names::KeyNames;
use crate::domain::key_status::{self, Attention, KeyFacts, KeyStatus};
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::settings::key_changes::key_names;
use crate::web::shell::{Section, Shell};

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
#[template(path = "pages/settings/api_keys/_keys_table.html")]
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
#[template(path = "pages/settings/api_keys/index.html")]
struct ApiKeysPage {
    shell: Shell,
    table: KeysTable,
}

/// After a change made from the list: the modal closes and the table is swapped in.
#[derive(Template)]
#[template(path = "pages/settings/api_keys/_changed.html")]
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
