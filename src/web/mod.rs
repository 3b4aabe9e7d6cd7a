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
pub mod pager;
pub mod password_reset;
pub mod route_table;
pub mod settings;
pub mod setup;
pub mod shell;
pub mod static_files;

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::web;

use error::WebError;
use route_table::{routes, Access, RouteTable, PROJECT_SCOPE};

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

// The project's own URL; each section's table adds its prefix under the same scope.
const PROJECT: RouteTable = RouteTable {
    prefix: "",
    access: Access::Project,
    routes: routes![
        GET "" => home::project,
    ],
};

const SETTINGS: RouteTable = RouteTable {
    prefix: "/settings",
    access: Access::Project,
    routes: routes![
        GET "" => home::settings,
    ],
};

/// Every dashboard route, in the order it is matched: [`config`] mounts exactly these.
pub const TABLES: &[RouteTable] = &[
    PUBLIC,
    ACCOUNT,
    NEW_PROJECT,
    PROJECT,
    calls::TABLE,
    knowledge::TABLE,
    settings::team::TABLE,
    SETTINGS,
    settings::api_keys::TABLE,
    settings::audit_log::TABLE,
    settings::webhooks::TABLE,
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
                    cfg.route(r.path, r.to_actix());
                }
            }
            Access::SignedIn => {
                cfg.service(
                    web::scope(table.prefix)
                        .wrap(from_fn(guard::require_user))
                        .configure(|cfg| {
                            for r in table.routes {
                                cfg.route(r.path, r.to_actix());
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
                        cfg.route(&format!("{}{}", table.prefix, r.path), r.to_actix());
                    }
                }
            }),
    );
}
