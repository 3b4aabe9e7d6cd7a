//! `/v1`: the key-authenticated JSON API, exact to the hosted contract. Strictly JSON: every
//! response, errors included, is JSON.

pub mod calls;
mod credentials;
pub mod dto;
pub mod error;
pub mod knowledge;
pub mod leaked_keys;
pub mod list;
pub mod openapi;

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use futures_util::{FutureExt, StreamExt};
use serde_json::Value;

use crate::auth::api_key::{authenticate, Credentials, KeyExpiry, Principal};
use crate::db::models::KeyCheck;
use crate::db::{self, DbConnection, DbError};
use crate::domain::api_key::KeyHash;
use crate::domain::ids::Lookup;
use crate::domain::scope::{Access, Need, Resource};
use crate::request::client_ip;
use crate::state::AppState;
use crate::time;
use error::ApiError;

/// Sent with every authenticated response of a key that expires: when it does (as GitHub's
/// token-expiration header), so integrators can alert themselves before it stops working.
pub const KEY_EXPIRATION: header::HeaderName =
    header::HeaderName::from_static("callem-key-expiration");

/// Largest accepted request body: 1 MiB, the limit of one call as an import line too.
pub const MAX_BODY_BYTES: usize = crate::import::MAX_LINE_BYTES;

/// A `/v1` operation as it is routed: method, path (under `/v1`, in the `{param}` syntax that
/// routes and the OpenAPI document share), what it needs of the key's scope (`None`: no key
/// at all) and handler.
pub struct Operation {
    pub method: Method,
    pub path: &'static str,
    pub need: Option<Need>,
    handler: fn() -> actix_web::Route,
}

impl Operation {
    /// The operation a request was routed to: found by its method and the path of the
    /// resource that matched (set by [`scope`]), with no allocation — this runs on every
    /// authenticated request.
    pub fn of(req: &HttpRequest) -> Option<&'static Operation> {
        let routed = req.app_data::<RoutedPath>()?;
        OPERATIONS
            .iter()
            .find(|op| op.path == routed.0 && op.method == req.method())
    }
}

/// The path (as in [`OPERATIONS`]) of the resource a request was routed to: each resource
/// [`scope`] builds carries it, so [`Operation::of`] needs no pattern matching of its own.
struct RoutedPath(&'static str);

const CALLS_READ: Option<Need> = Some(Need::new(Resource::Calls, Access::Read));
const CALLS_WRITE: Option<Need> = Some(Need::new(Resource::Calls, Access::Write));
const CALLS_DELETE: Option<Need> = Some(Need::new(Resource::Calls, Access::Delete));
const KNOWLEDGE_READ: Option<Need> = Some(Need::new(Resource::Knowledge, Access::Read));
const KNOWLEDGE_WRITE: Option<Need> = Some(Need::new(Resource::Knowledge, Access::Write));

/// Every `/v1` operation. [`scope`] routes exactly these, and a 405 on one of their paths lists
/// that path's methods in `Allow`; a test checks that the OpenAPI document describes exactly
/// these. Each one's `need` is the one place its scope rule is written: the [`Credentials`]
/// extractor reads it from here.
pub static OPERATIONS: [Operation; 12] = [
    Operation {
        method: Method::GET,
        path: "/calls",
        need: CALLS_READ,
        handler: || web::to(calls::list),
    },
    Operation {
        method: Method::POST,
        path: "/calls",
        need: CALLS_WRITE,
        handler: || web::to(calls::create),
    },
    Operation {
        method: Method::GET,
        path: "/calls/{id}",
        need: CALLS_READ,
        handler: || web::to(calls::get),
    },
    Operation {
        method: Method::PATCH,
        path: "/calls/{id}",
        need: CALLS_WRITE,
        handler: || web::to(calls::update),
    },
    Operation {
        method: Method::DELETE,
        path: "/calls/{id}",
        need: CALLS_DELETE,
        handler: || web::to(calls::delete),
    },
    Operation {
        method: Method::GET,
        path: "/knowledge",
        need: KNOWLEDGE_READ,
        handler: || web::to(knowledge::list),
    },
    Operation {
        method: Method::POST,
        path: "/knowledge",
        need: KNOWLEDGE_WRITE,
        handler: || web::to(knowledge::create),
    },
    Operation {
        method: Method::GET,
        path: "/knowledge/{id}",
        need: KNOWLEDGE_READ,
        handler: || web::to(knowledge::get),
    },
    Operation {
        method: Method::PATCH,
        path: "/knowledge/{id}",
        need: KNOWLEDGE_WRITE,
        handler: || web::to(knowledge::update),
    },
    Operation {
        method: Method::DELETE,
        path: "/knowledge/{id}",
        need: KNOWLEDGE_WRITE,
        handler: || web::to(knowledge::delete),
    },
    Operation {
        method: Method::POST,
        path: "/leaked-keys",
        need: None,
        handler: || web::to(leaked_keys::report),
    },
    Operation {
        method: Method::GET,
        path: "/openapi.json",
        need: None,
        handler: || web::to(openapi::document),
    },
];

/// The `/v1` scope: rate limit, panic guard, [`OPERATIONS`], JSON 404 and 405.
pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let mut scope = web::scope("/v1").wrap(from_fn(frame));
    let mut paths: Vec<&'static str> = Vec::new();
    for op in &OPERATIONS {
        if !paths.contains(&op.path) {
            paths.push(op.path);
        }
    }
    for path in paths {
        let here = || OPERATIONS.iter().filter(move |op| op.path == path);
        let allowed: Vec<&str> = here().map(|op| op.method.as_str()).collect();
        let resource = resource(path, allowed.join(", ")).app_data(RoutedPath(path));
        let resource = here().fold(resource, |r, op| {
            r.route((op.handler)().method(op.method.clone()))
        });
        scope = scope.service(resource);
    }
    scope.default_service(web::to(not_found))
}

