//! Adding an item: the modal, and the item's page once it is stored.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::form::{form_label, sentence, NewItemForm};
use crate::db::{self, models::KnowledgeItem};
use crate::domain::ids::KnowledgeId;
use crate::domain::knowledge::{Field, NewKnowledge, MAX_NAME_CHARS};
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::Editor;

#[derive(Template, Default)]
#[template(path = "pages/knowledge/_new_modal.html")]
struct NewItemModal {
    action: String,
    max_name: usize,
    name: String,
    description: String,
    content: String,
    name_error: Option<String>,
    description_error: Option<String>,
    content_error: Option<String>,
}

pub async fn new_modal(Editor(shell): Editor) -> Result<HttpResponse, WebError> {
    htmx::html(&NewItemModal {
        action: shell.url("knowledge"),
        max_name: MAX_NAME_CHARS,
        ..Default::default()
    })
}

/// POST a new item: its page, or the modal again with the messages.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<NewItemForm>,
    Editor(shell): Editor,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let new = match NewKnowledge::parse(&form.name, Some(&form.description), &form.content) {
        Ok(new) => new,
        Err(refused) => {
            let said = |field: Field| {
                refused
                    .iter()
                    .find(|e| e.field == field)
                    .map(|e| sentence(e.message(form_label(field))))
            };
            return htmx::html(&NewItemModal {
                action: shell.url("knowledge"),
                max_name: MAX_NAME_CHARS,
                name_error: said(Field::Name),
                description_error: said(Field::Description),
                content_error: said(Field::Text),
                name: form.name,
                description: form.description,
                content: form.content,
            });
        }
    };
    let item = KnowledgeItem {
        id: KnowledgeId::generate(),
        project_id: shell.project_id.clone(),
        name: new.name,
        description: new.description,
        text: new.text,
        created_at: time::now(),
    };
    let actor = shell.actor.clone();
    let stored = db::run(&state.pool, move |conn| {
        db::knowledge::create(conn, &item, &actor)
    })
    .await?;
    Ok(htmx::with_toast(
        htmx::redirect(&req, &shell.url(&format!("knowledge/{}", stored.id))),
        &format!("“{}” added to the knowledge base.", stored.name),
    ))
}
