//! Build → Knowledge Base: the list, searched and paged.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::db::{self, models::KnowledgeItem};
use crate::domain::knowledge::{SearchTerms, MAX_SEARCH_CHARS};
use crate::domain::pagination::PageNumber;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{Section, Shell};

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
