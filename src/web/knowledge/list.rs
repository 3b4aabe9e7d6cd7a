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
use crate::domain::knowledge::{
    Field, KnowledgeEdit, NewKnowledge, SearchTerms, MAX_NAME_CHARS, MAX_SEARCH_CHARS,
};
use crate::domain::pagination::PageNumber;
use crate::request::ClientIp;
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

/// The list's table and pager: the part a search replaces.
#[derive(Template)]
#[template(path = "pages/knowledge/_results.html")]
struct KnowledgeResults {
    base: String,
    rows: Vec<ItemRow>,
    total: i64,
    first: i64,
    last: i64,
    /// Query strings of the neighbouring pages, the search kept.
    prev: Option<String>,
    next: Option<String>,
    /// The search as typed; empty when none.
    search: String,
}

#[derive(Template)]
#[template(path = "pages/knowledge/index.html")]
struct KnowledgePage {
    shell: Shell,
    /// Whether the project has any item at all (else: the first-run words, no search box).
    any: bool,
    max_search: usize,
    results: KnowledgeResults,
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
    #[serde(default)]
    q: Option<String>,
}

/// `?q=…&page=…` (the search percent-encoded; page 1 and an empty search left out).
fn list_query(search: &str, page: i64) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if !search.is_empty() {
        q.append_pair("q", search);
    }
    if page > 1 {
        q.append_pair("page", &page.to_string());
    }
    let q = q.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}

/// GET the list, searched by `q` when given: the whole page, or for htmx only the results.
pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let page = PageNumber::from_query(query.page.as_deref());
    let terms = SearchTerms::parse(query.q.as_deref().unwrap_or_default());
    let pid = shell.project_id.clone();
    let searched = terms.clone();
    let (items, total, all, page) = db::run(&state.pool, move |conn| {
        let (_, all) = db::projects::totals(conn, &pid)?;
        if searched.is_empty() {
            let page = page.within(all, PER_PAGE);
            let (items, _) = db::knowledge::list(conn, &pid, PER_PAGE, page.offset(PER_PAGE))?;
            return Ok((items, all, all, page));
        }
        // Counted first, so a page past the last of the matches shows the last.
        let total = db::knowledge::count_matching(conn, &pid, &searched)?;
        let page = page.within(total, PER_PAGE);
        let items = db::knowledge::search(conn, &pid, &searched, PER_PAGE, page.offset(PER_PAGE))?;
        Ok((items, total, all, page))
    })
    .await?;
    let first = page.offset(PER_PAGE);
    let page = page.get();
    let search = terms.typed().to_owned();
    let results = KnowledgeResults {
        base: shell.url("knowledge"),
        first: if items.is_empty() { 0 } else { first + 1 },
        last: first + items.len() as i64,
        prev: (page > 1).then(|| list_query(&search, page - 1)),
        next: (first + (items.len() as i64) < total).then(|| list_query(&search, page + 1)),
        rows: items.iter().map(ItemRow::from).collect(),
        total,
        search,
    };
    if htmx::is_htmx(&req) {
        return htmx::html(&results);
    }
    htmx::html(&KnowledgePage {
        can_edit: shell.role.can_edit_data(),
        any: all > 0,
        max_search: MAX_SEARCH_CHARS,
        results,
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
    ClientIp(client): ClientIp,
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
    let ip = client.to_string();
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
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KnowledgeId)>,
    editor: Editor,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    deletion::delete(
        &req,
        client,
        &state,
        &editor,
        kid,
        &deletion::KNOWLEDGE_ITEM,
    )
    .await
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
    ClientIp(client): ClientIp,
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
    let ip = client.to_string();
    let (pid, uid, id) = (shell.project_id.clone(), shell.user_id.clone(), kid.clone());
    let edited = db::run(&state.pool, move |conn| {
        db::knowledge::update(
            conn,
            &pid,
            &id,
            edit,
            db::audit::Actor::User(&uid),
            Some(&ip),
            time::now(),
        )
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
