//! `/v1/calls`: list, get, delete.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::CallDto;
use super::error::ApiError;
use super::list::{self, Listing};
use super::{authenticated_fetch, delete_one};
use crate::db::{self, models::Call};
use crate::state::AppState;

static CALLS: Listing<Call> = Listing {
    page_ids: db::calls::page_ids,
    by_ids: db::calls::by_ids,
    total: db::calls::total,
    id_of: call_id,
};

fn call_id(c: &Call) -> &str {
    &c.id
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    list::respond::<_, CallDto>(&req, &state, &CALLS).await
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let call = authenticated_fetch(&req, &state, move |conn, key_hash| {
        db::calls::find_with_key(conn, key_hash, &id)
    })
    .await?
    .ok_or(ApiError::CALL_NOT_FOUND)?;
    Ok(HttpResponse::Ok().json(CallDto::from(call)))
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    delete_one(
        &req,
        &state,
        id.into_inner(),
        db::calls::delete,
        "Call not found",
    )
    .await
}
