//! Invitations (Owners and Admins): the invite modal, the one-time link or its email, and
//! revoking a pending invitation.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::change::{changed, team_result};
use super::list::{load_panel, TeamPanel};
use crate::db;
use crate::db::invitations::{Created, InviteError};
use crate::domain::account::EmailAddress;
use crate::domain::ids::{InvitationId, ProjectId};
use crate::domain::role::Role;
use crate::domain::team::{Refusal, INVITATION_DAYS};
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{Shell, TeamManager};

#[derive(Template, Default)]
#[template(path = "pages/settings/team/_invite_modal.html")]
struct InviteModal {
    action: String,
    email: String,
    role: String,
    roles: Vec<Role>,
    email_error: Option<String>,
    role_error: Option<String>,
}

impl InviteModal {
    fn new(shell: &Shell) -> Self {
        InviteModal {
            action: shell.url("settings/team/invitations"),
            role: Role::Developer.as_str().to_owned(),
            roles: shell.role.grantable().to_vec(),
            ..Default::default()
        }
    }
}

/// What became of the invitation: with email set up it is only emailed (the link is never
/// shown, see [`crate::domain::team::link_is_shown`]); without, only its link is shown.
pub enum Delivery {
    /// No email configured: the link, to pass on to the address alone.
    Shown(String),
    Sent,
    Failed,
}

/// The invitation made: the one-time link (sent with `Cache-Control: no-store`) or what became
/// of its email, and the pending list behind it.
#[derive(Template)]
#[template(path = "pages/settings/team/_invite_link.html")]
struct InviteLink {
    email: String,
    role: Role,
    delivery: Delivery,
    days: u64,
    panel: TeamPanel,
}

/// GET the invite modal.
pub async fn invite_modal(TeamManager(shell): TeamManager) -> Result<HttpResponse, WebError> {
    htmx::html(&InviteModal::new(&shell))
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// POST an invitation: the link (and the email), or the modal again with the errors.
pub async fn invite(
    state: web::Data<AppState>,
    form: web::Form<InviteForm>,
    TeamManager(shell): TeamManager,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let email = EmailAddress::parse(&form.email);
    let role = form
        .role
        .parse::<Role>()
        .map_err(|_| "Choose a role.".to_owned())
        .and_then(|r| {
            if shell.role.grantable().contains(&r) {
                Ok(r)
            } else {
                Err(Refusal::OwnerOnly.to_string())
            }
        });
    let again = |email_error: Option<String>, role_error: Option<String>| {
        htmx::html(&InviteModal {
            email: form.email.clone(),
            role: form.role.clone(),
            email_error,
            role_error,
            ..InviteModal::new(&shell)
        })
    };
    let (email, role) = match (email, role) {
        (Ok(e), Ok(r)) => (e, r),
        (e, r) => return again(e.err().map(|e| e.0), r.err()),
    };
    // The link starts at the configured address, never at the request's Host.
    let Some(link_base) = state.link_base.clone() else {
        let why = format!(
            "No invitation link can be made: {}.",
            crate::config::NO_LINK_BASE
        );
        return again(Some(why), None);
    };
    let (pid, actor) = (shell.project_id.clone(), shell.actor.clone());
    let address = email.as_str().to_owned();
    let email_configured = state.mailer.is_some();
    let created = db::run(&state.pool, move |conn| {
        let invite = db::invitations::Invite {
            project_id: &pid,
            email: &address,
            role,
            by: &actor,
            email_configured,
        };
        Ok(db::invitations::create(conn, &invite, time::now()))
    })
    .await?;
    let Created {
        id,
        token,
        link_shown,
    } = match created {
        Ok(made) => made,
        Err(InviteError::AlreadyMember) => {
            return again(Some(InviteError::AlreadyMember.to_string()), None)
        }
        Err(InviteError::TooMany(limit)) => return again(Some(limit.to_string()), None),
        Err(InviteError::Refused(r @ Refusal::OwnerInvitation)) => {
            return again(Some(r.to_string()), None)
        }
        Err(InviteError::Refused(r)) => return again(None, Some(r.to_string())),
        Err(InviteError::Db(e)) => return Err(e.into()),
    };
    tracing::info!(invitation_id = %id, project_id = %shell.project_id, "member invited");
    let link = format!("{link_base}/invitations/{}", token.expose());
    let delivery = match &state.mailer {
        Some(mailer) if !link_shown => {
            let subject = format!("Join {} on Callem Studio", one_line(&shell.project_name));
            let body = invitation_email(&shell, role, &link);
            match mailer.send(email.as_str(), &subject, &body).await {
                Ok(()) => Delivery::Sent,
                Err(_) => Delivery::Failed,
            }
        }
        _ => Delivery::Shown(link),
    };
    let panel = load_panel(&state, &shell, true).await?;
    let page = InviteLink {
        email: email.as_str().to_owned(),
        role,
        delivery,
        days: INVITATION_DAYS,
        panel,
    };
    // The link is a credential until used: no cache keeps it.
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.render()?))
}

/// The text of the invitation email.
fn invitation_email(shell: &Shell, role: Role, link: &str) -> String {
    format!(
        "{inviter} invited you to join the project \"{project}\" on Callem Studio as {role}.\n\n\
         Open this link to accept (it works once, for {INVITATION_DAYS} days):\n\n{link}\n\n\
         If you did not expect this invitation, you can ignore this email.\n",
        inviter = shell.user_email,
        project = one_line(&shell.project_name),
        role = role.label(),
    )
}

/// A name made before names were checked, flattened so it cannot write lines of an email.
fn one_line(name: &str) -> String {
    name.replace(crate::domain::is_hidden_control, " ")
}

/// POST revoke of a pending invitation.
pub async fn revoke_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, InvitationId)>,
    TeamManager(shell): TeamManager,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let (pid, actor) = (shell.project_id.clone(), shell.actor.clone());
    let revoked = db::run(&state.pool, move |conn| {
        Ok(db::invitations::revoke(
            conn,
            &pid,
            &id,
            &actor,
            time::now(),
        ))
    })
    .await?;
    match team_result(revoked)? {
        Ok(true) => {}
        Ok(false) => return Err(WebError::NotFound),
        Err(refusal) => return Ok(refusal),
    }
    changed(
        &req,
        &state,
        &shell,
        "Invitation revoked: its link no longer works.",
    )
    .await
}
