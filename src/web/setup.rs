//! `/setup`: exists only while there is no user; creates the first Owner and project.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::WebError;
use super::htmx;
use crate::auth::{password, session::TypedSession};
use crate::db::{self, users::SetupError};
use crate::domain::account::{EmailAddress, Password, ProjectName};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct SetupForm {
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
    email: String,
    project_name: String,
    email_error: Option<String>,
    password_error: Option<String>,
    project_name_error: Option<String>,
}

async fn setup_needed(state: &AppState) -> Result<bool, WebError> {
    Ok(db::run(&state.pool, |conn| Ok(db::users::count(conn)?)).await? == 0)
}

pub async fn show(
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, WebError> {
    if !setup_needed(&state).await? {
        return Err(WebError::NotFound);
    }
    htmx::html(&SetupPage {
        csrf_token: session.csrf_token()?,
        ..Default::default()
    })
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, WebError> {
    if !setup_needed(&state).await? {
        return Err(WebError::NotFound);
    }
    let form = form.into_inner();
    let email = EmailAddress::parse(&form.email);
    let pw = Password::parse(&form.password);
    let project = ProjectName::parse(&form.project_name);
    let (email, pw, project) = match (email, pw, project) {
        (Ok(e), Ok(p), Ok(n)) => (e, p, n),
        (e, p, n) => {
            let page = SetupPage {
                csrf_token: session.csrf_token()?,
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
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(WebError::Internal)?;
    let now = crate::time::now();
    let created = db::run(&state.pool, move |conn| {
        Ok(db::users::create_first_owner(
            conn,
            email.as_str(),
            &hash,
            project.as_str(),
            now,
        ))
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
        Err(SetupError::Db(e)) => Err(e.into()),
    }
}
