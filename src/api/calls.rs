//! `/v1/calls`: list, get, delete; and create and update, this server's additions (calls
//! arriving over HTTP).

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::{call_json, CallDto, CallList, CallPatchBody, Deleted, NewCallBody, PageQuery};
use super::error::{self, ApiError, ErrorBody};
use super::list::{self, Listing};
use super::{authenticated, authenticated_fetch, delete_one, read_json};
use crate::auth::api_key::Credentials;
use crate::db::{self, models::Call};
use crate::domain::ids::{CallId, Lookup};
use crate::import::line;
use crate::state::AppState;
use crate::time;

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

/// Create a call
///
/// This server's addition (not in the hosted API): a call arriving over HTTP, in the API's
/// shape, judged as a line of `callem import calls` is (same rules, same limits, same
/// messages). Without an id, one is generated; createdAt defaults to now and updatedAt to
/// createdAt. Answers the call as stored, the object GET answers. An id already taken (ids
/// are unique across the server, whatever the project) is a 409 "Call already exists".
#[utoipa::path(
    post,
    path = "/v1/calls",
    tag = "Calls",
    operation_id = "createCall",
    request_body(content = NewCallBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Created: the call as stored.", body = CallDto),
        error::BadRequest,
        (status = 409, description = "Call already exists (an id already taken, in any project).", body = ErrorBody),
        (status = 413, description = "Request body too large (over 1 MiB).", body = ErrorBody),
        (status = 415, description = "Content-Type must be application/json", body = ErrorBody),
        error::KeyErrors,
    )
)]
pub async fn create(
    req: HttpRequest,
    credentials: Credentials,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // As for knowledge: a key that would be refused is refused before the body is read, and
    // the body is judged after the authentication proper.
    super::refuse_before_body(&credentials, &state).await?;
    let parsed = read_json(&req, payload).await.and_then(|v| {
        let serde_json::Value::Object(body) = v else {
            return Err(ApiError::BadRequest(
                "body must be a JSON object: a call".into(),
            ));
        };
        Ok(line::from_object(body)?)
    });
    let call = authenticated(credentials, &state, move |conn, who| {
        let record = parsed?;
        db::calls::create(conn, &who.project_id, &record, call_json, time::now()).map_err(|e| {
            match e {
                db::calls::CreateError::Exists => ApiError::CALL_EXISTS,
                db::calls::CreateError::Db(e) => e.into(),
            }
        })
    })
    .await?;
    // Its webhook events (if any) were written with it: this process sends them now.
    state.jobs.wake_deliveries();
    Ok(HttpResponse::Created().json(CallDto::from(call)))
}

/// Update a call
///
/// This server's addition (not in the hosted API). Each field given replaces the stored one,
/// judged as on create (same rules, same messages): status (live may become completed, never
/// the reverse: 400), duration, summary, evaluation, endedReason (null removes these three),
/// isEngaged, callAnalysis and transcript (each replaced whole). Absent fields are kept; any
/// other field is a 400 naming it. updatedAt is set by the server when a value changes (a
/// body that changes nothing changes nothing). Answers the call as it now is.
#[utoipa::path(
    patch,
    path = "/v1/calls/{id}",
    tag = "Calls",
    operation_id = "updateCall",
    params(("id" = String, Path, description = "The call's id.")),
    request_body(content = CallPatchBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The call as updated.", body = CallDto),
        error::BadRequest,
        error::CallNotFound,
        (status = 413, description = "Request body too large (over 1 MiB).", body = ErrorBody),
        (status = 415, description = "Content-Type must be application/json", body = ErrorBody),
        error::KeyErrors,
    )
)]
pub async fn update(
    req: HttpRequest,
    credentials: Credentials,
    state: web::Data<AppState>,
    id: web::Path<Lookup<CallId>>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    super::refuse_before_body(&credentials, &state).await?;
    let parsed = read_json(&req, payload).await.and_then(|v| {
        let serde_json::Value::Object(body) = v else {
            return Err(ApiError::BadRequest(
                "body must be a JSON object of the fields to change".into(),
            ));
        };
        Ok(line::change(body)?)
    });
    let id = id.into_inner().0;
    let call = authenticated(credentials, &state, move |conn, who| {
        // An unknown call is a 404 whatever the body (as GET), a bad body then a 400.
        let id = id.ok_or(ApiError::CALL_NOT_FOUND)?;
        let change = match parsed {
            Ok(change) => change,
            Err(refusal) => {
                return match db::calls::find(conn, &who.project_id, &id)? {
                    Some(_) => Err(refusal),
                    None => Err(ApiError::CALL_NOT_FOUND),
                }
            }
        };
        match db::calls::update(conn, &who.project_id, &id, &change, call_json, time::now()) {
            Ok(Some((_before, after))) => Ok(after),
            Ok(None) => Err(ApiError::CALL_NOT_FOUND),
            Err(db::calls::UpdateError::Refused(why)) => Err(why.into()),
            Err(db::calls::UpdateError::Db(e)) => Err(e.into()),
        }
    })
    .await?;
    state.jobs.wake_deliveries();
    Ok(HttpResponse::Ok().json(CallDto::from(call)))
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