/// A known path: any method it has no route for is a JSON 405 with `Allow: allowed`.
fn resource(path: &str, allowed: String) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || {
        let allowed = allowed.clone();
        async move { ApiError::MethodNotAllowed(allowed) }
    }))
}

async fn not_found() -> ApiError {
    ApiError::PATH_NOT_FOUND
}

impl actix_web::Responder for ApiError {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        self.error_response()
    }
}

/// Wraps every `/v1` request: counts it against the client's rate limit (failed
/// authentication included), turns a panic or an unexpected error into the JSON error body,
/// and adds the `RateLimit-*` headers.
pub async fn frame(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let decision = req.app_data::<web::Data<AppState>>().map(|state| {
        state
            .rate_limiter
            .check(client_ip(req.request()).counted_as(), Instant::now())
    });
    if let Some(d) = decision.filter(|d| !d.allowed) {
        let mut r = ApiError::TooManyRequests.error_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(d.reset_secs));
        add_rate_limit_headers(r.headers_mut(), d);
        return Ok(req.into_response(r));
    }
    // The request must not be cloned here: routing needs sole ownership of it.
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(Ok(mut res)) => {
            if let Some(d) = decision {
                add_rate_limit_headers(res.headers_mut(), d);
            }
            let expiry = res
                .request()
                .extensions()
                .get::<KeyExpiry>()
                .and_then(KeyExpiry::get);
            if let Some(at) = expiry {
                if let Ok(v) = HeaderValue::from_str(&time::iso_millis(at)) {
                    res.headers_mut().insert(KEY_EXPIRATION, v);
                }
            }
            Ok(res.map_into_boxed_body())
        }
        Ok(Err(e)) => Err(Framed(api_error_for(&e), decision).into()),
        Err(_) => {
            tracing::error!("a /v1 handler panicked");
            Err(Framed(ApiError::Internal("handler panicked".into()), decision).into())
        }
    }
}

fn add_rate_limit_headers(h: &mut header::HeaderMap, d: crate::rate_limit::Decision) {
    h.insert(
        header::HeaderName::from_static("ratelimit-limit"),
        HeaderValue::from(d.limit),
    );
    h.insert(
        header::HeaderName::from_static("ratelimit-remaining"),
        HeaderValue::from(d.remaining),
    );
    h.insert(
        header::HeaderName::from_static("ratelimit-reset"),
        HeaderValue::from(d.reset_secs),
    );
}

/// An API error that still carries the rate-limit headers when rendered by the framework.
#[derive(Debug)]
struct Framed(ApiError, Option<crate::rate_limit::Decision>);

impl std::fmt::Display for Framed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for Framed {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = self.0.error_response();
        if let Some(d) = self.1 {
            add_rate_limit_headers(r.headers_mut(), d);
        }
        r
    }
}

