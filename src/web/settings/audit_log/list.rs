//! Settings → Audit log (Owner and Admin): the project's events, newest first, filtered and
//! paged from the URL, and the filtered events downloaded as CSV or JSON Lines, streamed.

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Serialize;

use super::super::calls::PageLink;
use super::super::error::WebError;
use super::super::htmx;
use super::super::shell::{AuditReader, Section, Shell};
use super::key_page::{change_rows, key_names, ChangeRow};
use crate::db::{self, models::AuditEvent};
use crate::domain::audit_chain::canonical_time;
use crate::domain::audit_log::{
    self, csv_record, AuditFilter, FilterErrors, Kind, RawFilter, Words, PAGE_SIZE,
};
use crate::domain::ids::ProjectId;
use crate::domain::key_names::KeyNames;
use crate::domain::pagination::PageNumber;
use crate::state::AppState;
use crate::time;

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
fn target_of(e: &AuditEvent, names: &KeyNames) -> String {
    match (&e.target_id, e.target_type.as_str()) {
        (Some(id), "api_key") => names.label(id, &e.target_label),
        _ => e.target_label.clone(),
    }
}

/// An event in words (the downloads' sentence): a roll's other key by its prefix, not its id.
fn words_of(e: &AuditEvent, names: &KeyNames) -> Words {
    let mut words = audit_log::describe(&e.action, &target_of(e, names), e.detail.as_deref());
    words.changes = names
        .resolve(std::mem::take(&mut words.changes))
        .into_iter()
        .map(|c| (c.field, c.before, c.after))
        .collect();
    words
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
#[template(path = "pages/settings/_audit_results.html")]
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
#[template(path = "pages/settings/audit_log.html")]
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

fn parse_filter(req: &HttpRequest) -> (AuditFilter, RawFilter, FilterErrors) {
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
    let window = (page - 2).max(1)..=(page + 2).min(count);
    let link = |p: i64| PageLink {
        label: p.to_string(),
        query: filter.query(p),
        current: p == page,
        gap: false,
    };
    let gap = || PageLink {
        label: "…".into(),
        query: String::new(),
        current: false,
        gap: true,
    };
    let mut pages = Vec::new();
    if *window.start() > 1 {
        pages.push(link(1));
        if *window.start() > 2 {
            pages.push(gap());
        }
    }
    pages.extend(window.clone().map(link));
    if *window.end() < count {
        if *window.end() < count - 1 {
            pages.push(gap());
        }
        pages.push(link(count));
    }
    pages
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

/// The download formats.
#[derive(Debug, Clone, Copy)]
enum Format {
    Csv,
    JsonLines,
}

/// The CSV's columns, in order.
const CSV_HEADER: [&str; 15] = [
    "seq",
    "time",
    "actor",
    "what_happened",
    "ip",
    "action",
    "actor_kind",
    "actor_user_id",
    "actor_key_id",
    "target_type",
    "target_id",
    "target",
    "detail",
    "id",
    "hash",
];

/// One event of a JSON Lines download: every stored field.
#[derive(Serialize)]
struct EventLine<'a> {
    id: &'a str,
    project_id: &'a str,
    seq: i64,
    created_at: String,
    actor_kind: &'a str,
    actor_user_id: Option<&'a str>,
    actor_key_id: Option<&'a str>,
    actor_label: &'a str,
    action: &'a str,
    what_happened: String,
    target_type: &'a str,
    target_id: Option<&'a str>,
    target_label: &'a str,
    ip: Option<&'a str>,
    detail: Option<&'a str>,
    prev_hash: &'a str,
    hash: &'a str,
}

fn render(format: Format, events: &[AuditEvent], names: &KeyNames) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        let words = words_of(e, names);
        match format {
            Format::Csv => {
                let (seq, time) = (e.seq.to_string(), canonical_time(e.created_at));
                let sentence = words.sentence();
                out.extend_from_slice(
                    csv_record([
                        seq.as_str(),
                        &time,
                        &e.actor_label,
                        &sentence,
                        e.ip.as_deref().unwrap_or_default(),
                        &e.action,
                        &e.actor_kind,
                        e.actor_user_id
                            .as_ref()
                            .map(|u| u.as_str())
                            .unwrap_or_default(),
                        e.actor_key_id
                            .as_ref()
                            .map(|k| k.as_str())
                            .unwrap_or_default(),
                        &e.target_type,
                        e.target_id.as_deref().unwrap_or_default(),
                        &e.target_label,
                        e.detail.as_deref().unwrap_or_default(),
                        e.id.as_str(),
                        &e.hash,
                    ])
                    .as_bytes(),
                );
            }
            Format::JsonLines => {
                let line = EventLine {
                    id: e.id.as_str(),
                    project_id: e.project_id.as_str(),
                    seq: e.seq,
                    created_at: canonical_time(e.created_at),
                    actor_kind: &e.actor_kind,
                    actor_user_id: e.actor_user_id.as_ref().map(|u| u.as_str()),
                    actor_key_id: e.actor_key_id.as_ref().map(|k| k.as_str()),
                    actor_label: &e.actor_label,
                    action: &e.action,
                    what_happened: words.sentence(),
                    target_type: &e.target_type,
                    target_id: e.target_id.as_deref(),
                    target_label: &e.target_label,
                    ip: e.ip.as_deref(),
                    detail: e.detail.as_deref(),
                    prev_hash: &e.prev_hash,
                    hash: &e.hash,
                };
                // Strings and numbers always serialise.
                if serde_json::to_writer(&mut out, &line).is_ok() {
                    out.push(b'\n');
                }
            }
        }
    }
    out
}

