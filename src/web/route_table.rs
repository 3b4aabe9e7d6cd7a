//! What a feature folder's route table is made of: [`Route`], [`RouteTable`], the [`Access`]
//! it is mounted with, and the `routes!` macro that writes a table's routes once.

use actix_web::http::Method;

/// One dashboard route: its method, its path under its table's prefix, and its handler.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    handler: fn() -> actix_web::Route,
}

impl Route {
    /// A route; tables write theirs with `routes!`.
    pub const fn new(
        method: Method,
        path: &'static str,
        handler: fn() -> actix_web::Route,
    ) -> Self {
        Route {
            method,
            path,
            handler,
        }
    }

    /// The actix route that serves it (method guard and handler).
    pub fn to_actix(&self) -> actix_web::Route {
        (self.handler)()
    }
}

/// Who may reach a table's routes; each is one way of mounting them (see `web::config`).
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

/// Routes mounted together under one prefix with one [`Access`]. A feature folder exports its
/// table and `web::TABLES` lists it: that one list both registers the routes and lets a test
/// (the browser sweep) list every page, so no second list is kept by hand.
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
        &[$($crate::web::route_table::Route::new(
            ::actix_web::http::Method::$method,
            $path,
            || ::actix_web::web::method(::actix_web::http::Method::$method).to($handler),
        )),*]
    };
}

pub(crate) use routes;
