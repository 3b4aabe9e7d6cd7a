//! Monitor → Calls: the filtered, paginated table, a call's page, and delete; one file per
//! handler group, and this folder's route table.

pub mod delete;
pub mod list;
pub mod show;

use crate::web::route_table::{routes, Access, RouteTable};

/// The section's routes, under the project's scope.
pub const TABLE: RouteTable = RouteTable {
    prefix: "/calls",
    access: Access::Project,
    routes: routes![
        GET "" => list::index,
        GET "/{call_id}" => show::show,
        GET "/{call_id}/delete" => delete::confirm_delete,
        POST "/{call_id}/delete" => delete::delete,
    ],
};
