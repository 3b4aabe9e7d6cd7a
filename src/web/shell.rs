//! The frame around every project page: sidebar, project selector, signed-in user, CSRF token.
//! It is also the project context extractor: a handler that takes a [`Shell`] has a signed-in
//! member of the project in its path (anyone else got a 404 before it ran), and one that takes
//! a [`KeyManager`], a [`WebhookManager`], a [`TeamManager`], an [`AuditReader`] or an [`Editor`] has one with that
//! role (403 otherwise).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use crate::auth::session::TypedSession;
use crate::db;
use crate::domain::actor::Actor;
use crate::domain::client_ip::ClientAddr;
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::role::Role;
use crate::state::AppState;

use super::error::WebError;
use super::guard::CurrentUser;

/// Which sidebar entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Knowledge,
    Calls,
    Settings,
}

#[derive(Debug, Clone)]
pub struct ProjectLink {
    pub id: ProjectId,
    pub name: String,
}

/// What the layout needs, loaded once per page.
#[derive(Debug, Clone)]
pub struct Shell {
    pub user_id: UserId,
    pub user_email: String,
    pub projects: Vec<ProjectLink>,
    pub project_id: ProjectId,
    pub project_name: String,
    pub role: Role,
    pub csrf_token: String,
    pub section: Section,
    /// A message left for this page by the previous request (see [`TypedSession::flash`]).
    pub flash: Option<String>,
    /// The signed-in user, from the request's address: who a change made here is recorded as.
    pub actor: Actor,
}

impl Shell {
    /// Loads the user's projects; a project they do not belong to is a 404.
    pub async fn load(
        state: &AppState,
        user: &CurrentUser,
        session: &TypedSession,
        project_id: &ProjectId,
        section: Section,
        from: ClientAddr,
    ) -> Result<Shell, WebError> {
        let user_id = user.id.clone();
        let memberships = db::run(&state.pool, move |conn| {
            Ok(db::projects::for_user(conn, &user_id)?)
        })
        .await?;
        let (current, role) = memberships
            .iter()
            .find(|(p, _)| p.id == *project_id)
            .ok_or(WebError::NotFound)?;
        Ok(Shell {
            user_id: user.id.clone(),
            user_email: user.email.clone(),
            project_id: current.id.clone(),
            project_name: current.name.clone(),
            projects: memberships
                .iter()
                .map(|(p, _)| ProjectLink {
                    id: p.id.clone(),
                    name: p.name.clone(),
                })
                .collect(),
            role: *role,
            csrf_token: session.csrf_token()?,
            section,
            flash: None,
            actor: Actor::user(user.id.clone(), from),
        })
    }

    /// The section a project URL belongs to: `…/knowledge…`, `…/settings…`, else Calls.
    fn section_of(path: &str) -> Section {
        let rest = path.splitn(4, '/').nth(3).unwrap_or_default();
        if rest.starts_with("knowledge") {
            Section::Knowledge
        } else if rest.starts_with("settings") {
            Section::Settings
        } else {
            Section::Calls
        }
    }

    pub fn is(&self, section: Section) -> bool {
        self.section == section
    }

    /// One row of this project (a call, a knowledge item), or a 404.
    pub async fn find<Id: Send + 'static, T: Send + 'static>(
        &self,
        state: &AppState,
        id: Id,
        find: fn(&mut db::DbConnection, &ProjectId, &Id) -> diesel::QueryResult<Option<T>>,
    ) -> Result<T, WebError> {
        let pid = self.project_id.clone();
        db::run(&state.pool, move |conn| Ok(find(conn, &pid, &id)?))
            .await?
            .ok_or(WebError::NotFound)
    }

    /// URL of this project's page at `path` (e.g. `settings/api-keys`).
    pub fn url(&self, path: &str) -> String {
        format!("/projects/{}/{}", self.project_id, path)
    }
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, WebError>>>>;

/// The project in the path (`{project_id}`), for the user the sign-in guard found: loaded once,
/// membership and role included; a project the user is not a member of is a 404.
impl FromRequest for Shell {
    type Error = WebError;
    type Future = Extracted<Shell>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| WebError::Internal("no application state".into()))?;
            // The guard on the project scope put it there; without it, nothing is shown.
            let user = req
                .extensions()
                .get::<CurrentUser>()
                .cloned()
                .ok_or(WebError::NotFound)?;
            // A project id no row can have is a 404 without a query.
            let project_id = req
                .match_info()
                .get("project_id")
                .and_then(|id| ProjectId::parse(id).ok())
                .ok_or(WebError::NotFound)?;
            let session = TypedSession::of(&req);
            let section = Shell::section_of(req.path());
            let from = crate::request::client_ip(&req);
            let mut shell =
                Shell::load(&state, &user, &session, &project_id, section, from).await?;
            // Only a full page shows it: a fragment would swallow it unseen.
            if !super::htmx::is_htmx(&req) {
                shell.flash = session.take_flash();
            }
            Ok(shell)
        })
    }
}

/// Declares a project context extractor that also requires a role: a [`Shell`] whose role
/// passes `allowed`, else 403.
macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $allowed:ident) => {
        $(#[$doc])*
        pub struct $name(pub Shell);

        impl FromRequest for $name {
            type Error = WebError;
            type Future = Extracted<$name>;

            fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
                let shell = Shell::from_request(req, payload);
                Box::pin(async move {
                    let shell = shell.await?;
                    if !shell.role.$allowed() {
                        return Err(WebError::Forbidden);
                    }
                    Ok($name(shell))
                })
            }
        }
    };
}

role_extractor!(
    /// A project page for Owners and Admins (API keys): 403 for the other roles.
    KeyManager,
    can_manage_keys
);
role_extractor!(
    /// A webhook change for Owners and Admins (Settings → Webhooks): 403 for the other roles.
    WebhookManager,
    can_manage_webhooks
);
role_extractor!(
    /// A team change for Owners and Admins (inviting, changing roles, removing): 403 for the
    /// other roles.
    TeamManager,
    can_manage_team
);
role_extractor!(
    /// Settings → Audit log, for Owners and Admins: 403 for the other roles.
    AuditReader,
    can_read_audit_log
);
role_extractor!(
    /// A project page for everyone but Members (deleting calls, adding and deleting
    /// knowledge): 403 for Members.
    Editor,
    can_edit_data
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_comes_from_the_project_url() {
        assert_eq!(Shell::section_of("/projects/abc"), Section::Calls);
        assert_eq!(Shell::section_of("/projects/abc/calls/x"), Section::Calls);
        assert_eq!(
            Shell::section_of("/projects/abc/knowledge/new"),
            Section::Knowledge
        );
        assert_eq!(
            Shell::section_of("/projects/abc/settings/api-keys"),
            Section::Settings
        );
    }
}
