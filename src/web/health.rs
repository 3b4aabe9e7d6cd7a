//! `/healthz` (the process is up) and `/readyz` (the database answers and the server is not
//! draining for shutdown).

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::db;
use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Pings on a connection of its own, so a server whose pool is busy with real work still
/// reports ready: busy is not down. Not ready until the pool has opened its connections, so
/// a burst on a fresh replica finds them open.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.draining.load(Ordering::Acquire) {
        return HttpResponse::ServiceUnavailable()
            .json(json!({"status": "draining", "database": "ok"}));
    }
    if !state.pool.is_warm() {
        return HttpResponse::ServiceUnavailable()
            .json(json!({"status": "starting", "database": "connecting"}));
    }
    match db::probe(&state.pool).await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready", "database": "ok"})),
        Err(e) => {
            // The pool logs the database going down and coming back, not each probe.
            tracing::debug!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "unavailable", "database": "unreachable"}))
        }
    }
}
