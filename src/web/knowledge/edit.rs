//! Editing an item: the edit page with its live preview, and saving it.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::form::{form_label, sentence, NewItemForm};
use super::list::ItemRow;
use crate::db;
use crate::domain::ids::{KnowledgeId, ProjectId};
use crate::domain::knowledge::{Field, KnowledgeEdit, NewKnowledge, MAX_NAME_CHARS};
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{Editor, Section, Shell};

/// The edit form: the page's body, and for htmx requests alone (with its messages).
#[derive(Template)]
#[template(path = "pages/knowledge/_edit_form.html")]
struct EditForm {
    action: String,
    preview: String,
    cancel: String,
    csrf_token: String,
    max_name: usize,
    name: String,
    description: String,
    content: String,
    /// The content as rendered: safe HTML.
    preview_html: String,
    name_error: Option<String>,
    description_error: Option<String>,
    content_error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/knowledge/edit.html")]
struct EditPage {
    shell: Shell,
    row: ItemRow,
    form: EditForm,
}

impl EditForm {
    fn new(shell: &Shell, id: &KnowledgeId, form: NewItemForm) -> Self {
        EditForm {
            action: shell.url(&format!("knowledge/{id}/edit")),
            preview: shell.url("knowledge/preview"),
            cancel: shell.url(&format!("knowledge/{id}")),
            csrf_token: shell.csrf_token.clone(),
            max_name: MAX_NAME_CHARS,
            preview_html: preview_html(&form.content),
            name: form.name,
            description: form.description,
            content: form.content,
            name_error: None,
            description_error: None,
            content_error: None,
        }
    }
}

/// GET the edit page: the item's fields, and its content rendered beside them.
pub async fn edit_page(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KnowledgeId)>,
    Editor(shell): Editor,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let item = shell.find(&state, kid.clone(), db::knowledge::find).await?;
    let form = EditForm::new(
        &shell,
        &kid,
        NewItemForm {
            name: item.name.clone(),
            description: item.description.clone().unwrap_or_default(),
            content: item.text.clone(),
        },
    );
    htmx::html(&EditPage {
        row: ItemRow::from(&item),
        form,
        shell,
    })
}

/// POST an edit: back to the item's page, or the form again with the messages (for htmx
/// the form alone, else the whole page). Nothing is written when any field is refused.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KnowledgeId)>,
    form: web::Form<NewItemForm>,
    Editor(shell): Editor,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let form = form.into_inner();
    let parsed = NewKnowledge::parse(&form.name, Some(&form.description), &form.content);
    let edit = match parsed {
        Ok(new) => KnowledgeEdit::from(new),
        Err(refused) => {
            // The item must still exist for its form to be shown again.
            let item = shell.find(&state, kid.clone(), db::knowledge::find).await?;
            let said = |field: Field| {
                refused
                    .iter()
                    .find(|e| e.field == field)
                    .map(|e| sentence(e.message(form_label(field))))
            };
            let mut again = EditForm::new(&shell, &kid, form);
            again.name_error = said(Field::Name);
            again.description_error = said(Field::Description);
            again.content_error = said(Field::Text);
            if htmx::is_htmx(&req) {
                return htmx::html(&again);
            }
            return htmx::html(&EditPage {
                row: ItemRow::from(&item),
                form: again,
                shell,
            });
        }
    };
    let (pid, actor, id) = (shell.project_id.clone(), shell.actor.clone(), kid.clone());
    let edited = db::run(&state.pool, move |conn| {
        db::knowledge::update(conn, &pid, &id, edit, &actor, time::now())
    })
    .await?;
    let (item, changes) = match edited {
        db::knowledge::Edited::NotFound => return Err(WebError::NotFound),
        db::knowledge::Edited::Saved(item, changes) => (item, changes),
    };
    let said = if changes.is_empty() {
        format!("“{}” was already so: nothing to save.", item.name)
    } else {
        format!("“{}” saved.", item.name)
    };
    Ok(htmx::with_toast(
        htmx::redirect(&req, &shell.url(&format!("knowledge/{kid}"))),
        &said,
    ))
}

#[derive(Debug, Deserialize)]
pub struct PreviewForm {
    #[serde(default)]
    content: String,
}

/// POST the content being written: it rendered as the item's page will show it (made safe),
/// for the edit form's preview.
pub async fn preview(
    form: web::Form<PreviewForm>,
    Editor(_): Editor,
) -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(preview_html(&form.content)))
}

/// Content rendered for the preview (made safe); words in its place while there is none.
fn preview_html(content: &str) -> String {
    if content.trim().is_empty() {
        "<p class=\"muted\">Nothing to preview yet.</p>".to_owned()
    } else {
        crate::markdown::to_safe_html(content)
    }
}
