//! `GET /v1/openapi.json`: the contract as an OpenAPI 3.1 document (no key needed), generated
//! by utoipa from the handlers' `#[utoipa::path]` attributes, the DTOs' schemas and the error
//! responses of `error.rs` ([`ApiDoc`]). The server sends the committed `openapi.json`, which
//! a test keeps byte for byte what the code generates. After changing the API, rewrite it with
//!
//! ```text
//! CALLEM_WRITE_OPENAPI=1 cargo test --test app the_committed_document_is_the_generated_one
//! ```
//!
//! and commit it.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{ErrorBody, ErrorResponse, TooManyRequests};
use super::{calls, knowledge};

/// The document, embedded in the binary.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The name of the bearer-key security scheme.
const BEARER: &str = "bearerAuth";

/// The `/v1` contract as utoipa derives it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Callem Studio Public REST API",
        version = "1.0.0",
        description = "Key-authenticated access to a project's calls and knowledge base. Every response is JSON; every error has the body {\"statusCode\", \"message\"}. 120 requests a minute per client IP (configurable by the deployment); every response carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset, and a 429 also Retry-After."
    ),
    servers((url = "/", description = "This server")),
    security(("bearerAuth" = [])),
    tags(
        (name = "Calls", description = "Calls handled by the project's agents."),
        (name = "Knowledge", description = "Knowledge items the agents draw on."),
        (name = "Contract", description = "This document."),
    ),
    paths(
        calls::list,
        calls::get,
        calls::delete,
        knowledge::list,
        knowledge::create,
        knowledge::get,
        knowledge::delete,
        document,
    ),
    components(schemas(ErrorBody)),
    modifiers(&SharedComponents)
)]
pub struct ApiDoc;

/// What the operations refer to besides schemas: the error responses and the key scheme.
struct SharedComponents;

impl Modify for SharedComponents {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        // utoipa takes the crate's licence for the API's; the contract states none.
        openapi.info.license = None;
        let components = openapi.components.get_or_insert_with(Default::default);
        for e in ErrorResponse::ALL {
            components
                .responses
                .insert(e.name().to_owned(), e.response().into());
        }
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "Authorization: Bearer ck_live_ followed by 60 characters of [a-z0-9]. Each key \
                 belongs to one project.",
            ))
            .build();
        components.add_security_scheme(BEARER, SecurityScheme::Http(bearer));
    }
}

/// The document as committed: pretty-printed JSON with a final newline.
pub fn generate() -> Result<String, serde_json::Error> {
    let mut json = ApiDoc::openapi().to_pretty_json()?;
    json.push('\n');
    Ok(json)
}

/// This OpenAPI document
///
/// Needs no key.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "Contract",
    operation_id = "getOpenApi",
    security(),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", body = Object, content_type = "application/json"),
        TooManyRequests,
    )
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT)
}
