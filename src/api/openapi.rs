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
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use super::error::{ErrorBody, ErrorResponse, TooManyRequests};
use super::{calls, knowledge, leaked_keys};

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
        (name = "Leaked keys", description = "Revoking keys found leaked, by whoever found them."),
        (name = "Contract", description = "This document."),
    ),
    paths(
        calls::list,
        calls::get,
        calls::delete,
        knowledge::list,
        knowledge::create,
        knowledge::get,
        knowledge::update,
        knowledge::delete,
        leaked_keys::report,
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
        // Every key-authenticated success may carry the key's expiry.
        let expiration = HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                    .examples(["2027-03-01T23:59:59.999Z"]),
            )
            .description(Some(
                "When the key expires. Sent with every authenticated response of a key that has \
                 an expiry (and only then), so integrators can alert themselves before it stops \
                 working.",
            ))
            .build();
        // What each operation needs of the key's scope, from the route table itself.
        for routed in &super::OPERATIONS {
            let Some(need) = routed.need else { continue };
            let item = openapi.paths.paths.get_mut(&format!("/v1{}", routed.path));
            let op = item.and_then(|item| match routed.method.as_str() {
                "GET" => item.get.as_mut(),
                "POST" => item.post.as_mut(),
                "PATCH" => item.patch.as_mut(),
                "DELETE" => item.delete.as_mut(),
                _ => None,
            });
            // A routed operation missing here fails the test that compares the two lists.
            let Some(op) = op else { continue };
            let access = format!(
                "{} Other keys get 403 \"API key does not have permission for this request\".",
                need.describe()
            );
            op.description = Some(match op.description.take() {
                Some(d) if !d.is_empty() => format!("{d}\n\n{access}"),
                _ => access,
            });
        }
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                // Only a key's own responses carry its expiry: not those of operations that
                // take no key.
                if matches!(
                    op.operation_id.as_deref(),
                    Some("getOpenApi" | "reportLeakedKeys")
                ) {
                    continue;
                }
                for (status, response) in op.responses.responses.iter_mut() {
                    if let (true, RefOr::T(r)) = (status.starts_with('2'), response) {
                        r.headers
                            .insert("Callem-Key-Expiration".to_owned(), expiration.clone());
                    }
                }
            }
        }
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