/// Events per batch of a download: a few hundred KiB at most.
const EXPORT_BATCH: i64 = 500;

/// Where a download goes on: after which seq, with the filter.
struct Cursor {
    pool: db::Pool,
    project_id: ProjectId,
    filter: AuditFilter,
    after: i64,
}

async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    shell: Shell,
    format: Format,
) -> Result<HttpResponse, WebError> {
    let (filter, _, errors) = parse_filter(&req);
    if !errors.is_empty() {
        return Ok(HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body(errors.summary()));
    }
    // The first batch is read before the status line, so a failing database is an error
    // page, not a cut download.
    let (pid, first_filter) = (shell.project_id.clone(), filter.clone());
    let (first, names) = db::run(&state.pool, move |conn| {
        Ok((
            db::audit::batch_after(conn, &pid, &first_filter, 0, EXPORT_BATCH)?,
            key_names(db::api_keys::names(conn, &pid)?),
        ))
    })
    .await?;
    let mut head = match format {
        Format::Csv => csv_record(CSV_HEADER).into_bytes(),
        Format::JsonLines => Vec::new(),
    };
    head.extend(render(format, &first, &names));
    let rest = (first.len() as i64 == EXPORT_BATCH).then(|| Cursor {
        pool: state.pool.clone(),
        project_id: shell.project_id.clone(),
        filter,
        after: first.last().map_or(0, |e| e.seq),
    });
    let body = futures_util::stream::unfold(rest, move |cursor| async move {
        let mut cursor = cursor?;
        let (pid, filter, after) = (
            cursor.project_id.clone(),
            cursor.filter.clone(),
            cursor.after,
        );
        let batch = db::run(&cursor.pool, move |conn| {
            Ok((
                db::audit::batch_after(conn, &pid, &filter, after, EXPORT_BATCH)?,
                key_names(db::api_keys::names(conn, &pid)?),
            ))
        })
        .await;
        match batch {
            Ok((events, names)) => {
                let more = events.len() as i64 == EXPORT_BATCH;
                cursor.after = events.last().map_or(after, |e| e.seq);
                let bytes = Bytes::from(render(format, &events, &names));
                Some((Ok(bytes), more.then_some(cursor)))
            }
            Err(e) => {
                // The status line is gone: all that is left is to cut the response.
                tracing::warn!(error = %e, "an audit log download failed part-way");
                Some((
                    Err(actix_web::error::ErrorServiceUnavailable(
                        "download cut short",
                    )),
                    None,
                ))
            }
        }
    });
    let (content_type, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::JsonLines => ("application/x-ndjson", "jsonl"),
    };
    let filename = format!(
        "audit-log-{}-{}.{ext}",
        shell.project_id,
        time::now().format("%Y%m%d-%H%M%S")
    );
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(futures_util::StreamExt::chain(
            futures_util::stream::once(std::future::ready(Ok::<_, actix_web::Error>(Bytes::from(
                head,
            )))),
            body,
        )))
}

/// GET the filtered events as CSV, oldest first, streamed.
pub async fn export_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    AuditReader(shell): AuditReader,
) -> Result<HttpResponse, WebError> {
    export(req, state, shell, Format::Csv).await
}

/// GET the filtered events as JSON Lines, oldest first, streamed.
pub async fn export_jsonl(
    req: HttpRequest,
    state: web::Data<AppState>,
    AuditReader(shell): AuditReader,
) -> Result<HttpResponse, WebError> {
    export(req, state, shell, Format::JsonLines).await
}
