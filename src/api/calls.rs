//! `/v1/calls`: list, get, delete.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::{CallDto, Deleted, ListEnvelope, Pagination};
use super::error::ApiError;
use super::{authenticated, authenticated_fetch, page};
use crate::db;
use crate::state::AppState;

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let page = page(&req);
    let (rows, total, page) = authenticated(&req, &state, move |conn, who| {
        let page = page?;
        let (rows, total) = db::calls::list(conn, &who.project_id, page.limit, page.offset)?;
        Ok((rows, total, page))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ListEnvelope {
        data: rows.into_iter().map(CallDto::from).collect(),
        pagination: Pagination {
            total,
            limit: page.limit,
            offset: page.offset,
        },
    }))
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
    let id = id.into_inner();
    let deleted_id = id.clone();
    authenticated(&req, &state, move |conn, who| {
        if db::calls::delete(conn, &who.project_id, &id)? {
            Ok(())
        } else {
            Err(ApiError::CALL_NOT_FOUND)
        }
    })
    .await?;
    Ok(HttpResponse::Ok().json(Deleted {
        id: deleted_id,
        deleted: true,
    }))
}
