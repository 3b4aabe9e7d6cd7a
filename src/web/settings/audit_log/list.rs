//! The log's page: the project's events, newest first, filtered and paged from the URL.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::db::{self, models::AuditEvent};
use crate::domain::audit_log::{
    self, AuditFilter, FilterErrors, Kind, RawFilter, Words, PAGE_SIZE,
};
use crate::domain::key_names::KeyNames;
use crate::domain::pagination::PageNumber;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::pager::{self, PageLink};
use crate::web::settings::key_changes::{change_rows, key_names, ChangeRow};
use crate::web::shell::{AuditReader, Section, Shell};

/// One event of the log, formatted for people.
pub struct EventRow {
    pub id: String,
    pub time: String,
    pub full_time: String,
    pub iso: String,
    pub actor: String,
    pub words: Words,
    /// The target's page (a key's), to link the event to.
    pub target_url: Option<String>,
    /// `words.changes`, a roll's other key named by its prefix and linked.
    pub changes: Vec<ChangeRow>,
    pub ip: Option<String>,
}

/// What an event's target is called: a key by its name and masked prefix (two keys of one
/// name, after a roll, read apart), anything else as recorded.
pub(super) fn target_of(e: &AuditEvent, names: &KeyNames) -> String {
    match (&e.target_id, e.target_type.as_str()) {
        (Some(id), "api_key") => names.label(id, &e.target_label),
        _ => e.target_label.clone(),
    }
}

impl EventRow {
    fn of(e: &AuditEvent, shell: &Shell, names: &KeyNames) -> Self {
        let mut words = audit_log::describe(&e.action, &target_of(e, names), e.detail.as_deref());
        let changes = change_rows(shell, names, std::mem::take(&mut words.changes));
        EventRow {
            id: e.id.to_string(),
            time: time::datetime_label(e.created_at),
            full_time: time::full_label(e.created_at),
            iso: time::iso_millis(e.created_at),
            actor: e.actor_label.clone(),
            target_url: match (&e.target_id, e.target_type.as_str()) {
                (Some(id), "api_key") if names.short(id).is_some() => {
                    Some(shell.url(&format!("settings/api-keys/{id}")))
                }
                _ => None,
            },
            changes,
            words,
            ip: e.ip.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/settings/audit_log/_results.html")]
pub struct AuditResults {
    pub base: String,
    pub rows: Vec<EventRow>,
    pub total: i64,
    pub first: i64,
    pub last: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub pages: Vec<PageLink>,
    pub filtered: bool,
    pub errors: FilterErrors,
    /// An htmx response: the filter messages go next to their fields out of band.
    pub oob: bool,
    pub csv_url: String,
    pub jsonl_url: String,
}

#[derive(Template)]
#[template(path = "pages/settings/audit_log/index.html")]
struct AuditLogPage {
    shell: Shell,
    raw: RawFilter,
    kinds: Vec<(&'static str, &'static str)>,
    actors: Vec<String>,
    results: AuditResults,
    head: db::audit::ChainHead,
}

fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()).unwrap_or_default()
}

pub(super) fn parse_filter(req: &HttpRequest) -> (AuditFilter, RawFilter, FilterErrors) {
    let pairs = query_pairs(req);
    AuditFilter::from_query(|k| {
        pairs
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    })
}

/// The page links around the current page (first, last, and two either side).
fn page_links(filter: &AuditFilter, total: i64) -> Vec<PageLink> {
    let count = PageNumber::count(total, PAGE_SIZE);
    let page = filter.page.get();
    pager::links(page, count, |p| filter.query(p))
}

fn results(
    shell: &Shell,
    filter: &AuditFilter,
    errors: FilterErrors,
    rows: &[AuditEvent],
    names: &KeyNames,
    total: i64,
) -> AuditResults {
    let base = shell.url("settings/audit-log");
    let page = filter.page.get();
    let count = PageNumber::count(total, PAGE_SIZE);
    let filters = filter.filters_query();
    let download = |ext: &str| {
        if filters.is_empty() {
            format!("{base}/export.{ext}")
        } else {
            format!("{base}/export.{ext}?{filters}")
        }
    };
    AuditResults {
        first: if rows.is_empty() {
            0
        } else {
            filter.offset() + 1
        },
        last: filter.offset() + rows.len() as i64,
        total,
        prev: (page > 1).then(|| filter.query(page - 1)),
        next: (page < count).then(|| filter.query(page + 1)),
        pages: page_links(filter, total),
        filtered: filter.is_filtered() || !errors.is_empty(),
        errors,
        oob: false,
        csv_url: download("csv"),
        jsonl_url: download("jsonl"),
        rows: rows.iter().map(|e| EventRow::of(e, shell, names)).collect(),
        base,
    }
}

/// GET the tab: the whole page, or for htmx only the results (filters and pages).
pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    AuditReader(shell): AuditReader,
) -> Result<HttpResponse, WebError> {
    let (filter, raw, errors) = parse_filter(&req);
    let pid = shell.project_id.clone();
    let valid = errors.is_empty();
    let (filter, rows, total, actors, head, names) = db::run(&state.pool, move |conn| {
        let (filter, rows, total) = if valid {
            let total = db::audit::count_matching(conn, &pid, &filter)?;
            let filter = filter.within(total);
            let rows = db::audit::page(conn, &pid, &filter, PAGE_SIZE)?;
            (filter, rows, total)
        } else {
            (filter, Vec::new(), 0)
        };
        let actors = db::audit::actors(conn, &pid)?;
        Ok((
            filter,
            rows,
            total,
            actors,
            db::audit::chain_head(conn, &pid)?,
            key_names(db::api_keys::names(conn, &pid)?),
        ))
    })
    .await?;
    let mut results = results(&shell, &filter, errors, &rows, &names, total);
    if htmx::is_htmx(&req) {
        results.oob = true;
        return htmx::html(&results);
    }
    htmx::html(&AuditLogPage {
        kinds: Kind::ALL.iter().map(|k| (k.as_str(), k.label())).collect(),
        actors,
        raw,
        shell,
        results,
        head,
    })
}
