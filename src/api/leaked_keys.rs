//! `POST /v1/leaked-keys`: anyone holding a leaked key revokes it, without `Authorization`
//! (holding the key is the proof). The answer says how many were revoked, nothing about
//! which.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::{LeakReceipt, LeakReportBody};
use super::error::{self, ApiError, ErrorBody, TooManyRequests};
use super::read_json;
use crate::db;
use crate::domain::actor::Actor;
use crate::domain::leak::LeakReport;
use crate::request::ClientIp;
use crate::state::AppState;
use crate::time;

/// Report leaked keys
///
/// Needs no key: holding a key is the proof. Every listed key that exists and still works
/// (neither revoked nor expired) is revoked at once, as reported leaked. The answer is the
/// same whatever the strings are: unknown, malformed, revoked and expired keys are counted in
/// received, and nothing else is said about them.
#[utoipa::path(
    post,
    path = "/v1/leaked-keys",
    tag = "Leaked keys",
    operation_id = "reportLeakedKeys",
    security(),
    request_body(content = LeakReportBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Received; the active keys among them are revoked.", body = LeakReceipt),
        error::BadRequest,
        (status = 413, description = "Request body too large (over 1 MiB).", body = ErrorBody),
        (status = 415, description = "Content-Type must be application/json", body = ErrorBody),
        TooManyRequests,
        error::ServerErrors,
    )
)]
pub async fn report(
    req: HttpRequest,
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let report = LeakReport::parse(&read_json(&req, payload).await?)?;
    let reporter = Actor::leak_report(client);
    let received = report.received;
    let revoked = db::run_with(&state.pool, move |conn| {
        db::api_keys::report_leaked(conn, &report.hashes, &reporter, time::now())
            .map_err(ApiError::from)
    })
    .await?;
    for key_id in &revoked {
        tracing::warn!(%key_id, "API key revoked after a leak report");
    }
    Ok(HttpResponse::Ok().json(LeakReceipt {
        received,
        revoked: revoked.len(),
    }))
}
