//! Settings → Team: the members and the pending invitations (every member sees them), and for
//! Owners and Admins the invite modal (with the one-time link, emailed when email is set up),
//! role changes, removal and revoking invitations; any member can leave.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::super::error::WebError;
use super::super::htmx;
use super::super::shell::{Section, Shell, TeamManager};
use crate::db::invitations::{Created, InviteError};
use crate::db::{self, memberships::ByMember, memberships::TeamError};
use crate::domain::account::EmailAddress;
use crate::domain::ids::{InvitationId, ProjectId, UserId};
use crate::domain::role::Role;
use crate::domain::team::{self, Refusal, INVITATION_DAYS};
use crate::request::ClientIp;
use crate::state::AppState;
use crate::time;

/// One member, formatted for people.
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub joined: String,
    pub last_sign_in: Option<(String, String)>,
    pub is_self: bool,
    /// The viewer may change this member's role / remove them.
    pub can_change: bool,
    pub can_remove: bool,
}

impl MemberView {
    /// How the member is named in confirmations: display name and email, or the email.
    pub fn label(&self) -> String {
        match &self.display_name {
            Some(n) => format!("{n} ({})", self.email),
            None => self.email.clone(),
        }
    }
}

/// One pending invitation, formatted.
pub struct PendingView {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub expires: String,
    pub expires_full: String,
    /// The viewer may revoke it (an invitation to Owner: only an Owner).
    pub can_revoke: bool,
}

/// The tab's two tables (swapped in after a change).
#[derive(Template)]
#[template(path = "pages/settings/team/_panel.html")]
pub struct TeamPanel {
    pub team_url: String,
    pub members: Vec<MemberView>,
    pub pending: Vec<PendingView>,
    pub can_manage: bool,
    pub oob: bool,
}

#[derive(Template)]
#[template(path = "pages/settings/team/index.html")]
struct TeamPage {
    shell: Shell,
    panel: TeamPanel,
}

async fn load_panel(state: &AppState, shell: &Shell, oob: bool) -> Result<TeamPanel, WebError> {
    let pid = shell.project_id.clone();
    let now = time::now();
    let (members, pending) = db::run(&state.pool, move |conn| {
        Ok((
            db::memberships::members(conn, &pid)?,
            db::invitations::pending(conn, &pid, now)?,
        ))
    })
    .await?;
    let viewer = shell.role;
    let manages = viewer.can_manage_team();
    let members = members
        .into_iter()
        .map(|m| {
            let is_self = m.user_id == shell.user_id;
            let touches_owner = m.role == Role::Owner && viewer != Role::Owner;
            MemberView {
                user_id: m.user_id.into_string(),
                email: m.email,
                display_name: m.display_name,
                role: m.role,
                joined: time::date_label(m.joined_at),
                last_sign_in: match m.last_sign_in_at {
                    Some(t) => Some((time::relative(t, now), time::full_label(t))),
                    // The viewer is signed in, whatever was recorded: an account made before
                    // setup recorded its sign-in has none until the next one.
                    None if is_self => Some(("Now".to_owned(), "Signed in now".to_owned())),
                    None => None,
                },
                is_self,
                can_change: manages && !touches_owner,
                can_remove: manages && !touches_owner && !is_self,
            }
        })
        .collect();
    let pending = pending
        .into_iter()
        .map(|p| PendingView {
            id: p.id.into_string(),
            email: p.email,
            role: p.role,
            invited_by: p
                .invited_by_name
                .or(p.invited_by_email)
                .unwrap_or_else(|| "—".to_owned()),
            expires: time::date_label(p.expires_at),
            expires_full: time::full_label(p.expires_at),
            can_revoke: team::may_revoke_invitation(viewer, p.role).is_ok(),
        })
        .collect();
    Ok(TeamPanel {
        team_url: shell.url("settings/team"),
        members,
        pending,
        can_manage: manages,
        oob,
    })
}

/// GET the tab.
pub async fn index(state: web::Data<AppState>, shell: Shell) -> Result<HttpResponse, WebError> {
    let panel = load_panel(&state, &shell, false).await?;
    htmx::html(&TeamPage { shell, panel })
}

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
/// shown, see [`team::link_is_shown`]); without, only its link is shown.
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
    ClientIp(client): ClientIp,
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
    let ip = client.to_string();
    let (pid, uid) = (shell.project_id.clone(), shell.user_id.clone());
    let address = email.as_str().to_owned();
    let email_configured = state.mailer.is_some();
    let created = db::run(&state.pool, move |conn| {
        let invite = db::invitations::Invite {
            project_id: &pid,
            email: &address,
            role,
            by: &uid,
            email_configured,
            ip: Some(&ip),
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

/// After a change: the modal closes, the panel is swapped in, a toast says what happened.
#[derive(Template)]
#[template(path = "pages/settings/team/_changed.html")]
struct Changed {
    status: String,
    panel: TeamPanel,
}

async fn changed(
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
fn refused(refusal: Refusal) -> HttpResponse {
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

fn team_result<T>(r: Result<T, TeamError>) -> Result<Result<T, HttpResponse>, WebError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(TeamError::NotFound) => Err(WebError::NotFound),
        Err(TeamError::Refused(r)) => Ok(Err(refused(r))),
        Err(TeamError::Db(e)) => Err(e.into()),
    }
}

/// POST revoke of a pending invitation.
pub async fn revoke_invitation(
    req: HttpRequest,
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, InvitationId)>,
    TeamManager(shell): TeamManager,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let ip = client.to_string();
    let (pid, uid) = (shell.project_id.clone(), shell.user_id.clone());
    let revoked = db::run(&state.pool, move |conn| {
        Ok(db::invitations::revoke(
            conn,
            &pid,
            &id,
            &uid,
            Some(&ip),
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
    ClientIp(client): ClientIp,
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
    let ip = client.to_string();
    let (pid, uid) = (shell.project_id.clone(), shell.user_id.clone());
    let done = db::run(&state.pool, move |conn| {
        let by = ByMember {
            project_id: &pid,
            user_id: &uid,
            ip: Some(&ip),
        };
        Ok(db::memberships::change_role(
            conn,
            by,
            &target,
            to,
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

#[derive(Template)]
#[template(path = "pages/settings/team/_confirm.html")]
struct Confirm {
    title: &'static str,
    question: String,
    action: String,
    button: &'static str,
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
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, UserId)>,
    TeamManager(shell): TeamManager,
) -> Result<HttpResponse, WebError> {
    let (_, target) = path.into_inner();
    let ip = client.to_string();
    let (pid, uid) = (shell.project_id.clone(), shell.user_id.clone());
    let removed = target.clone();
    let done = db::run(&state.pool, move |conn| {
        let by = ByMember {
            project_id: &pid,
            user_id: &uid,
            ip: Some(&ip),
        };
        Ok(db::memberships::remove(conn, by, &target, time::now()))
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
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let ip = client.to_string();
    let (pid, uid) = (shell.project_id.clone(), shell.user_id.clone());
    let done = db::run(&state.pool, move |conn| {
        let by = ByMember {
            project_id: &pid,
            user_id: &uid,
            ip: Some(&ip),
        };
        Ok(db::memberships::leave(conn, by, time::now()))
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
