//! `/v1/knowledge`: list, get, create, edit (this server's addition), delete.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::{
    knowledge_edit, knowledge_field_name, Deleted, KnowledgeDto, KnowledgeList, KnowledgePatchBody,
    NewKnowledgeBody, PageQuery,
};
use super::error::{self, ApiError, ErrorBody};
use super::list::{self, Listing};
use super::{authenticated, delete_one, read_json};
use crate::auth::api_key::Credentials;
use crate::db::{self, models::KnowledgeItem};
use crate::domain::ids::{KnowledgeId, Lookup};
use crate::domain::knowledge::NewKnowledge;
use crate::state::AppState;
use crate::time;

static ITEMS: Listing<KnowledgeItem> = Listing {
    batch: db::knowledge::batch,
    total: db::knowledge::total,
    position: item_position,
    // Items may be 512 KiB each: a few at a time until their size is known.
    first_batch: 4,
};

fn item_position(k: &KnowledgeItem) -> (chrono::NaiveDateTime, &str) {
    (k.created_at, k.id.as_str())
}

/// List knowledge items
///
/// Full objects, newest first by createdAt (ties by id).
#[utoipa::path(
    get,
    path = "/v1/knowledge",
    tag = "Knowledge",
    operation_id = "listKnowledge",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of knowledge items.", body = KnowledgeList),
        error::BadRequest,
        error::KeyErrors,
    )
)]
pub async fn list(
    req: HttpRequest,
    credentials: Credentials,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    list::respond::<_, KnowledgeDto>(&req, credentials, &state, &ITEMS).await
}

/// Get a knowledge item
#[utoipa::path(
    get,
    path = "/v1/knowledge/{id}",
    tag = "Knowledge",
    operation_id = "getKnowledge",
    params(("id" = String, Path, description = "The knowledge item's id.")),
    responses(
        (status = 200, description = "The item.", body = KnowledgeDto),
        error::KnowledgeNotFound,
        error::KeyErrors,
    )
)]
pub async fn get(
    credentials: Credentials,
    state: web::Data<AppState>,
    id: web::Path<Lookup<KnowledgeId>>,
) -> Result<HttpResponse, ApiError> {
    // An id no item can have (a NUL in it, say) is not looked up, but still authenticated.
    let id = id.into_inner().0;
    let item = authenticated(credentials, &state, move |conn, who| {
        let id = id.ok_or(ApiError::KNOWLEDGE_NOT_FOUND)?;
        db::knowledge::find(conn, &who.project_id, &id)?.ok_or(ApiError::KNOWLEDGE_NOT_FOUND)
    })
    .await?;
    Ok(HttpResponse::Ok().json(KnowledgeDto::from(item)))
}

/// Create a knowledge item
#[utoipa::path(
    post,
    path = "/v1/knowledge",
    tag = "Knowledge",
    operation_id = "createKnowledge",
    request_body(content = NewKnowledgeBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Created.", body = KnowledgeDto),
        error::BadRequest,
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
    // A key that would be refused is refused before the body is read (a client without a
    // valid key cannot hold the connection by trickling one); the body is then judged after
    // the authentication proper, so such a client learns nothing about its body.
    super::refuse_before_body(&credentials, &state).await?;
    let parsed = read_json(&req, payload).await.and_then(|v| {
        let not_an_object =
            || ApiError::BadRequest("body must be a JSON object with name and text".into());
        // serde would also read a struct from an array of its fields: only an object is one.
        if !v.is_object() {
            return Err(not_an_object());
        }
        let body: NewKnowledgeBody = serde_json::from_value(v).map_err(|_| not_an_object())?;
        NewKnowledge::try_from(body)
            .map_err(|e| ApiError::BadRequest(e.message(knowledge_field_name(e.field))))
    });
    let item = authenticated(credentials, &state, move |conn, who| {
        let new = parsed?;
        let row = KnowledgeItem {
            id: KnowledgeId::generate(),
            project_id: who.project_id.clone(),
            name: new.name,
            description: new.description,
            text: new.text,
            created_at: time::now(),
        };
        Ok(db::knowledge::create(conn, &row, &who.actor())?)
    })
    .await?;
    Ok(HttpResponse::Created().json(KnowledgeDto::from(item)))
}

/// Edit a knowledge item
///
/// This server's addition (not in the hosted API). Each field given replaces the stored one,
/// judged as on create (same limits, same messages); absent fields are kept, a null
/// description removes it. The id and createdAt stay. Answers the item as it now is; a body
/// that changes nothing changes nothing (and records no audit event).
#[utoipa::path(
    patch,
    path = "/v1/knowledge/{id}",
    tag = "Knowledge",
    operation_id = "updateKnowledge",
    params(("id" = String, Path, description = "The knowledge item's id.")),
    request_body(content = KnowledgePatchBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The item as edited.", body = KnowledgeDto),
        error::BadRequest,
        error::KnowledgeNotFound,
        (status = 413, description = "Request body too large (over 1 MiB).", body = ErrorBody),
        (status = 415, description = "Content-Type must be application/json", body = ErrorBody),
        error::KeyErrors,
    )
)]
pub async fn update(
    req: HttpRequest,
    credentials: Credentials,
    state: web::Data<AppState>,
    id: web::Path<Lookup<KnowledgeId>>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // As `create`: a key that would be refused is refused before the body is read.
    super::refuse_before_body(&credentials, &state).await?;
    let parsed = read_json(&req, payload).await.and_then(|v| {
        let serde_json::Value::Object(body) = v else {
            return Err(ApiError::BadRequest(
                "body must be a JSON object with name, description or text".into(),
            ));
        };
        knowledge_edit(&body)
            .map_err(|e| ApiError::BadRequest(e.message(knowledge_field_name(e.field))))
    });
    let id = id.into_inner().0;
    let item = authenticated(credentials, &state, move |conn, who| {
        // An unknown item is a 404 whatever the body (as GET), a bad body then a 400.
        let id = id.ok_or(ApiError::KNOWLEDGE_NOT_FOUND)?;
        if db::knowledge::find(conn, &who.project_id, &id)?.is_none() {
            return Err(ApiError::KNOWLEDGE_NOT_FOUND);
        }
        let edit = parsed?;
        let by = who.actor();
        match db::knowledge::update(conn, &who.project_id, &id, edit, &by, time::now())? {
            db::knowledge::Edited::NotFound => Err(ApiError::KNOWLEDGE_NOT_FOUND),
            db::knowledge::Edited::Saved(item, _) => Ok(item),
        }
    })
    .await?;
    Ok(HttpResponse::Ok().json(KnowledgeDto::from(item)))
}

/// Delete a knowledge item
///
/// Permanent.
#[utoipa::path(
    delete,
    path = "/v1/knowledge/{id}",
    tag = "Knowledge",
    operation_id = "deleteKnowledge",
    params(("id" = String, Path, description = "The knowledge item's id.")),
    responses(
        (status = 200, description = "Deleted.", body = Deleted),
        error::KnowledgeNotFound,
        error::KeyErrors,
    )
)]
pub async fn delete(
    credentials: Credentials,
    state: web::Data<AppState>,
    id: web::Path<Lookup<KnowledgeId>>,
) -> Result<HttpResponse, ApiError> {
    delete_one(credentials, &state, id.into_inner(), &REMOVAL).await
}

static REMOVAL: super::Removal<KnowledgeId> = super::Removal {
    remove: db::knowledge::delete,
    not_found: "Knowledge item not found",
};
