//! Deleting an item, after a confirmation.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::db;
use crate::domain::ids::{KnowledgeId, ProjectId};
use crate::state::AppState;
use crate::web::deletion::{self, ConfirmDelete};
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::Editor;

pub async fn confirm_delete(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KnowledgeId)>,
    Editor(shell): Editor,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let item = shell.find(&state, kid.clone(), db::knowledge::find).await?;
    htmx::html(&ConfirmDelete {
        title: "Delete knowledge item",
        question: format!(
            "Delete “{}”? Agents and API clients lose it immediately. This cannot be undone.",
            item.name
        ),
        action: shell.url(&format!("knowledge/{kid}/delete")),
    })
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KnowledgeId)>,
    editor: Editor,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    deletion::delete(&req, &state, &editor, kid, &deletion::KNOWLEDGE_ITEM).await
}
