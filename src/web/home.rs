//! `/` and the project landing routes, plus the sections that are not built yet.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::error::WebError;
use super::htmx;
use super::shell::Shell;
use crate::auth::session::TypedSession;
use crate::db;
use crate::state::AppState;

/// A fresh install goes to `/setup`, a signed-out user to `/login`, a signed-in one to their
/// first project.
pub async fn root(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, WebError> {
    let signed_in = session.signed_in();
    let ended = session.ended();
    let target = db::run(&state.pool, move |conn| {
        if db::users::count(conn)? == 0 {
            return Ok("/setup".to_owned());
        }
        let Some((uid, epoch)) = signed_in else {
            return Ok("/login".to_owned());
        };
        if db::users::find_signed_in(conn, &uid, epoch)?.is_none() {
            return Ok("/login".to_owned());
        }
        Ok(match db::projects::for_user(conn, &uid)?.first() {
            Some((p, _)) => format!("/projects/{}", p.id),
            None => "/no-project".to_owned(),
        })
    })
    .await?;
    if target == "/login" {
        session.sign_out();
        if let Some(why) = ended {
            return Ok(htmx::redirect(
                &req,
                &format!("/login?ended={}", why.as_str()),
            ));
        }
    }
    Ok(htmx::redirect(&req, &target))
}

#[derive(Template)]
#[template(path = "pages/no_project.html")]
struct NoProjectPage {
    csrf_token: String,
}

/// A signed-in user who belongs to no project (removed from all of them).
pub async fn no_project(session: TypedSession) -> Result<HttpResponse, WebError> {
    htmx::html(&NoProjectPage {
        csrf_token: session.csrf_token()?,
    })
}

/// `/projects/{id}` opens the project's calls.
pub async fn project(req: HttpRequest, shell: Shell) -> Result<HttpResponse, WebError> {
    Ok(htmx::redirect(&req, &shell.url("calls")))
}

/// `/projects/{id}/settings` opens its first tab.
pub async fn settings(req: HttpRequest, shell: Shell) -> Result<HttpResponse, WebError> {
    Ok(htmx::redirect(&req, &shell.url("settings/api-keys")))
}
