//! The filtered events downloaded as CSV or JSON Lines, oldest first, streamed in batches.

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::list::{parse_filter, target_of};
use crate::db::{self, models::AuditEvent};
use crate::domain::audit_chain::canonical_time;
use crate::domain::audit_log::{self, csv_record, AuditFilter, Words};
use crate::domain::ids::ProjectId;
use crate::domain::key_names::KeyNames;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::settings::key_changes::key_names;
use crate::web::shell::{AuditReader, Shell};

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
