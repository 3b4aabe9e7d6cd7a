//! `/v1/calls`: list, get, delete.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::CallDto;
use super::error::ApiError;
use super::{authenticated, authenticated_fetch, delete_one, list_of};
use crate::db;
use crate::domain::ids::Id;
use crate::state::AppState;

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    list_of::<_, CallDto>(&req, &state, db::calls::list).await
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
    delete_one(
        &req,
        &state,
        id.into_string(),
        db::calls::delete,
        "Call not found",
    )
    .await
}
