//! The dashboard: HTML pages and htmx fragments under session sign-in.

pub mod account;
pub mod api_docs;
pub mod calls;
pub mod deletion;
pub mod error;
pub mod guard;
pub mod health;
pub mod home;
pub mod htmx;
pub mod invitations;
pub mod knowledge;
pub mod login;
pub mod password_reset;
pub mod settings;
pub mod setup;
pub mod shell;
pub mod static_files;

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::web;

use error::WebError;

/// One dashboard route: its method, its path under its table's prefix, and its handler.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    handler: fn() -> actix_web::Route,
}

/// Who may reach a table's routes; each is one way of mounting them (see [`config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No sign-in (sign-in, setup, invitations, the API reference).
    Public,
    /// A signed-in user, under the table's prefix.
    SignedIn,
    /// A signed-in user, in one project: the prefix is under [`PROJECT_SCOPE`], which all
    /// such tables share (one scope, or the first would take every project URL).
    Project,
}

/// The scope of a project's pages.
pub const PROJECT_SCOPE: &str = "/projects/{project_id}";

/// Routes mounted together under one prefix with one [`Access`]. A feature's module may
/// contribute its own tables to [`TABLES`]; that one list both registers the routes and lets
/// a test (the browser sweep) list every page, so no second list is kept by hand.
pub struct RouteTable {
    pub prefix: &'static str,
    pub access: Access,
    pub routes: &'static [Route],
}

impl RouteTable {
    /// Each route's method and full pattern (`/projects/{project_id}/calls`).
    pub fn patterns(&self) -> impl Iterator<Item = (&Method, String)> {
        let scope = if self.access == Access::Project {
            PROJECT_SCOPE
        } else {
            ""
        };
        self.routes
            .iter()
            .map(move |r| (&r.method, format!("{scope}{}{}", self.prefix, r.path)))
    }
}

/// `routes![GET "/path" => handler, …]`: a table's routes, each written once.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        &[$(Route {
            method: Method::$method,
            path: $path,
            handler: || web::method(Method::$method).to($handler),
        }),*]
    };
}

use settings::{api_keys, audit_log, key_edit, key_page, key_roll, team};

const PUBLIC: RouteTable = RouteTable {
    prefix: "",
    access: Access::Public,
    routes: routes![
        GET "/" => home::root,
        GET "/setup" => setup::show,
        POST "/setup" => setup::submit,
        GET "/login" => login::show,
        POST "/login" => login::submit,
        POST "/logout" => login::logout,
        GET "/no-project" => home::no_project,
        GET "/docs/api" => api_docs::page,
        GET "/invitations/{token}" => invitations::show,
        POST "/invitations/{token}" => invitations::accept,
        GET "/reset-password/{token}" => password_reset::show,
        GET "/forgot-password" => password_reset::forgot_form,
        POST "/forgot-password" => password_reset::forgot_submit,
        POST "/reset-password/{token}" => password_reset::submit,
    ],
};

const ACCOUNT: RouteTable = RouteTable {
    prefix: "/account",
    access: Access::SignedIn,
    routes: routes![
        GET "" => account::show,
        POST "/profile" => account::update_profile,
        POST "/password" => account::change_password,
    ],
};

// Before the project table, whose scope would read `new` as a project id.
const NEW_PROJECT: RouteTable = RouteTable {
    prefix: "/projects/new",
    access: Access::SignedIn,
    routes: routes![
        GET "" => account::new_project,
        POST "" => account::create_project,
    ],
};

const CALLS: RouteTable = RouteTable {
    prefix: "",
    access: Access::Project,
    routes: routes![
        GET "" => home::project,
        GET "/calls" => calls::index,
        GET "/calls/{call_id}" => calls::show,
        GET "/calls/{call_id}/delete" => calls::confirm_delete,
        POST "/calls/{call_id}/delete" => calls::delete,
    ],
};

