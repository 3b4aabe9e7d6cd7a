//! `/v1/calls`: list, get, delete.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::CallDto;
use super::error::ApiError;
use super::list::{self, Listing};
use super::{authenticated, authenticated_fetch, delete_one};
use crate::auth::api_key::Credentials;
use crate::db::{self, models::Call};
use crate::domain::ids::{CallId, Lookup};
use crate::state::AppState;

static CALLS: Listing<Call> = Listing {
    batch: db::calls::batch,
    total: db::calls::total,
    position: call_position,
    // A page of 20 in one query; transcripts are small, and at most 1 MiB (the import's bound).
    first_batch: 25,
};

fn call_position(c: &Call) -> (chrono::NaiveDateTime, &str) {
    (c.created_at, c.id.as_str())
}

pub async fn list(
    req: HttpRequest,
    credentials: Credentials,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    list::respond::<_, CallDto>(&req, credentials, &state, &CALLS).await
}

pub async fn get(
    credentials: Credentials,
    state: web::Data<AppState>,
    id: web::Path<Lookup<CallId>>,
) -> Result<HttpResponse, ApiError> {
    let call = match id.into_inner().0 {
        Some(id) => {
            authenticated_fetch(credentials, &state, move |conn, key_hash| {
                db::api_keys::find_with_call(conn, key_hash, &id)
            })
            .await?
        }
        // No call can have this id (a NUL in it, say): authenticate as usual, then not found.
        None => authenticated(credentials, &state, |_, _| Ok(None)).await?,
    };
    Ok(HttpResponse::Ok().json(CallDto::from(call.ok_or(ApiError::CALL_NOT_FOUND)?)))
}

pub async fn delete(
    credentials: Credentials,
    state: web::Data<AppState>,
    id: web::Path<Lookup<CallId>>,
) -> Result<HttpResponse, ApiError> {
    delete_one(credentials, &state, id.into_inner(), &REMOVAL).await
}

static REMOVAL: super::Removal<CallId> = super::Removal {
    action: "call.deleted",
    target_type: "call",
    remove: db::calls::delete,
    not_found: "Call not found",
};
