//! The tab itself: the members and the pending invitations, as every member sees them, and
//! the panel a change swaps in.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::db;
use crate::domain::role::Role;
use crate::domain::team;
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{Section, Shell};

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

pub(super) async fn load_panel(
    state: &AppState,
    shell: &Shell,
    oob: bool,
) -> Result<TeamPanel, WebError> {
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