const KNOWLEDGE: RouteTable = RouteTable {
    prefix: "/knowledge",
    access: Access::Project,
    routes: routes![
        GET "" => knowledge::index,
        POST "" => knowledge::create,
        GET "/new" => knowledge::new_modal,
        POST "/preview" => knowledge::preview,
        GET "/{item_id}" => knowledge::show,
        GET "/{item_id}/edit" => knowledge::edit_page,
        POST "/{item_id}/edit" => knowledge::update,
        GET "/{item_id}/delete" => knowledge::confirm_delete,
        POST "/{item_id}/delete" => knowledge::delete,
    ],
};

const TEAM: RouteTable = RouteTable {
    prefix: "/settings/team",
    access: Access::Project,
    routes: routes![
        GET "" => team::index,
        GET "/invite" => team::invite_modal,
        POST "/invitations" => team::invite,
        POST "/invitations/{invitation_id}/revoke" => team::revoke_invitation,
        GET "/members/{user_id}/role" => team::role_modal,
        POST "/members/{user_id}/role" => team::change_role,
        GET "/members/{user_id}/remove" => team::confirm_remove,
        POST "/members/{user_id}/remove" => team::remove,
        GET "/leave" => team::confirm_leave,
        POST "/leave" => team::leave,
    ],
};

const SETTINGS: RouteTable = RouteTable {
    prefix: "/settings",
    access: Access::Project,
    routes: routes![
        GET "" => home::settings,
        GET "/api-keys" => api_keys::index,
        POST "/api-keys" => api_keys::create,
        GET "/api-keys/new" => api_keys::new_modal,
        GET "/api-keys/{key_id}/revoke" => api_keys::confirm_revoke,
        POST "/api-keys/{key_id}/revoke" => api_keys::revoke,
        GET "/api-keys/{key_id}/edit" => key_edit::edit_modal,
        POST "/api-keys/{key_id}/edit" => key_edit::update,
        GET "/api-keys/{key_id}/roll" => key_roll::roll_modal,
        POST "/api-keys/{key_id}/roll" => key_roll::roll,
        GET "/api-keys/{key_id}/stop" => key_roll::confirm_stop,
        POST "/api-keys/{key_id}/stop" => key_roll::stop,
        POST "/api-keys/{key_id}/extend" => key_roll::extend,
        GET "/audit-log" => audit_log::index,
        GET "/audit-log/export.csv" => audit_log::export_csv,
        GET "/audit-log/export.jsonl" => audit_log::export_jsonl,
        GET "/api-keys/{key_id}" => key_page::show,
        GET "/api-keys/{key_id}/usage" => key_page::usage,
    ],
};

/// Every dashboard route, in the order it is matched: [`config`] mounts exactly these.
pub const TABLES: &[RouteTable] = &[
    PUBLIC,
    ACCOUNT,
    NEW_PROJECT,
    CALLS,
    KNOWLEDGE,
    TEAM,
    SETTINGS,
];

/// Every dashboard route's method and full pattern.
pub fn routes() -> impl Iterator<Item = (&'static Method, String)> {
    TABLES.iter().flat_map(RouteTable::patterns)
}

/// The dashboard's routes. Session and CSRF middleware wrap this from `startup`.
pub fn config(cfg: &mut web::ServiceConfig) {
    for table in TABLES {
        match table.access {
            Access::Public => {
                for r in table.routes {
                    cfg.route(r.path, (r.handler)());
                }
            }
            Access::SignedIn => {
                cfg.service(
                    web::scope(table.prefix)
                        .wrap(from_fn(guard::require_user))
                        .configure(|cfg| {
                            for r in table.routes {
                                cfg.route(r.path, (r.handler)());
                            }
                        }),
                );
            }
            // Mounted together below, after the others (`/projects/new` comes first).
            Access::Project => {}
        }
    }
    cfg.service(
        web::scope(PROJECT_SCOPE)
            .wrap(from_fn(guard::require_user))
            // Ids are typed in the handlers' paths: one that no row can have is a 404 page.
            .app_data(web::PathConfig::default().error_handler(|_, _| WebError::NotFound.into()))
            .configure(|cfg| {
                let project_tables = TABLES.iter().filter(|t| t.access == Access::Project);
                for table in project_tables {
                    for r in table.routes {
                        cfg.route(&format!("{}{}", table.prefix, r.path), (r.handler)());
                    }
                }
            }),
    );
}
