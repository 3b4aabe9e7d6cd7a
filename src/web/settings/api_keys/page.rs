//! A key's own page: its status and facts, its usage chart (inline SVG drawn on the server),
//! the client addresses it is used from, and its history. Every member sees it; Owners and
//! Admins also see its actions.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::db::{self, key_usage::ClientCount, models::ApiKey, models::AuditEvent};
use crate::domain::action::Action;
use crate::domain::api_key::masked_prefix;
use crate::domain::client_ip::parse_recorded;
use crate::domain::ids::{KeyId, ProjectId, UserId};
use crate::domain::ip_rules::IpRules;
use crate::domain::key_change::{self, stops_in};
use crate::domain::key_names::KeyNames;
use crate::domain::key_status::KeyStatus;
use crate::domain::scope::Scope;
use crate::domain::usage_chart::{self, Chart, Count, Range};
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::settings::key_changes::{change_rows, key_names, ChangeRow};
use crate::web::shell::{Section, Shell};

/// The usage chart, or its empty state; also the htmx partial of the range toggle.
#[derive(Template)]
#[template(path = "pages/settings/api_keys/_usage.html")]
pub struct UsagePanel {
    pub chart: Chart,
    /// `…/api-keys/{id}/usage`.
    pub usage_url: String,
    pub width: f64,
    pub height: f64,
}

impl UsagePanel {
    fn is_range(&self, slug: &str) -> bool {
        self.chart.range.slug() == slug
    }
}

/// One client address of the key.
pub struct ClientRow {
    pub ip: String,
    pub first_seen: (String, String),
    pub last_seen: (String, String),
    pub requests: String,
    pub refused: String,
    /// The key's current rules refuse this address.
    pub refused_by_rules: bool,
}

/// A roll's other key: its masked prefix and its page.
pub struct OtherKey {
    pub prefix: String,
    pub url: String,
}

/// One audit event of the key.
pub struct HistoryRow {
    pub action: String,
    /// What it changed, in words.
    pub changes: Vec<ChangeRow>,
    pub actor: String,
    pub ip: Option<String>,
    pub when: (String, String),
}

#[derive(Template)]
#[template(path = "pages/settings/api_keys/show.html")]
struct KeyPage {
    shell: Shell,
    back: String,
    key_id: String,
    name: String,
    prefix: String,
    status: KeyStatus,
    scope: Scope,
    created: (String, String),
    created_by: String,
    /// The last day it works, and the exact instant on hover; `None` is Never.
    expires: Option<(String, String)>,
    rules: Vec<String>,
    all_ips: bool,
    last_used: Option<(String, String, Option<String>)>,
    /// When it was revoked (date, exact instant) and how: `by …` or `after a leak report`.
    revoked: Option<(String, String, String)>,
    can_manage: bool,
    /// Active and not rolled yet.
    can_roll: bool,
    /// The key that replaced this one, when it was rolled.
    replaced_by: Option<OtherKey>,
    /// The key this one replaced, when a roll made it.
    replaces: Option<OtherKey>,
    /// During a roll's overlap: whether it is safe to stop the old key.
    rolling: Option<RollingPanel>,
    usage: UsagePanel,
    clients: Vec<ClientRow>,
    history: Vec<HistoryRow>,
}

/// "Is it safe to stop it now?": the old key's use since its roll, with Stop now and Extend.
pub struct RollingPanel {
    /// `stops in 23 h`, and the instant on hover.
    pub stops: (String, String),
    /// `3 requests since the roll`, or `None` for none.
    pub requests: Option<String>,
    /// The last one: (relative, full, address).
    pub last: Option<(String, String, String)>,
    pub stop_url: String,
    pub extend_url: String,
}

/// What the rolling panel and Stop now's confirmation say of the old key's use since the roll.
pub struct SinceRollFacts {
    /// `3 requests since the roll`, or `None` for none.
    pub requests: Option<String>,
    /// The last one: (relative, full, address).
    pub last: Option<(String, String, String)>,
}

