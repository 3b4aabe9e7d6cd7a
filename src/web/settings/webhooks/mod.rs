//! Settings → Webhooks: the list, the Add Webhook and Edit modals, a webhook's own page (its
//! secret's Reveal and Roll, Send test event, Enable/Disable, Delete) and its delivery log
//! (a delivery's attempts, Resend, Recover failed since …); one file per handler group, and
//! this folder's route table. Every member reads; Owners and Admins act
//! ([`crate::web::shell::WebhookManager`]).

pub mod actions;
pub mod deliveries;
pub mod form;
pub mod list;
pub mod page;
pub mod secret;

use crate::web::route_table::{routes, Access, RouteTable};

/// The tab's routes, under the project's scope. `/new` comes before `/{webhook_id}`, which
/// would take it for a webhook's id.
pub const TABLE: RouteTable = RouteTable {
    prefix: "/settings/webhooks",
    access: Access::Project,
    routes: routes![
        GET "" => list::index,
        POST "" => form::create,
        GET "/new" => form::new_modal,
        GET "/{webhook_id}" => page::show,
        GET "/{webhook_id}/edit" => form::edit_modal,
        POST "/{webhook_id}/edit" => form::update,
        GET "/{webhook_id}/delete" => actions::confirm_delete,
        POST "/{webhook_id}/delete" => actions::delete,
        POST "/{webhook_id}/enable" => actions::enable,
        POST "/{webhook_id}/disable" => actions::disable,
        POST "/{webhook_id}/test" => actions::send_test,
        POST "/{webhook_id}/reveal" => secret::reveal,
        GET "/{webhook_id}/roll" => secret::roll_modal,
        POST "/{webhook_id}/roll" => secret::roll,
        POST "/{webhook_id}/recover" => deliveries::recover,
        GET "/{webhook_id}/deliveries/{delivery_id}" => deliveries::show,
        POST "/{webhook_id}/deliveries/{delivery_id}/resend" => deliveries::resend,
    ],
};

use crate::db::models::Webhook;
use crate::domain::webhook::{self, DisabledReason};
use crate::web::shell::Shell;

/// A webhook's status as the tab and its page show it, and its badge's tone.
pub fn status(hook: &Webhook) -> (String, &'static str) {
    let label = webhook::webhook_status(
        hook.enabled,
        hook.disabled_reason.as_deref(),
        hook.disabled_by.as_deref(),
    );
    let tone = match hook
        .disabled_reason
        .as_deref()
        .and_then(DisabledReason::parse)
    {
        _ if hook.enabled => "success",
        Some(DisabledReason::Gone | DisabledReason::Failing) => "danger",
        _ => "muted",
    };
    (label, tone)
}

/// `…/settings/webhooks` or, with a path, below it.
pub fn url(shell: &Shell, rest: &str) -> String {
    shell.url(&format!("settings/webhooks{rest}"))
}

/// The project's webhook in the path, or a 404 (another project's id included).
async fn load(
    state: &crate::state::AppState,
    shell: &Shell,
    id: crate::domain::ids::WebhookId,
) -> Result<Webhook, crate::web::error::WebError> {
    shell.find(state, id, crate::db::webhooks::find).await
}
