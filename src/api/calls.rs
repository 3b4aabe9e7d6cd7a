//! `/v1/calls`: list, get, delete.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::CallDto;
use super::error::ApiError;
use super::list::{self, Listing};
use super::{authenticated, authenticated_fetch, delete_one};
use crate::db::{self, models::Call};
use crate::domain::ids::Id;
use crate::state::AppState;

static CALLS: Listing<Call> = Listing {
    batch: db::calls::batch,
    total: db::calls::total,
    position: call_position,
    // A page of 20 in one query; transcripts are small, and at most 1 MiB (the import's bound).
    first_batch: 25,
};

fn call_position(c: &Call) -> (chrono::NaiveDateTime, &str) {
    (c.created_at, &c.id)
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    list::respond::<_, CallDto>(&req, &state, &CALLS).await
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let call = match Id::parse(&id) {
        Ok(id) => {
            authenticated_fetch(&req, &state, move |conn, key_hash| {
                db::calls::find_with_key(conn, key_hash, id.as_str())
            })
            .await?
        }
        // No call has this id (a NUL in it, say): authenticate as usual, then not found.
        Err(_) => authenticated(&req, &state, |_, _| Ok(None)).await?,
    };
    Ok(HttpResponse::Ok().json(CallDto::from(call.ok_or(ApiError::CALL_NOT_FOUND)?)))
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Ok(id) = Id::parse(&id) else {
        authenticated(&req, &state, |_, _| Ok(())).await?;
        return Err(ApiError::CALL_NOT_FOUND);
    };
    delete_one(&req, &state, id.into_string(), &REMOVAL).await
}

static REMOVAL: super::Removal = super::Removal {
    action: "call.deleted",
    target_type: "call",
    remove: db::calls::delete,
    not_found: "Call not found",
};
