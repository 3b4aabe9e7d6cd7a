//! Deleting a call, after a confirmation, back to the table as it was left.

use actix_web::{web, HttpRequest, HttpResponse};

use super::list::{list_view, with_view};
use crate::db;
use crate::domain::ids::{CallId, ProjectId};
use crate::domain::phone;
use crate::state::AppState;
use crate::time;
use crate::web::deletion::{self, ConfirmDelete};
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::Editor;

/// GET the delete confirmation (an htmx fragment).
pub async fn confirm_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, CallId)>,
    Editor(shell): Editor,
) -> Result<HttpResponse, WebError> {
    let (_, cid) = path.into_inner();
    let call = shell.find(&state, cid.clone(), db::calls::find).await?;
    htmx::html(&ConfirmDelete {
        title: "Delete call",
        question: format!(
            "Delete the call of {} from {}? Its transcript and analysis are deleted too, here and in the API. This cannot be undone.",
            time::datetime_label(call.created_at),
            call.caller_number
                .as_deref()
                .map_or_else(|| "an unknown number".into(), phone::display)
        ),
        action: with_view(shell.url(&format!("calls/{cid}/delete")), &list_view(&req)),
    })
}

/// POST delete: the call is gone from the dashboard and the API; back to the table as it was
/// left (its filters and page, or the last page there still is).
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, CallId)>,
    editor: Editor,
) -> Result<HttpResponse, WebError> {
    let (_, cid) = path.into_inner();
    let back = with_view(editor.0.url("calls"), &list_view(&req));
    deletion::delete_to(&req, &state, &editor, cid, &deletion::CALL, back).await
}
