//! Build → Knowledge Base: list, add, view (Markdown, made safe), delete.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::deletion::{self, ConfirmDelete};
use super::error::WebError;
use super::htmx;
use super::shell::{Editor, Section, Shell};
use crate::db::{self, audit::Change, audit::Event, models::KnowledgeItem};
use crate::domain::ids::{KnowledgeId, ProjectId};
use crate::domain::knowledge::{Field, NewKnowledge, MAX_NAME_CHARS};
use crate::domain::pagination::PageNumber;
use crate::state::AppState;
use crate::time;

pub struct ItemRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub size: String,
    pub created: String,
    pub created_full: String,
}

impl From<&KnowledgeItem> for ItemRow {
    fn from(k: &KnowledgeItem) -> Self {
        ItemRow {
            id: k.id.to_string(),
            name: k.name.clone(),
            description: k.description.clone(),
            size: time::size_label(k.text.len()),
            created: time::date_label(k.created_at),
            created_full: time::full_label(k.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/knowledge/index.html")]
struct KnowledgePage {
    shell: Shell,
    rows: Vec<ItemRow>,
    total: i64,
    first: i64,
    last: i64,
    prev: Option<i64>,
    next: Option<i64>,
    can_edit: bool,
}

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

#[derive(Template)]
#[template(path = "pages/knowledge/show.html")]
struct ItemPage {
    shell: Shell,
    row: ItemRow,
    html: String,
    can_edit: bool,
}

/// Items a page of the list.
const PER_PAGE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    page: Option<String>,
}

pub async fn index(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let page = PageNumber::from_query(query.page.as_deref());
    let pid = shell.project_id.clone();
    let (items, total, page) = db::run(&state.pool, move |conn| {
        let (_, total) = db::projects::totals(conn, &pid)?;
        let page = page.within(total, PER_PAGE);
        let (items, total) = db::knowledge::list(conn, &pid, PER_PAGE, page.offset(PER_PAGE))?;
        Ok((items, total, page))
    })
    .await?;
    let first = page.offset(PER_PAGE);
    let page = page.get();
    htmx::html(&KnowledgePage {
        can_edit: shell.role.can_edit_data(),
        first: if items.is_empty() { 0 } else { first + 1 },
        last: first + items.len() as i64,
        prev: (page > 1).then(|| page - 1),
        next: (first + (items.len() as i64) < total).then(|| page + 1),
        rows: items.iter().map(ItemRow::from).collect(),
        total,
        shell,
    })
}

pub async fn new_modal(Editor(shell): Editor) -> Result<HttpResponse, WebError> {
    htmx::html(&NewItemModal {
        action: shell.url("knowledge"),
        max_name: MAX_NAME_CHARS,
        ..Default::default()
    })
}

#[derive(Debug, Deserialize)]
pub struct NewItemForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    content: String,
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
    let ip = super::client_ip(&req).to_string();
    let uid = shell.user_id.clone();
    let stored = db::run(&state.pool, move |conn| {
        let event = Event {
            project_id: &item.project_id,
            actor: db::audit::Actor::User(&uid),
            action: "knowledge.created",
            target_type: "knowledge_item",
            target_id: item.id.as_str(),
            ip: Some(&ip),
            detail: None,
        };
        db::audit::audited(conn, &event, item.created_at, |conn| {
            Ok(Change::Made(db::knowledge::insert(conn, &item)?))
        })
    })
    .await?;
    Ok(htmx::with_toast(
        htmx::redirect(&req, &shell.url(&format!("knowledge/{}", stored.id))),
        &format!("“{}” added to the knowledge base.", stored.name),
    ))
}

/// What the form calls a field (the API's `text` is the form's Content).
fn form_label(field: Field) -> &'static str {
    match field {
        Field::Name => "Name",
        Field::Description => "Description",
        Field::Text => "Content",
    }
}

/// The domain's message as the dashboard writes its others: a sentence, with its full stop.
fn sentence(mut message: String) -> String {
    if !message.ends_with(['.', '!', '?']) {
        message.push('.');
    }
    message
}

pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KnowledgeId)>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let item = shell.find(&state, kid, db::knowledge::find).await?;
    htmx::html(&ItemPage {
        can_edit: shell.role.can_edit_data(),
        row: ItemRow::from(&item),
        html: crate::markdown::to_safe_html(&item.text),
        shell,
    })
}

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
