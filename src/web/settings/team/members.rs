//! A member's role and removal (Owners and Admins).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::change::{changed, refused, team_result, Confirm};
use super::list::{load_panel, MemberView};
use crate::db;
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::role::Role;
use crate::domain::team::Refusal;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{Shell, TeamManager};

/// A member of this project, or a 404.
async fn member(state: &AppState, shell: &Shell, user_id: UserId) -> Result<MemberView, WebError> {
    load_panel(state, shell, false)
        .await?
        .members
        .into_iter()
        .find(|m| m.user_id == user_id.as_str())
        .ok_or(WebError::NotFound)
}

#[derive(Template)]
#[template(path = "pages/settings/team/_role_modal.html")]
struct RoleModal {
    action: String,
    member: MemberView,
    roles: Vec<Role>,
}

/// GET the change-role modal.
pub async fn role_modal(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, UserId)>,
    TeamManager(shell): TeamManager,
) -> Result<HttpResponse, WebError> {
    let (_, uid) = path.into_inner();
    let member = member(&state, &shell, uid).await?;
    if !member.can_change {
        return Ok(refused(Refusal::OwnerOnly));
    }
    htmx::html(&RoleModal {
        action: shell.url(&format!("settings/team/members/{}/role", member.user_id)),
        roles: shell.role.grantable().to_vec(),
        member,
    })
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

/// POST a role change.
pub async fn change_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, UserId)>,
    form: web::Form<RoleForm>,
    TeamManager(shell): TeamManager,
) -> Result<HttpResponse, WebError> {
    let (_, target) = path.into_inner();
    let own = target == shell.user_id;
    let Ok(to) = form.role.parse::<Role>() else {
        return Ok(HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body("Choose a role: owner, admin, developer or member."));
    };
    let (pid, actor) = (shell.project_id.clone(), shell.actor.clone());
    let done = db::run(&state.pool, move |conn| {
        Ok(db::memberships::change_role(
            conn,
            &pid,
            &target,
            to,
            &actor,
            time::now(),
        ))
    })
    .await?;
    if let Err(r) = team_result(done)? {
        return Ok(r);
    }
    // A change of one's own role changes what the panel offers.
    let shell = Shell {
        role: if own { to } else { shell.role },
        ..shell
    };
    changed(
        &req,
        &state,
        &shell,
        &format!("Role changed to {}.", to.label()),
    )
    .await
}

/// GET the removal confirmation, naming the member.
pub async fn confirm_remove(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, UserId)>,
    TeamManager(shell): TeamManager,
) -> Result<HttpResponse, WebError> {
    let (_, uid) = path.into_inner();
    let member = member(&state, &shell, uid).await?;
    htmx::html(&Confirm {
        title: "Remove member",
        question: format!(
            "Remove {} from {}? They lose access at once. API keys they created keep working.",
            member.label(),
            shell.project_name
        ),
        action: shell.url(&format!("settings/team/members/{}/remove", member.user_id)),
        button: "Remove",
    })
}

/// POST a removal.
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, UserId)>,
    TeamManager(shell): TeamManager,
) -> Result<HttpResponse, WebError> {
    let (_, target) = path.into_inner();
    let (pid, actor) = (shell.project_id.clone(), shell.actor.clone());
    let removed = target.clone();
    let done = db::run(&state.pool, move |conn| {
        Ok(db::memberships::remove(
            conn,
            &pid,
            &target,
            &actor,
            time::now(),
        ))
    })
    .await?;
    if let Err(r) = team_result(done)? {
        return Ok(r);
    }
    tracing::info!(user_id = %removed, project_id = %shell.project_id, "member removed");
    if removed == shell.user_id {
        return Ok(htmx::redirect(&req, "/"));
    }
    changed(&req, &state, &shell, "Member removed.").await
}