/// An error raised outside our handlers (an extractor, the framework) as an API error.
fn api_error_for(e: &actix_web::Error) -> ApiError {
    match e.as_response_error().status_code().as_u16() {
        400 => ApiError::BadRequest("Bad request".into()),
        404 => ApiError::PATH_NOT_FOUND,
        405 => ApiError::MethodNotAllowed(String::new()),
        413 => ApiError::PayloadTooLarge,
        415 => ApiError::UnsupportedMediaType,
        503 => ApiError::Unavailable(e.to_string()),
        _ => ApiError::Internal(e.to_string()),
    }
}

/// Authenticates the request (checks 3 to 5 on the key found by its hash) and runs `work` for
/// its project, on the same database connection: one pool checkout per request.
pub async fn authenticated<T, F>(
    credentials: Credentials,
    state: &web::Data<AppState>,
    work: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &Principal) -> Result<T, ApiError> + Send + 'static,
{
    let shared = state.clone();
    db::run_with(&state.pool, move |conn| {
        let key =
            db::api_keys::find_by_hash(conn, credentials.key_hash()).map_err(DbError::from)?;
        let who = authenticate(&credentials, key.as_ref(), time::now(), &shared.usage)?;
        work(conn, &who)
    })
    .await
}

/// Refuses a request whose key would be refused before its body is read, so a client without
/// a valid key never holds a connection by trickling a body (see
/// [`crate::auth::api_key::refuse_early`]). One more key lookup for requests with a body.
pub async fn refuse_before_body(
    credentials: &Credentials,
    state: &web::Data<AppState>,
) -> Result<(), ApiError> {
    let shared = state.clone();
    let credentials = credentials.clone();
    db::run_with(&state.pool, move |conn| {
        let key =
            db::api_keys::find_by_hash(conn, credentials.key_hash()).map_err(DbError::from)?;
        crate::auth::api_key::refuse_early(&credentials, key.as_ref(), time::now(), &shared.usage)?;
        Ok(())
    })
    .await
}

/// Like [`authenticated`] for a resource read in the same query as the key: `fetch` gets the
/// key's hash and returns the key row with the resource. One round trip for the hottest
/// path, and still no cache: a revoked key is refused by that very query.
pub async fn authenticated_fetch<T, F>(
    credentials: Credentials,
    state: &web::Data<AppState>,
    fetch: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &KeyHash) -> diesel::QueryResult<Option<(KeyCheck, T)>>
        + Send
        + 'static,
{
    let shared = state.clone();
    db::run_with(&state.pool, move |conn| {
        let (key, item) = fetch(conn, credentials.key_hash())?.unzip();
        authenticate(&credentials, key.as_ref(), time::now(), &shared.usage)?;
        item.ok_or_else(|| ApiError::Internal("a key row came without its resource".into()))
    })
    .await
}

/// Deletes one of the project's rows for good, with its audit event (the key as actor);
/// `not_found` when the project has no such row (or no row can have this id).
pub async fn delete_one<Id: AsRef<str> + Send + 'static>(
    credentials: Credentials,
    state: &web::Data<AppState>,
    id: Lookup<Id>,
    what: &'static Removal<Id>,
) -> Result<HttpResponse, ApiError> {
    let id = authenticated(credentials, state, move |conn, who| {
        let id = id.0.ok_or(ApiError::NotFound(what.not_found))?;
        let removed = (what.remove)(conn, &who.project_id, &id, &who.actor(), time::now())?;
        if removed {
            Ok(id)
        } else {
            Err(ApiError::NotFound(what.not_found))
        }
    })
    .await?;
    Ok(HttpResponse::Ok().json(dto::Deleted {
        id: id.as_ref().to_owned(),
        deleted: true,
    }))
}

/// A kind of row `DELETE` removes: how (the delete and its audit event), and the 404's message.
pub struct Removal<Id: 'static> {
    pub remove: db::AuditedDelete<Id>,
    pub not_found: &'static str,
}

/// Reads a JSON request body: `application/json` (else 415), at most 1 MiB (else 413),
/// well-formed (else 400 saying where it breaks).
pub async fn read_json(req: &HttpRequest, mut payload: web::Payload) -> Result<Value, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::BadRequest("the request body could not be read".into()))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))
}

/// Reads `limit` and `offset` from the query string.
pub fn page(req: &HttpRequest) -> Result<crate::domain::pagination::Page, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| ApiError::BadRequest("the query string is malformed".into()))?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    Ok(crate::domain::pagination::Page::parse(
        get("limit"),
        get("offset"),
    )?)
}
