//! Settings → API Keys: the list, the create modal and its one-time reveal, editing, rolling
//! (and a roll's overlap), revoking, and a key's own page; one file per handler group, and
//! this folder's route table.

pub mod change;
pub mod create;
pub mod edit;
pub mod form;
pub mod list;
pub mod page;
pub mod revoke;
pub mod roll;

use crate::web::route_table::{routes, Access, RouteTable};

/// The tab's routes, under the project's scope. `/new` comes before `/{key_id}`, which would
/// take it for a key's id.
pub const TABLE: RouteTable = RouteTable {
    prefix: "/settings/api-keys",
    access: Access::Project,
    routes: routes![
        GET "" => list::index,
        POST "" => create::create,
        GET "/new" => create::new_modal,
        GET "/{key_id}/revoke" => revoke::confirm_revoke,
        POST "/{key_id}/revoke" => revoke::revoke,
        GET "/{key_id}/edit" => edit::edit_modal,
        POST "/{key_id}/edit" => edit::update,
        GET "/{key_id}/roll" => roll::roll_modal,
        POST "/{key_id}/roll" => roll::roll,
        GET "/{key_id}/stop" => roll::confirm_stop,
        POST "/{key_id}/stop" => roll::stop,
        POST "/{key_id}/extend" => roll::extend,
        GET "/{key_id}" => page::show,
        GET "/{key_id}/usage" => page::usage,
    ],
};
