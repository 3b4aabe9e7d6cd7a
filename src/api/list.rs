//! List responses, streamed: the page's ids (and each row's size) are read with the key
//! check, then the rows are read and sent in batches of bounded bytes, so a page of a
//! thousand 512 KiB items never sits in memory at once — whatever the number of clients.

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::QueryResult;
use serde::Serialize;

use super::error::ApiError;
use super::{authenticated, dto, page};
use crate::db::{self, DbConnection};
use crate::state::AppState;

/// Rows a batch may hold, by their large columns' size; at least one row per batch.
pub const BATCH_BYTES: i64 = 2 * 1024 * 1024;

/// Reads one page of ids (project, limit, offset), newest first, with each row's size.
pub type PageIds = fn(&mut DbConnection, &str, i64, i64) -> QueryResult<Vec<(String, i64)>>;

/// How a list endpoint reads its table.
pub struct Listing<Row: 'static> {
    pub page_ids: PageIds,
    /// The rows with these ids, in any order.
    pub by_ids: fn(&mut DbConnection, &str, &[String]) -> QueryResult<Vec<Row>>,
    /// The project's total.
    pub total: fn(&mut DbConnection, &str) -> QueryResult<i64>,
    pub id_of: fn(&Row) -> &str,
}

/// Splits a page into batches of at most [`BATCH_BYTES`] (a larger row goes alone).
pub fn batches(rows: Vec<(String, i64)>, budget: i64) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut used = 0i64;
    for (id, size) in rows {
        match out.last_mut() {
            Some(batch) if used.saturating_add(size) <= budget => {
                batch.push(id);
                used = used.saturating_add(size);
            }
            _ => {
                out.push(vec![id]);
                used = size;
            }
        }
    }
    out
}

/// Reads `ids` and serialises them in that order (rows deleted meanwhile are skipped), each
/// preceded by a comma unless it is the page's first.
fn render_batch<Row, Dto>(
    listing: &Listing<Row>,
    conn: &mut DbConnection,
    project_id: &str,
    ids: &[String],
    first: &mut bool,
) -> Result<Bytes, ApiError>
where
    Dto: From<Row> + Serialize,
{
    let mut rows: std::collections::HashMap<String, Row> = (listing.by_ids)(conn, project_id, ids)?
        .into_iter()
        .map(|r| ((listing.id_of)(&r).to_owned(), r))
        .collect();
    let mut out = Vec::new();
    for row in ids.iter().filter_map(|id| rows.remove(id)) {
        if !std::mem::take(first) {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &Dto::from(row))
            .map_err(|e| ApiError::Internal(format!("serialising a row: {e}")))?;
    }
    Ok(Bytes::from(out))
}

/// The project's rows, one page of them, in the list envelope as `Dto`s.
pub async fn respond<Row, Dto>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    listing: &'static Listing<Row>,
) -> Result<HttpResponse, ApiError>
where
    Row: Send + 'static,
    Dto: From<Row> + Serialize + 'static,
{
    let page = page(req);
    let (project_id, first_chunk, rest, footer) = authenticated(req, state, move |conn, who| {
        let page = page?;
        let ids = (listing.page_ids)(conn, &who.project_id, page.limit, page.offset)?;
        let total = (listing.total)(conn, &who.project_id)?;
        let mut batches = batches(ids, BATCH_BYTES).into_iter();
        let mut first = true;
        let mut head = br#"{"data":["#.to_vec();
        if let Some(ids) = batches.next() {
            let chunk = render_batch::<Row, Dto>(listing, conn, &who.project_id, &ids, &mut first)?;
            head.extend_from_slice(&chunk);
        }
        let footer = serde_json::to_vec(&dto::Pagination {
            total,
            limit: page.limit,
            offset: page.offset,
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok((
            who.project_id.clone(),
            Bytes::from(head),
            (batches.collect::<Vec<_>>(), first),
            footer,
        ))
    })
    .await?;
    let (rest, first) = rest;
    let tail = |footer: &[u8]| {
        let mut tail = br#"],"pagination":"#.to_vec();
        tail.extend_from_slice(footer);
        tail.push(b'}');
        Bytes::from(tail)
    };
    if rest.is_empty() {
        // One batch: an ordinary response with a length.
        let mut whole = first_chunk.to_vec();
        whole.extend_from_slice(&tail(&footer));
        return Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(whole));
    }
    let pool = state.pool.clone();
    let body = futures_util::stream::unfold(
        (rest.into_iter(), first, Some(footer)),
        move |(mut batches, first, footer)| {
            let (pool, project_id) = (pool.clone(), project_id.clone());
            async move {
                let Some(ids) = batches.next() else {
                    return Some((Ok(tail(&footer?)), (batches, first, None)));
                };
                let chunk = db::run_with(&pool, move |conn| {
                    let mut first = first;
                    render_batch::<Row, Dto>(listing, conn, &project_id, &ids, &mut first)
                        .map(|b| (b, first))
                })
                .await;
                match chunk {
                    Ok((bytes, first)) => Some((Ok(bytes), (batches, first, footer))),
                    Err(e) => {
                        // The status line is gone: all that is left is to cut the response.
                        tracing::warn!(error = %e, "a streamed list failed part-way");
                        Some((
                            Err(actix_web::error::ErrorServiceUnavailable("list")),
                            (Vec::new().into_iter(), first, None),
                        ))
                    }
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .streaming(futures_util::StreamExt::chain(
            futures_util::stream::once(std::future::ready(Ok(first_chunk))),
            body,
        )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(b: &[Vec<String>]) -> Vec<Vec<&str>> {
        b.iter()
            .map(|v| v.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn batches_hold_bounded_bytes_and_keep_the_order() {
        let rows = |sizes: &[i64]| -> Vec<(String, i64)> {
            sizes
                .iter()
                .enumerate()
                .map(|(i, s)| (i.to_string(), *s))
                .collect()
        };
        assert_eq!(
            ids(&batches(rows(&[10, 10, 10]), 25)),
            vec![vec!["0", "1"], vec!["2"]]
        );
        assert_eq!(
            ids(&batches(rows(&[100, 1, 1]), 25)),
            vec![vec!["0"], vec!["1", "2"]],
            "a row larger than the budget goes alone"
        );
        assert!(batches(Vec::new(), 25).is_empty());
    }
}
