//! `/v1/calls`: list, get, delete.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::{CallDto, CallList, Deleted, PageQuery};
use super::error::{self, ApiError};
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

/// List calls
///
/// The project's calls, newest first by createdAt (ties by id).
#[utoipa::path(
    get,
    path = "/v1/calls",
    tag = "Calls",
    operation_id = "listCalls",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of calls.", body = CallList),
        error::BadRequest,
        error::KeyErrors,
    )
)]
pub async fn list(
    req: HttpRequest,
    credentials: Credentials,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    list::respond::<_, CallDto>(&req, credentials, &state, &CALLS).await
}

/// Get a call
#[utoipa::path(
    get,
    path = "/v1/calls/{id}",
    tag = "Calls",
    operation_id = "getCall",
    params(("id" = String, Path, description = "The call's id.")),
    responses(
        (status = 200, description = "The call.", body = CallDto),
        error::CallNotFound,
        error::KeyErrors,
    )
)]
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

/// Delete a call
///
/// Permanent: the transcript and analysis go with it. A second delete of the same id is a 404.
#[utoipa::path(
    delete,
    path = "/v1/calls/{id}",
    tag = "Calls",
    operation_id = "deleteCall",
    params(("id" = String, Path, description = "The call's id.")),
    responses(
        (status = 200, description = "Deleted.", body = Deleted),
        error::CallNotFound,
        error::KeyErrors,
    )
)]
pub async fn delete(
    credentials: Credentials,
    state: web::Data<AppState>,
    id: web::Path<Lookup<CallId>>,
) -> Result<HttpResponse, ApiError> {
    delete_one(credentials, &state, id.into_inner(), &REMOVAL).await
}

static REMOVAL: super::Removal<CallId> = super::Removal {
    remove: db::calls::delete,
    not_found: "Call not found",
};
