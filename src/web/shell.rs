//! The frame around every project page: sidebar, project selector, signed-in user, CSRF token.

use crate::auth::session::TypedSession;
use crate::db;
use crate::domain::ids::Id;
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
    pub id: String,
    pub name: String,
}

/// What the layout needs, loaded once per page.
#[derive(Debug, Clone)]
pub struct Shell {
    pub user_id: String,
    pub user_email: String,
    pub projects: Vec<ProjectLink>,
    pub project_id: String,
    pub project_name: String,
    pub role: Role,
    pub csrf_token: String,
    pub section: Section,
}

impl Shell {
    /// Loads the user's projects; a project they do not belong to is a 404.
    pub async fn load(
        state: &AppState,
        user: &CurrentUser,
        session: &TypedSession,
        project_id: &str,
        section: Section,
    ) -> Result<Shell, WebError> {
        let user_id = user.id.clone();
        let memberships = db::run(&state.pool, move |conn| {
            Ok(db::projects::for_user(conn, &user_id)?)
        })
        .await?;
        let (current, role) = memberships
            .iter()
            .find(|(p, _)| p.id == project_id)
            .ok_or(WebError::NotFound)?;
        let role: Role = role
            .parse()
            .map_err(|_| WebError::Internal(format!("bad role stored: {role}")))?;
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
            role,
            csrf_token: session.csrf_token()?,
            section,
        })
    }

    pub fn is(&self, section: Section) -> bool {
        self.section == section
    }

    /// Owner and Admin only (API keys).
    pub fn require_key_manager(&self) -> Result<(), WebError> {
        if self.role.can_manage_keys() {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// Everyone but Member (deleting calls, adding and deleting knowledge).
    pub fn require_editor(&self) -> Result<(), WebError> {
        if self.role.can_edit_data() {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// One row of this project (a call, a knowledge item), or a 404; an id no row can have
    /// is a 404 without a query.
    pub async fn find<T: Send + 'static>(
        &self,
        state: &AppState,
        id: String,
        find: fn(&mut crate::db::DbConnection, &str, &str) -> diesel::QueryResult<Option<T>>,
    ) -> Result<T, WebError> {
        let id = Id::parse(&id).map_err(|_| WebError::NotFound)?;
        let pid = self.project_id.clone();
        db::run(&state.pool, move |conn| Ok(find(conn, &pid, id.as_str())?))
            .await?
            .ok_or(WebError::NotFound)
    }

    /// URL of this project's page at `path` (e.g. `settings/api-keys`).
    pub fn url(&self, path: &str) -> String {
        format!("/projects/{}/{}", self.project_id, path)
    }
}
