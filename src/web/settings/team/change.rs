//! What the team's changes share: the confirmation before one, and the answer after it (the
//! panel swapped in with a toast, or the refusal in words).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::list::{load_panel, TeamPanel};
use crate::db::memberships::TeamError;
use crate::domain::team::Refusal;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::Shell;

/// The confirmation before a removal or leaving.
#[derive(Template)]
#[template(path = "pages/settings/team/_confirm.html")]
pub(super) struct Confirm {
    pub title: &'static str,
    pub question: String,
    pub action: String,
    pub button: &'static str,
}

/// After a change: the modal closes, the panel is swapped in, a toast says what happened.
#[derive(Template)]
#[template(path = "pages/settings/team/_changed.html")]
struct Changed {
    status: String,
    panel: TeamPanel,
}

pub(super) async fn changed(
    req: &HttpRequest,
    state: &AppState,
    shell: &Shell,
    toast: &str,
) -> Result<HttpResponse, WebError> {
    if !htmx::is_htmx(req) {
        return Ok(htmx::with_toast(
            htmx::redirect(req, &shell.url("settings/team")),
            toast,
        ));
    }
    let panel = load_panel(state, shell, true).await?;
    Ok(htmx::with_toast(
        htmx::html(&Changed {
            status: toast.to_owned(),
            panel,
        })?,
        toast,
    ))
}

/// A refused team change: its sentence as plain text (an htmx request shows it as a toast).
pub(super) fn refused(refusal: Refusal) -> HttpResponse {
    let status = match refusal {
        Refusal::LastOwner => StatusCode::CONFLICT,
        Refusal::NotAllowed | Refusal::OwnerOnly | Refusal::OwnerInvitation => {
            StatusCode::FORBIDDEN
        }
    };
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(refusal.to_string())
}

pub(super) fn team_result<T>(r: Result<T, TeamError>) -> Result<Result<T, HttpResponse>, WebError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(TeamError::NotFound) => Err(WebError::NotFound),
        Err(TeamError::Refused(r)) => Ok(Err(refused(r))),
        Err(TeamError::Db(e)) => Err(e.into()),
    }
}
