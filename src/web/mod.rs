//! The dashboard: HTML pages and htmx fragments under session sign-in.

pub mod api_docs;
pub mod error;
pub mod guard;
pub mod health;
pub mod home;
pub mod htmx;
pub mod login;
pub mod settings;
pub mod setup;
pub mod shell;
pub mod static_files;

use actix_web::middleware::from_fn;
use actix_web::web;

pub use crate::request::client_ip;

/// The dashboard's routes. Session and CSRF middleware wrap this from `startup`.
pub fn config(cfg: &mut web::ServiceConfig) {
    use settings::api_keys;
    cfg.route("/", web::get().to(home::root))
        .route("/setup", web::get().to(setup::show))
        .route("/setup", web::post().to(setup::submit))
        .route("/login", web::get().to(login::show))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .route("/no-project", web::get().to(home::no_project))
        .route("/docs/api", web::get().to(api_docs::page))
        .service(
            web::scope("/projects/{project_id}")
                .wrap(from_fn(guard::require_user))
                .route("", web::get().to(home::project))
                .route("/calls", web::get().to(home::calls))
                .route("/knowledge", web::get().to(home::knowledge))
                .route("/settings", web::get().to(home::settings))
                .route("/settings/api-keys", web::get().to(api_keys::index))
                .route("/settings/api-keys", web::post().to(api_keys::create))
                .route("/settings/api-keys/new", web::get().to(api_keys::new_modal))
                .route(
                    "/settings/api-keys/{key_id}/revoke",
                    web::get().to(api_keys::confirm_revoke),
                )
                .route(
                    "/settings/api-keys/{key_id}/revoke",
                    web::post().to(api_keys::revoke),
                ),
        );
}