impl SinceRollFacts {
    pub fn of(since: &db::api_keys::SinceRoll, now: NaiveDateTime) -> Self {
        SinceRollFacts {
            requests: (since.requests > 0).then(|| {
                format!(
                    "{} request{} since the roll",
                    usage_chart::thousands(since.requests),
                    if since.requests == 1 { "" } else { "s" }
                )
            }),
            last: since
                .last
                .clone()
                .map(|(t, ip)| (time::relative(t, now), time::full_label(t), ip)),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct UsageQuery {
    range: Option<String>,
}

/// What the page reads in one trip to the pool.
struct Loaded {
    key: ApiKey,
    since_roll: Option<db::api_keys::SinceRoll>,
    hourly: Vec<db::key_usage::HourlyCount>,
    clients: Vec<ClientCount>,
    events: Vec<AuditEvent>,
    emails: HashMap<UserId, String>,
    names: KeyNames,
}

async fn load_key(state: &AppState, shell: &Shell, kid: KeyId) -> Result<ApiKey, WebError> {
    shell.find(state, kid, db::api_keys::find_in_project).await
}

fn hourly_counts(rows: &[db::key_usage::HourlyCount]) -> Vec<Count> {
    rows.iter()
        .map(|h| Count {
            hour: h.hour,
            allowed: h.outcome == "allowed",
            requests: h.requests,
        })
        .collect()
}

fn usage_panel(shell: &Shell, kid: &KeyId, range: Range, counts: &[Count]) -> UsagePanel {
    UsagePanel {
        chart: Chart::build(range, counts, time::now()),
        usage_url: shell.url(&format!("settings/api-keys/{kid}/usage")),
        width: usage_chart::WIDTH,
        height: usage_chart::HEIGHT,
    }
}

/// GET a key's page (any member; another project's key is a 404).
pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let key = load_key(&state, &shell, kid.clone()).await?;
    let now = time::now();
    let since = Range::Days30.since(now);
    let loaded = {
        let (pid, kid) = (shell.project_id.clone(), kid.clone());
        db::run(&state.pool, move |conn| {
            let hourly = db::key_usage::hourly_since(conn, &kid, since)?;
            let clients = db::key_usage::clients(conn, &kid)?;
            let events = db::audit::for_key(conn, &pid, &kid)?;
            let mut ids: Vec<&UserId> =
                key.created_by.iter().chain(key.revoked_by.iter()).collect();
            ids.sort();
            ids.dedup();
            let emails = db::audit::user_emails(conn, &ids)?.into_iter().collect();
            let since_roll = db::api_keys::since_roll(conn, &key)?;
            let names = key_names(db::api_keys::names(conn, &pid)?);
            Ok(Loaded {
                names,
                key,
                since_roll,
                hourly,
                clients,
                events,
                emails,
            })
        })
        .await?
    };
    let Loaded {
        key,
        since_roll,
        hourly,
        clients,
        events,
        emails,
        names,
    } = loaded;
    let person = |id: &Option<UserId>| match id {
        Some(id) => emails
            .get(id)
            .cloned()
            .unwrap_or_else(|| "a removed user".to_owned()),
        None => "command line".to_owned(),
    };
    let rules = IpRules::from_storage(&key.allowed_ips).unwrap_or_default();
    let status = KeyStatus::of(
        key.expires_at,
        key.revoked_at,
        key.replaced_by.is_some(),
        now,
    );
    let can_manage = shell.role.can_manage_keys() && key.revoked_at.is_none();
    let key_url = |id: &KeyId, action: &str| shell.url(&format!("settings/api-keys/{id}{action}"));
    let rolling = match (status, key.expires_at, since_roll) {
        (KeyStatus::Rolling(_), Some(at), Some(since)) => {
            let facts = SinceRollFacts::of(&since, now);
            Some(RollingPanel {
                stops: (stops_in(at - now), time::full_label(at)),
                requests: facts.requests,
                last: facts.last,
                stop_url: key_url(&kid, "/stop"),
                extend_url: key_url(&kid, "/extend"),
            })
        }
        _ => None,
    };
    let other = |id: &str| {
        names.short(id).map(|prefix| OtherKey {
            prefix,
            url: shell.url(&format!("settings/api-keys/{id}")),
        })
    };
    let page = KeyPage {
        can_roll: can_manage && status.can_roll(),
        replaced_by: names.replaced_by(kid.as_str()).and_then(other),
        replaces: names.replaces(kid.as_str()).and_then(other),
        rolling,
        back: shell.url("settings/api-keys"),
        usage: usage_panel(&shell, &kid, Range::Days30, &hourly_counts(&hourly)),
        key_id: kid.into_string(),
        prefix: masked_prefix(&key.prefix),
        status,
        scope: key.scope,
        created: (
            time::relative(key.created_at, now),
            time::full_label(key.created_at),
        ),
        created_by: person(&key.created_by),
        expires: key
            .expires_at
            .map(|at| (time::date_label(at), time::full_label(at))),
        all_ips: rules.is_unrestricted(),
        rules: if rules.is_unrestricted() {
            Vec::new()
        } else {
            rules.to_storage().lines().map(str::to_owned).collect()
        },
        last_used: key.last_used_at.map(|t| {
            (
                time::relative(t, now),
                time::full_label(t),
                key.last_used_ip.clone(),
            )
        }),
        revoked: key.revoked_at.map(|t| {
            let how = match key.leak_reported_at {
                Some(_) => "after a leak report".to_owned(),
                None => format!("by {}", person(&key.revoked_by)),
            };
            (time::date_label(t), time::full_label(t), how)
        }),
        can_manage,
        clients: clients.iter().map(|c| client_row(c, &rules, now)).collect(),
        history: events
            .iter()
            .map(|e| HistoryRow {
                action: action_label(&e.action),
                changes: change_rows(&shell, &names, key_change::describe(e.detail.as_deref())),
                // As it read when the event was recorded.
                actor: e.actor_label.clone(),
                ip: e.ip.clone(),
                when: (
                    time::relative(e.created_at, now),
                    time::full_label(e.created_at),
                ),
            })
            .collect(),
        name: key.name,
        shell,
    };
    htmx::html(&page)
}

/// GET the usage chart for `?range=30d|24h` (the toggle's htmx partial).
pub async fn usage(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KeyId)>,
    query: web::Query<UsageQuery>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    load_key(&state, &shell, kid.clone()).await?;
    let range = Range::from_query(query.range.as_deref());
    if !htmx::is_htmx(&req) {
        // The partial alone is no page: a plain request gets the key's page.
        let to = shell.url(&format!("settings/api-keys/{kid}"));
        return Ok(htmx::redirect(&req, &to));
    }
    let since = range.since(time::now());
    let hourly = {
        let kid = kid.clone();
        db::run(&state.pool, move |conn| {
            Ok(db::key_usage::hourly_since(conn, &kid, since)?)
        })
        .await?
    };
    htmx::html(&usage_panel(&shell, &kid, range, &hourly_counts(&hourly)))
}

fn client_row(c: &ClientCount, rules: &IpRules, now: NaiveDateTime) -> ClientRow {
    // A client recorded as unknown (a trusted proxy sent no address) matches no rule.
    let refused_by_rules = parse_recorded(&c.ip).is_some_and(|client| !rules.allows_client(client));
    ClientRow {
        ip: c.ip.clone(),
        first_seen: (
            time::relative(c.first_seen, now),
            time::full_label(c.first_seen),
        ),
        last_seen: (
            time::relative(c.last_seen, now),
            time::full_label(c.last_seen),
        ),
        requests: usage_chart::thousands(c.requests),
        refused: usage_chart::thousands(c.refused),
        refused_by_rules,
    }
}

/// `api_key.created` → `Created`; an action this page does not know keeps its name.
fn action_label(action: &str) -> String {
    Action::parse(action)
        .and_then(Action::in_a_keys_history)
        .map_or_else(|| action.to_owned(), str::to_owned)
}
