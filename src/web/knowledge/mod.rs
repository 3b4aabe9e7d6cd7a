//! Build → Knowledge Base: list, add, view (Markdown, made safe), edit, delete; one file per
//! handler group, and this folder's route table.

pub mod create;
pub mod delete;
pub mod edit;
pub mod form;
pub mod list;
pub mod show;

use crate::web::route_table::{routes, Access, RouteTable};

/// The section's routes, under the project's scope. `/new` comes before `/{item_id}`, which
/// would take it for an item's id.
pub const TABLE: RouteTable = RouteTable {
    prefix: "/knowledge",
    access: Access::Project,
    routes: routes![
        GET "" => list::index,
        POST "" => create::create,
        GET "/new" => create::new_modal,
        POST "/preview" => edit::preview,
        GET "/{item_id}" => show::show,
        GET "/{item_id}/edit" => edit::edit_page,
        POST "/{item_id}/edit" => edit::update,
        GET "/{item_id}/delete" => delete::confirm_delete,
        POST "/{item_id}/delete" => delete::delete,
    ],
};
