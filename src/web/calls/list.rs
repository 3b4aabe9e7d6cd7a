//! Monitor → Calls: the filtered, paginated table, and the list's view a call's page and
//! its delete lead back to.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::db::{self, models::Call};
use crate::domain::call_filter::{CallFilter, EvaluationFilter, PAGE_SIZES};
use crate::domain::calls::CallStatus;
use crate::domain::ids::ProjectId;
use crate::domain::pagination::PageNumber;
use crate::domain::phone;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::pager::{self, PageLink};
use crate::web::shell::{Section, Shell};

pub struct CallRow {
    pub id: String,
    pub date: String,
    pub full_date: String,
    pub status: &'static str,
    /// The status as a word, as evaluations read.
    pub status_label: &'static str,
    pub duration: String,
    pub caller: String,
    pub called: String,
    /// The stored value (for the badge's colour) and how it reads.
    pub evaluation: Option<(String, String)>,
    pub engaged: bool,
}

/// A status as a person reads it (the filter's words).
pub fn status_label(status: CallStatus) -> &'static str {
    match status {
        CallStatus::Completed => "Completed",
        CallStatus::Live => "Live",
    }
}

/// A stored number grouped for reading, or a dash when there is none.
fn number_label(stored: Option<&str>) -> String {
    stored.map_or_else(|| "—".into(), phone::display)
}

/// `success` → `Success`, `needs_review` → `Needs review`.
pub fn evaluation_label(value: &str) -> String {
    let spaced = value.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl From<&Call> for CallRow {
    fn from(c: &Call) -> Self {
        CallRow {
            id: c.id.to_string(),
            date: time::datetime_label(c.created_at),
            full_date: time::full_label(c.created_at),
            status: c.status.as_str(),
            status_label: status_label(c.status),
            duration: time::duration_label(c.duration),
            caller: number_label(c.caller_number.as_deref()),
            called: number_label(c.called_number.as_deref()),
            evaluation: c
                .evaluation
                .as_ref()
                .map(|e| (e.clone(), evaluation_label(e))),
            engaged: c.is_engaged,
        }
    }
}

#[derive(Template)]
#[template(path = "pages/calls/_results.html")]
pub struct CallsResults {
    pub base: String,
    pub rows: Vec<CallRow>,
    pub total: i64,
    pub first: i64,
    pub last: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub pages: Vec<PageLink>,
    pub sizes: Vec<(i64, String, bool)>,
    pub filtered: bool,
    /// The search, when there is one (an empty result then says what can be searched).
    pub search: Option<String>,
    /// This view's query, carried to a call's page so its back link returns here.
    pub here: String,
    /// Why the date range matches nothing, next to the To field.
    pub range_error: Option<&'static str>,
    /// An htmx response: the range message goes next to the field out of band.
    pub oob: bool,
    /// A project without any call yet: what to do first.
    pub first_steps: Option<FirstSteps>,
}

/// The first-run checklist of an empty project: make a key, bring calls in, read the API
/// reference (that one is remembered by the browser, the others are read from the data).
pub struct FirstSteps {
    pub has_key: bool,
    pub can_manage_keys: bool,
    pub keys_url: String,
    pub project_id: ProjectId,
}

#[derive(Template)]
#[template(path = "pages/calls/index.html")]
struct CallsPage {
    shell: Shell,
    search: String,
    /// How many filters behind the phone's "Filters" button are set.
    narrowing: usize,
    status: String,
    evaluation: String,
    evaluations: Vec<(String, String)>,
    from: String,
    to: String,
    per_page: i64,
    results: CallsResults,
}

/// The list's view a call was opened from (its filters and page), rebuilt from the request's
/// query rather than passed on as given: what it leads back to is always this project's list,
/// never a link from elsewhere. `None` when the request came without one, or with the list's
/// first view (no filter, first page, default size): the plain list URL is that view.
pub(super) fn list_view(req: &HttpRequest) -> Option<String> {
    if req.query_string().is_empty() {
        return None;
    }
    let view = CallFilter::from_query(|k| query_value(req, k));
    let first = CallFilter::from_query(|_| None);
    (view != first).then(|| view.query(view.page.get(), view.per_page))
}

/// `path` with the list's view as its query, if there is one.
pub(super) fn with_view(path: String, view: &Option<String>) -> String {
    match view {
        Some(q) => format!("{path}?{q}"),
        None => path,
    }
}

fn query_value(req: &HttpRequest, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The results of a filter already brought within its pages ([`CallFilter::within`]).
fn results(base: String, filter: &CallFilter, rows: &[Call], total: i64) -> CallsResults {
    let pages_count = PageNumber::count(total, filter.per_page);
    let page = filter.page.get();
    let pages = pager::links(page, pages_count, |p| filter.query(p, filter.per_page));
    let first = if rows.is_empty() {
        0
    } else {
        filter.offset() + 1
    };
    CallsResults {
        base,
        first,
        last: filter.offset() + rows.len() as i64,
        total,
        prev: (page > 1).then(|| filter.query(page - 1, filter.per_page)),
        next: (page < pages_count).then(|| filter.query(page + 1, filter.per_page)),
        pages,
        sizes: PAGE_SIZES
            .iter()
            .map(|&n| (n, filter.query(1, n), n == filter.per_page))
            .collect(),
        filtered: filter.is_filtered(),
        search: filter.search.clone(),
        here: filter.query(page, filter.per_page),
        range_error: filter.range_error(),
        oob: false,
        first_steps: None,
        rows: rows.iter().map(CallRow::from).collect(),
    }
}

/// GET the table: the whole page, or for htmx only the results (filters and pages).
pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let filter = CallFilter::from_query(|k| query_value(&req, k));
    let pid = shell.project_id.clone();
    let (filter, rows, total, evaluations, has_key) = db::run(&state.pool, move |conn| {
        let total = db::calls::count_matching(conn, &pid, &filter)?;
        let filter = filter.within(total);
        let rows = db::calls::search(conn, &pid, &filter)?;
        let has_key = if total == 0 && !filter.is_filtered() {
            Some(db::api_keys::any_active(conn, &pid)?)
        } else {
            None
        };
        Ok((
            filter,
            rows,
            total,
            db::calls::evaluations(conn, &pid)?,
            has_key,
        ))
    })
    .await?;
    let mut results = results(shell.url("calls"), &filter, &rows, total);
    results.first_steps = has_key.map(|has_key| FirstSteps {
        has_key,
        can_manage_keys: shell.role.can_manage_keys(),
        keys_url: shell.url("settings/api-keys"),
        project_id: shell.project_id.clone(),
    });
    if htmx::is_htmx(&req) {
        results.oob = true;
        return htmx::html(&results);
    }
    htmx::html(&CallsPage {
        search: filter.search.clone().unwrap_or_default(),
        narrowing: filter.narrowing(),
        status: filter.status.clone().unwrap_or_default(),
        evaluation: match &filter.evaluation {
            Some(EvaluationFilter::Is(e)) => e.clone(),
            Some(EvaluationFilter::Missing) => "none".into(),
            None => String::new(),
        },
        evaluations: evaluations
            .into_iter()
            .map(|e| {
                let label = evaluation_label(&e);
                (e, label)
            })
            .collect(),
        from: filter.from.map(|d| d.to_string()).unwrap_or_default(),
        to: filter.to.map(|d| d.to_string()).unwrap_or_default(),
        per_page: filter.per_page,
        shell,
        results,
    })
}
