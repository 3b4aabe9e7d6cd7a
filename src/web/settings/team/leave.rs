//! Leaving the project: any member but the last Owner.

use actix_web::{web, HttpRequest, HttpResponse};

use super::change::{team_result, Confirm};
use crate::db;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::Shell;

/// GET the leave confirmation.
pub async fn confirm_leave(shell: Shell) -> Result<HttpResponse, WebError> {
    htmx::html(&Confirm {
        title: "Leave project",
        question: format!(
            "Leave {}? You lose access at once; an Owner or Admin can invite you again.",
            shell.project_name
        ),
        action: shell.url("settings/team/leave"),
        button: "Leave project",
    })
}

/// POST leave: any member but the last Owner.
pub async fn leave(
    req: HttpRequest,
    state: web::Data<AppState>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let (pid, actor) = (shell.project_id.clone(), shell.actor.clone());
    let done = db::run(&state.pool, move |conn| {
        Ok(db::memberships::leave(conn, &pid, &actor, time::now()))
    })
    .await?;
    if let Err(r) = team_result(done)? {
        return Ok(r);
    }
    tracing::info!(project_id = %shell.project_id, "member left");
    Ok(htmx::with_toast(
        htmx::redirect(&req, "/"),
        &format!("You left {}.", shell.project_name),
    ))
}
