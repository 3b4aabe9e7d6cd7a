//! How a change of one key is made from the dashboard: by whom, from which address.

use crate::db;
use crate::domain::client_ip::ClientAddr;
use crate::domain::ids::{KeyId, ProjectId};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::shell::Shell;

/// Runs a change of one of the project's keys (edit, roll, an overlap's end) on the pool, made
/// by the signed-in user from this request's client address: the one place that says who
/// changed a key from the dashboard.
pub(super) async fn change_key<T, F>(
    client: ClientAddr,
    state: &AppState,
    shell: &Shell,
    kid: &KeyId,
    change: F,
) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(
            &mut db::DbConnection,
            &ProjectId,
            &KeyId,
            db::api_keys::ChangedBy<'_>,
        ) -> Result<T, db::DbError>
        + Send
        + 'static,
{
    let ip = client.to_string();
    let (pid, uid, kid) = (shell.project_id.clone(), shell.user_id.clone(), kid.clone());
    Ok(db::run(&state.pool, move |conn| {
        let by = db::api_keys::ChangedBy {
            user: Some(&uid),
            ip: Some(&ip),
        };
        change(conn, &pid, &kid, by)
    })
    .await?)
}
