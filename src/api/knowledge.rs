//! `/v1/knowledge`: list, get, create, delete.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::KnowledgeDto;
use super::error::ApiError;
use super::list::{self, Listing};
use super::{authenticated, delete_one, read_json};
use crate::db::{self, models::KnowledgeItem};
use crate::domain::ids::{self, Id};
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
    (k.created_at, &k.id)
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    list::respond::<_, KnowledgeDto>(&req, &state, &ITEMS).await
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // An id no item can have (a NUL in it, say) is not looked up, but still authenticated.
    let id = Id::parse(&id).ok();
    let item = authenticated(&req, &state, move |conn, who| {
        let id = id.ok_or(ApiError::KNOWLEDGE_NOT_FOUND)?;
        db::knowledge::find(conn, &who.project_id, id.as_str())?
            .ok_or(ApiError::KNOWLEDGE_NOT_FOUND)
    })
    .await?;
    Ok(HttpResponse::Ok().json(KnowledgeDto::from(item)))
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // The body is read first but judged after authentication: a client without a valid key
    // learns nothing about its body.
    let parsed = read_json(&req, payload)
        .await
        .and_then(|v| NewKnowledge::from_json(&v).map_err(ApiError::from));
    let ip = crate::request::client_ip(&req).to_string();
    let item = authenticated(&req, &state, move |conn, who| {
        let new = parsed?;
        let row = KnowledgeItem {
            id: ids::new_id(),
            project_id: who.project_id.clone(),
            name: new.name,
            description: new.description,
            text: new.text,
            created_at: time::now(),
        };
        let event = db::audit::Event {
            project_id: &row.project_id,
            actor: db::audit::Actor::Key(&who.key_id),
            action: "knowledge.created",
            target_type: "knowledge_item",
            target_id: &row.id,
            ip: Some(&ip),
        };
        Ok(db::knowledge::insert_with_audit(conn, &row, &event)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(KnowledgeDto::from(item)))
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Ok(id) = Id::parse(&id) else {
        authenticated(&req, &state, |_, _| Ok(())).await?;
        return Err(ApiError::KNOWLEDGE_NOT_FOUND);
    };
    delete_one(&req, &state, id.into_string(), &REMOVAL).await
}

static REMOVAL: super::Removal = super::Removal {
    action: "knowledge.deleted",
    target_type: "knowledge_item",
    remove: db::knowledge::delete,
    not_found: "Knowledge item not found",
};
