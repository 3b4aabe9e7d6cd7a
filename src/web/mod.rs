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

use actix_web::middleware::from_fn;
use actix_web::web;

use error::WebError;

pub use crate::request::client_ip;

/// The dashboard's routes. Session and CSRF middleware wrap this from `startup`.
pub fn config(cfg: &mut web::ServiceConfig) {
    use settings::{api_keys, audit_log, key_edit, key_page, key_roll, team};
    let calls_routes = || {
        web::scope("/calls")
            .route("", web::get().to(calls::index))
            .route("/{call_id}", web::get().to(calls::show))
            .route("/{call_id}/delete", web::get().to(calls::confirm_delete))
            .route("/{call_id}/delete", web::post().to(calls::delete))
    };
    let team_routes = || {
        web::scope("/settings/team")
            .route("", web::get().to(team::index))
            .route("/invite", web::get().to(team::invite_modal))
            .route("/invitations", web::post().to(team::invite))
            .route(
                "/invitations/{invitation_id}/revoke",
                web::post().to(team::revoke_invitation),
            )
            .route("/members/{user_id}/role", web::get().to(team::role_modal))
            .route("/members/{user_id}/role", web::post().to(team::change_role))
            .route(
                "/members/{user_id}/remove",
                web::get().to(team::confirm_remove),
            )
            .route("/members/{user_id}/remove", web::post().to(team::remove))
            .route("/leave", web::get().to(team::confirm_leave))
            .route("/leave", web::post().to(team::leave))
    };
    let knowledge_routes = || {
        web::scope("/knowledge")
            .route("", web::get().to(knowledge::index))
            .route("", web::post().to(knowledge::create))
            .route("/new", web::get().to(knowledge::new_modal))
            .route("/preview", web::post().to(knowledge::preview))
            .route("/{item_id}", web::get().to(knowledge::show))
            .route("/{item_id}/edit", web::get().to(knowledge::edit_page))
            .route("/{item_id}/edit", web::post().to(knowledge::update))
            .route(
                "/{item_id}/delete",
                web::get().to(knowledge::confirm_delete),
            )
            .route("/{item_id}/delete", web::post().to(knowledge::delete))
    };
    cfg.route("/", web::get().to(home::root))
        .route("/setup", web::get().to(setup::show))
        .route("/setup", web::post().to(setup::submit))
        .route("/login", web::get().to(login::show))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .route("/no-project", web::get().to(home::no_project))
        .route("/docs/api", web::get().to(api_docs::page))
        .route("/invitations/{token}", web::get().to(invitations::show))
        .route("/invitations/{token}", web::post().to(invitations::accept))
        .route(
            "/reset-password/{token}",
            web::get().to(password_reset::show),
        )
        .route(
            "/forgot-password",
            web::get().to(password_reset::forgot_form),
        )
        .route(
            "/forgot-password",
            web::post().to(password_reset::forgot_submit),
        )
        .route(
            "/reset-password/{token}",
            web::post().to(password_reset::submit),
        )
        .service(
            web::scope("/account")
                .wrap(from_fn(guard::require_user))
                .route("", web::get().to(account::show))
                .route("/profile", web::post().to(account::update_profile))
                .route("/password", web::post().to(account::change_password)),
        )
        // Before the project scope, which would read `new` as a project id.
        .service(
            web::resource("/projects/new")
                .wrap(from_fn(guard::require_user))
                .route(web::get().to(account::new_project))
                .route(web::post().to(account::create_project)),
        )
        .service(
            web::scope("/projects/{project_id}")
                .wrap(from_fn(guard::require_user))
                // Ids are typed in the handlers' paths: one that no row can have is a 404 page.
                .app_data(
                    web::PathConfig::default().error_handler(|_, _| WebError::NotFound.into()),
                )
                .route("", web::get().to(home::project))
                .service(calls_routes())
                .service(knowledge_routes())
                .service(team_routes())
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
                )
                .route(
                    "/settings/api-keys/{key_id}/edit",
                    web::get().to(key_edit::edit_modal),
                )
                .route(
                    "/settings/api-keys/{key_id}/edit",
                    web::post().to(key_edit::update),
                )
                .route(
                    "/settings/api-keys/{key_id}/roll",
                    web::get().to(key_roll::roll_modal),
                )
                .route(
                    "/settings/api-keys/{key_id}/roll",
                    web::post().to(key_roll::roll),
                )
                .route(
                    "/settings/api-keys/{key_id}/stop",
                    web::post().to(key_roll::stop),
                )
                .route(
                    "/settings/api-keys/{key_id}/extend",
                    web::post().to(key_roll::extend),
                )
                .route("/settings/audit-log", web::get().to(audit_log::index))
                .route(
                    "/settings/audit-log/export.csv",
                    web::get().to(audit_log::export_csv),
                )
                .route(
                    "/settings/audit-log/export.jsonl",
                    web::get().to(audit_log::export_jsonl),
                )
                .route("/settings/api-keys/{key_id}", web::get().to(key_page::show))
                .route(
                    "/settings/api-keys/{key_id}/usage",
                    web::get().to(key_page::usage),
                ),
        );
}
