//! `/setup`: exists only while there is no user; creates the first Owner and project. It
//! needs the one-time token of the link `callem serve` prints, so a web page that reaches a
//! fresh install through the visitor's browser (DNS rebinding) cannot claim it.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::WebError;
use super::htmx;
use crate::auth::{password, session::TypedSession};
use crate::db::{self, users::SetupError};
use crate::domain::account::{EmailAddress, Password, ProjectName};
use crate::request::ClientIp;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct SetupQuery {
    #[serde(default)]
    token: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    setup_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    project_name: String,
}

#[derive(Template, Default)]
#[template(path = "pages/setup.html")]
struct SetupPage {
    csrf_token: String,
    setup_token: String,
    email: String,
    project_name: String,
    email_error: Option<String>,
    password_error: Option<String>,
    project_name_error: Option<String>,
}

/// Shown for a missing or stale token: where to find the real link.
#[derive(Template)]
#[template(path = "pages/setup_link_needed.html")]
struct LinkNeededPage;

enum Setup {
    Done,
    WrongToken,
    Open,
}

async fn setup_state(state: &AppState, token: &str) -> Result<Setup, WebError> {
    let token = token.to_owned();
    db::run(&state.pool, move |conn| {
        Ok(if db::users::count(conn)? > 0 {
            Setup::Done
        } else if db::users::setup_token_is_current(conn, &token)? {
            Setup::Open
        } else {
            Setup::WrongToken
        })
    })
    .await
    .map_err(WebError::from)
}

fn link_needed() -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::Forbidden()
        .content_type("text/html; charset=utf-8")
        .body(LinkNeededPage.render()?))
}

pub async fn show(
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<SetupQuery>,
) -> Result<HttpResponse, WebError> {
    match setup_state(&state, &query.token).await? {
        Setup::Done => Err(WebError::NotFound),
        Setup::WrongToken => link_needed(),
        Setup::Open => htmx::html(&SetupPage {
            csrf_token: session.csrf_token()?,
            setup_token: query.into_inner().token,
            ..Default::default()
        }),
    }
}

pub async fn submit(
    req: HttpRequest,
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    match setup_state(&state, &form.setup_token).await? {
        Setup::Done => return Err(WebError::NotFound),
        Setup::WrongToken => return link_needed(),
        Setup::Open => {}
    }
    let email = EmailAddress::parse(&form.email);
    let pw = Password::parse(&form.password);
    let project = ProjectName::parse(&form.project_name);
    let (email, pw, project) = match (email, pw, project) {
        (Ok(e), Ok(p), Ok(n)) => (e, p, n),
        (e, p, n) => {
            let page = SetupPage {
                csrf_token: session.csrf_token()?,
                setup_token: form.setup_token.clone(),
                email: form.email.clone(),
                project_name: form.project_name.clone(),
                email_error: e.err().map(|e| e.0),
                password_error: p.err().map(|e| e.0),
                project_name_error: n.err().map(|e| e.0),
            };
            return Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/html; charset=utf-8")
                .body(page.render()?));
        }
    };
    let hash = state
        .password_slots
        .run(move || password::hash(&pw))
        .await?
        .map_err(WebError::Internal)?;
    let now = crate::time::now();
    let token = form.setup_token;
    let created = db::run(&state.pool, move |conn| {
        let created = db::users::create_first_owner(
            conn,
            &token,
            email.as_str(),
            &hash,
            project.as_str(),
            client,
            now,
        );
        // Setup signs the Owner in: Team's "last sign-in" starts here, not at the next one.
        if let Ok(done) = &created {
            db::users::record_sign_in(conn, &done.user_id, now)?;
        }
        Ok(created)
    })
    .await?;
    match created {
        Ok(done) => {
            tracing::info!(user_id = %done.user_id, project_id = %done.project_id, "setup completed");
            session.sign_in(&done.user_id, 0)?;
            Ok(htmx::redirect(
                &req,
                &format!("/projects/{}", done.project_id),
            ))
        }
        Err(SetupError::AlreadyDone) => Err(WebError::NotFound),
        Err(SetupError::BadToken) => link_needed(),
        Err(SetupError::Db(e)) => Err(e.into()),
    }
}
