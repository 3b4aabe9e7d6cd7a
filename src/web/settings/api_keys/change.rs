//! How a change of one key is made from the dashboard: by the shell's actor.

use crate::db;
use crate::domain::actor::Actor;
use crate::domain::ids::{KeyId, ProjectId};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::shell::Shell;

/// Runs a change of one of the project's keys (edit, roll, an overlap's end) on the pool, made
/// by the shell's actor (the signed-in user, from this request's address).
pub(super) async fn change_key<T, F>(
    state: &AppState,
    shell: &Shell,
    kid: &KeyId,
    change: F,
) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(&mut db::DbConnection, &ProjectId, &KeyId, &Actor) -> Result<T, db::DbError>
        + Send
        + 'static,
{
    let (pid, actor, kid) = (shell.project_id.clone(), shell.actor.clone(), kid.clone());
    Ok(db::run(&state.pool, move |conn| change(conn, &pid, &kid, &actor)).await?)
}
