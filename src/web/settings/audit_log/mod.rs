//! Settings → Audit log (Owner and Admin): the project's events, newest first, filtered and
//! paged from the URL, and the filtered events downloaded as CSV or JSON Lines, streamed; one
//! file per handler group, and this folder's route table.

pub mod export;
pub mod list;

use crate::web::route_table::{routes, Access, RouteTable};

/// The tab's routes, under the project's scope.
pub const TABLE: RouteTable = RouteTable {
    prefix: "/settings/audit-log",
    access: Access::Project,
    routes: routes![
        GET "" => list::index,
        GET "/export.csv" => export::export_csv,
        GET "/export.jsonl" => export::export_jsonl,
    ],
};
