//! List responses, streamed: rows are read and sent in batches whose size adapts to the
//! bytes they make, so a page of a thousand 512 KiB items never sits in memory at once —
//! whatever the number of clients. A page that fits in the first batch (the common case:
//! twenty calls) is one query, sent as an ordinary response with a length.

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use diesel::QueryResult;
use serde::Serialize;

use super::error::ApiError;
use super::{authenticated, dto, page};
use crate::auth::api_key::Credentials;
use crate::db::{self, DbConnection, Resume};
use crate::domain::ids::ProjectId;
use crate::state::AppState;

/// What a batch aims at, in serialised bytes.
pub const BATCH_BYTES: usize = 2 * 1024 * 1024;

/// Reads up to `limit` of a project's rows, newest first, from `Resume`.
pub type ReadBatch<Row> =
    fn(&mut DbConnection, &ProjectId, Resume<'_>, i64) -> QueryResult<Vec<Row>>;

/// How a list endpoint reads its table.
pub struct Listing<Row: 'static> {
    pub batch: ReadBatch<Row>,
    /// The project's total.
    pub total: fn(&mut DbConnection, &ProjectId) -> QueryResult<i64>,
    /// The row's place in the order: `created_at` and id.
    pub position: fn(&Row) -> (NaiveDateTime, &str),
    /// Rows in the first batch (before any size is known): what one batch of the largest
    /// rows the table can hold may take.
    pub first_batch: i64,
}

/// Where the rest of a page is: the rows still due, after which row, in batches of how many.
struct Rest {
    due: i64,
    after: (NaiveDateTime, String),
    batch: i64,
}

/// Rows for a batch of about [`BATCH_BYTES`], judged by the last batch's bytes per row.
fn next_batch_rows(bytes: usize, rows: usize, cap: i64) -> i64 {
    let per_row = (bytes / rows.max(1)).max(1);
    i64::try_from(BATCH_BYTES / per_row)
        .unwrap_or(cap)
        .clamp(1, cap)
}

/// Reads one batch and serialises its rows, each preceded by a comma unless it is the
/// page's first. Returns the bytes and where the page goes on, if it does.
fn render_batch<Row, Dto>(
    listing: &Listing<Row>,
    conn: &mut DbConnection,
    project_id: &ProjectId,
    from: Resume<'_>,
    want: i64,
    due: i64,
    first: bool,
) -> Result<(Vec<u8>, Option<Rest>), ApiError>
where
    Dto: From<Row> + Serialize,
{
    let rows = (listing.batch)(conn, project_id, from, want)?;
    let count = rows.len();
    let last = rows.last().map(|r| {
        let (at, id) = (listing.position)(r);
        (at, id.to_owned())
    });
    let mut out = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        if i > 0 || !first {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &Dto::from(row))
            .map_err(|e| ApiError::Internal(format!("serialising a row: {e}")))?;
    }
    let due = due - count as i64;
    // A short batch means the table has no more rows for this page.
    let rest = match last {
        Some(after) if due > 0 && count as i64 == want => Some(Rest {
            due,
            after,
            batch: next_batch_rows(out.len(), count, listing.first_batch.max(1) * 4),
        }),
        _ => None,
    };
    Ok((out, rest))
}

fn tail(footer: &[u8]) -> Bytes {
    let mut tail = br#"],"pagination":"#.to_vec();
    tail.extend_from_slice(footer);
    tail.push(b'}');
    Bytes::from(tail)
}

/// The project's rows, one page of them, in the list envelope as `Dto`s.
pub async fn respond<Row, Dto>(
    req: &HttpRequest,
    credentials: Credentials,
    state: &web::Data<AppState>,
    listing: &'static Listing<Row>,
) -> Result<HttpResponse, ApiError>
where
    Row: Send + 'static,
    Dto: From<Row> + Serialize + 'static,
{
    let page = page(req);
    let (project_id, head, rest, footer) = authenticated(credentials, state, move |conn, who| {
        let page = page?;
        let want = page.limit.min(listing.first_batch);
        let (rows, rest) = render_batch::<Row, Dto>(
            listing,
            conn,
            &who.project_id,
            Resume::Offset(page.offset),
            want,
            page.limit,
            true,
        )?;
        let total = (listing.total)(conn, &who.project_id)?;
        let footer = serde_json::to_vec(&dto::Pagination {
            total,
            limit: page.limit,
            offset: page.offset,
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut head = br#"{"data":["#.to_vec();
        head.extend_from_slice(&rows);
        Ok((who.project_id.clone(), head, rest, footer))
    })
    .await?;
    let Some(rest) = rest else {
        let mut whole = head;
        whole.extend_from_slice(&tail(&footer));
        return Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(whole));
    };
    let pool = state.pool.clone();
    let body = futures_util::stream::unfold(Some(rest), move |rest| {
        let (pool, project_id) = (pool.clone(), project_id.clone());
        async move {
            let rest = rest?;
            let chunk = db::run_with(&pool, move |conn| {
                let (at, id) = &rest.after;
                render_batch::<Row, Dto>(
                    listing,
                    conn,
                    &project_id,
                    Resume::After(*at, id),
                    rest.batch.min(rest.due),
                    rest.due,
                    false,
                )
            })
            .await;
            match chunk {
                Ok((bytes, rest)) => Some((Ok(Bytes::from(bytes)), rest)),
                Err(e) => {
                    // The status line is gone: all that is left is to cut the response.
                    tracing::warn!(error = %e, "a streamed list failed part-way");
                    Some((
                        Err(actix_web::error::ErrorServiceUnavailable("list cut short")),
                        None,
                    ))
                }
            }
        }
    });
    let footer = futures_util::stream::once(std::future::ready(Ok(tail(&footer))));
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .streaming(futures_util::StreamExt::chain(
            futures_util::StreamExt::chain(
                futures_util::stream::once(std::future::ready(Ok::<_, actix_web::Error>(
                    Bytes::from(head),
                ))),
                body,
            ),
            footer,
        )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_aim_at_a_size_in_bytes() {
        assert_eq!(next_batch_rows(10 * 1024 * 1024, 10, 100), 2, "1 MiB rows");
        assert_eq!(
            next_batch_rows(100 * 1024, 50, 100),
            100,
            "small rows: the cap"
        );
        assert_eq!(
            next_batch_rows(100 * 1024 * 1024, 1, 100),
            1,
            "at least one row"
        );
        assert_eq!(next_batch_rows(0, 0, 100), 100);
    }
}
