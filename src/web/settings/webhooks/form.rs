//! Add Webhook and Edit: the modal (URL, Description, Events in two groups), its fields
//! parsed at the edge, and the errors next to their fields.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::db::{self, webhooks::NewWebhook, webhooks::WebhookChange};
use crate::domain::ids::{ProjectId, WebhookId};
use crate::domain::webhook::{self, EventKind, EventKinds, WebhookUrl};
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::WebhookManager;

/// The sentence the tab and the modal say about the hosted product's other events.
pub const NOT_OFFERED: &str =
    "Chats and agent scope are not offered: this server has no chats or agents.";

/// One event's checkbox.
pub struct EventChoice {
    pub name: &'static str,
    pub description: &'static str,
    pub checked: bool,
}

/// The Add Webhook modal, also the Edit modal.
#[derive(Template)]
#[template(path = "pages/settings/webhooks/_form_modal.html")]
struct FormModal {
    title: &'static str,
    submit: &'static str,
    action: String,
    url: String,
    description: String,
    calls: Vec<EventChoice>,
    keys: Vec<EventChoice>,
    url_error: Option<String>,
    description_error: Option<String>,
    events_error: Option<String>,
}

impl FormModal {
    fn new(title: &'static str, submit: &'static str, action: String, fields: &Fields) -> Self {
        let choices = |group: [EventKind; 3]| {
            group
                .into_iter()
                .map(|k| EventChoice {
                    name: k.as_str(),
                    description: k.description(),
                    checked: fields.events.iter().any(|e| e == k.as_str()),
                })
                .collect()
        };
        FormModal {
            title,
            submit,
            action,
            url: fields.url.clone(),
            description: fields.description.clone(),
            calls: choices(EventKind::CALLS),
            keys: choices(EventKind::KEYS),
            url_error: None,
            description_error: None,
            events_error: None,
        }
    }

    fn not_offered(&self) -> &'static str {
        NOT_OFFERED
    }
}

/// The modal's fields as sent: `url`, `description`, and one `events` per checked box.
#[derive(Debug, Default)]
pub struct Fields {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
}

impl Fields {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = Fields::default();
        for (name, value) in pairs {
            match name.as_str() {
                "url" => f.url = value,
                "description" => f.description = value,
                "events" => f.events.push(value),
                _ => {}
            }
        }
        f
    }

    fn of(hook: &db::models::Webhook) -> Self {
        Fields {
            url: hook.url.clone(),
            description: hook.description.clone(),
            events: EventKinds::from_stored(&hook.events)
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
        }
    }
}

/// The fields parsed, or the modal with each error next to its field.
struct Parsed {
    url: WebhookUrl,
    description: String,
    events: EventKinds,
}

fn parse(state: &AppState, f: &Fields) -> Result<Parsed, [Option<String>; 3]> {
    let url = WebhookUrl::parse(&f.url, &state.webhooks.allowed);
    let description = webhook::parse_description(&f.description);
    let events = EventKinds::parse(f.events.iter().map(String::as_str));
    match (url, description, events) {
        (Ok(url), Ok(description), Ok(events)) => Ok(Parsed {
            url,
            description,
            events,
        }),
        (u, d, e) => Err([
            u.err().map(|e| e.0),
            d.err().map(|e| e.0),
            e.err().map(|e| e.0),
        ]),
    }
}

fn with_errors(mut modal: FormModal, errors: [Option<String>; 3]) -> FormModal {
    let [u, d, e] = errors;
    modal.url_error = u;
    modal.description_error = d;
    modal.events_error = e;
    modal
}

/// GET the Add Webhook modal (an htmx fragment).
pub async fn new_modal(WebhookManager(shell): WebhookManager) -> Result<HttpResponse, WebError> {
    htmx::html(&FormModal::new(
        "Add Webhook",
        "Create",
        super::url(&shell, ""),
        &Fields::default(),
    ))
}

/// POST a new webhook: to its page (where Reveal shows its secret), or the modal again with
/// the errors.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let fields = Fields::from_pairs(form.into_inner());
    let parsed = match parse(&state, &fields) {
        Ok(p) => p,
        Err(errors) => {
            let modal = FormModal::new("Add Webhook", "Create", super::url(&shell, ""), &fields);
            // 200 so htmx swaps the modal with its messages in place.
            return htmx::html(&with_errors(modal, errors));
        }
    };
    let (pid, actor) = (shell.project_id.clone(), shell.actor.clone());
    let sealer = state.webhooks.sealer.clone();
    let (hook, _secret) = db::run(&state.pool, move |conn| {
        let new = NewWebhook {
            url: &parsed.url,
            description: &parsed.description,
            events: &parsed.events,
        };
        db::webhooks::create(conn, &pid, &new, &sealer, &actor, time::now())
    })
    .await?;
    tracing::info!(webhook_id = %hook.id, project_id = %shell.project_id, "webhook added");
    let page = super::url(&shell, &format!("/{}", hook.id));
    Ok(htmx::with_toast(
        htmx::redirect(&req, &page),
        "Webhook added. Reveal its signing secret here to verify its deliveries.",
    ))
}

/// GET the Edit modal (an htmx fragment).
pub async fn edit_modal(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let hook = super::load(&state, &shell, id).await?;
    htmx::html(&FormModal::new(
        "Edit webhook",
        "Save",
        super::url(&shell, &format!("/{}/edit", hook.id)),
        &Fields::of(&hook),
    ))
}

/// POST an edit: back to the webhook's page, or the modal again with the errors.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, WebhookId)>,
    form: web::Form<Vec<(String, String)>>,
    WebhookManager(shell): WebhookManager,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let fields = Fields::from_pairs(form.into_inner());
    let action = super::url(&shell, &format!("/{id}/edit"));
    let parsed = match parse(&state, &fields) {
        Ok(p) => p,
        Err(errors) => {
            // An id of no webhook of this project is a 404 before any message.
            super::load(&state, &shell, id).await?;
            let modal = FormModal::new("Edit webhook", "Save", action, &fields);
            return htmx::html(&with_errors(modal, errors));
        }
    };
    let (pid, actor, wid) = (shell.project_id.clone(), shell.actor.clone(), id.clone());
    let outcome = db::run(&state.pool, move |conn| {
        let new = NewWebhook {
            url: &parsed.url,
            description: &parsed.description,
            events: &parsed.events,
        };
        db::webhooks::update(conn, &pid, &wid, &new, &actor, time::now())
    })
    .await?;
    let toast = match outcome {
        WebhookChange::NotFound => return Err(WebError::NotFound),
        WebhookChange::Unchanged => "Nothing changed.",
        WebhookChange::Done(_) => "Webhook saved.",
    };
    let page = super::url(&shell, &format!("/{id}"));
    Ok(htmx::with_toast(htmx::redirect(&req, &page), toast))
}
