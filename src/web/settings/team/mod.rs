//! Settings → Team: the members and the pending invitations (every member sees them), and for
//! Owners and Admins the invite modal (with the one-time link, emailed when email is set up),
//! role changes, removal and revoking invitations; any member can leave. One file per handler
//! group, and this folder's route table.

pub mod change;
pub mod invitations;
pub mod leave;
pub mod list;
pub mod members;

use crate::web::route_table::{routes, Access, RouteTable};

/// The tab's routes, under the project's scope.
pub const TABLE: RouteTable = RouteTable {
    prefix: "/settings/team",
    access: Access::Project,
    routes: routes![
        GET "" => list::index,
        GET "/invite" => invitations::invite_modal,
        POST "/invitations" => invitations::invite,
        POST "/invitations/{invitation_id}/revoke" => invitations::revoke_invitation,
        GET "/members/{user_id}/role" => members::role_modal,
        POST "/members/{user_id}/role" => members::change_role,
        GET "/members/{user_id}/remove" => members::confirm_remove,
        POST "/members/{user_id}/remove" => members::remove,
        GET "/leave" => leave::confirm_leave,
        POST "/leave" => leave::leave,
    ],
};
