//! Deleting a call or a knowledge item from the dashboard: the confirmation, then the delete
//! and its audit event in one transaction, then back to the list.

use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::error::WebError;
use super::htmx;
use super::shell::Editor;
use crate::db;
use crate::domain::ids::{CallId, KnowledgeId};
use crate::state::AppState;
use crate::time;

#[derive(Template)]
#[template(path = "pages/_confirm_delete.html")]
pub struct ConfirmDelete {
    pub title: &'static str,
    pub question: String,
    pub action: String,
}

/// What a kind of item is called in the log, where its list is, and how it is deleted (with
/// its audit event).
pub struct Kind<Id: 'static> {
    pub noun: &'static str,
    pub list_path: &'static str,
    pub remove: db::AuditedDelete<Id>,
    /// The confirmation shown once it is done.
    pub done: &'static str,
}

pub const CALL: Kind<CallId> = Kind {
    noun: "call",
    list_path: "calls",
    remove: db::calls::delete,
    done: "Call deleted.",
};

pub const KNOWLEDGE_ITEM: Kind<KnowledgeId> = Kind {
    noun: "knowledge_item",
    list_path: "knowledge",
    remove: db::knowledge::delete,
    done: "Knowledge item deleted.",
};

/// Deletes `id` from the shell's project, recording who did it; a missing item is a 404.
pub async fn delete<Id: AsRef<str> + Send + 'static>(
    req: &HttpRequest,
    state: &AppState,
    editor: &Editor,
    id: Id,
    kind: &'static Kind<Id>,
) -> Result<HttpResponse, WebError> {
    let list = editor.0.url(kind.list_path);
    delete_to(req, state, editor, id, kind, list).await
}

/// [`delete`], then to `back` (a URL of the project's list the handler built, not one the
/// request gave).
pub async fn delete_to<Id: AsRef<str> + Send + 'static>(
    req: &HttpRequest,
    state: &AppState,
    Editor(shell): &Editor,
    id: Id,
    kind: &'static Kind<Id>,
    back: String,
) -> Result<HttpResponse, WebError> {
    let shown = id.as_ref().to_owned();
    let (pid, actor) = (shell.project_id.clone(), shell.actor.clone());
    let deleted = db::run(&state.pool, move |conn| {
        (kind.remove)(conn, &pid, &id, &actor, time::now())
    })
    .await?;
    if !deleted {
        return Err(WebError::NotFound);
    }
    tracing::info!(id = %shown, kind = kind.noun, "deleted from the dashboard");
    Ok(htmx::with_toast(htmx::redirect(req, &back), kind.done))
}
