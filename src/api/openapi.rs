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
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::info::{ContactBuilder, LicenseBuilder};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use super::error::{ErrorBody, ErrorResponse, TooManyRequests};

mod examples;
use super::{calls, knowledge, leaked_keys};

/// The document, embedded in the binary.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The operations this server adds to the hosted API (`x-callem-addition: true`).
const ADDITIONS: [&str; 4] = [
    "createCall",
    "updateCall",
    "updateKnowledge",
    "reportLeakedKeys",
];

/// The name of the bearer-key security scheme.
const BEARER: &str = "bearerAuth";

/// The `/v1` contract as utoipa derives it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Callem Studio Public REST API",
        version = "1.0.0",
        description = "Key-authenticated access to a project's calls and knowledge base. Every response is JSON; every error has the body {\"statusCode\", \"message\"}. 120 requests a minute per client IP (configurable by the deployment); every response carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset, and a 429 also Retry-After.\n\nThe base URL is the server's address alone (https://callem.example.com), not that address with /v1: every path below already starts with /v1. A client pointed at https://callem.example.com/v1 would call /v1/v1/calls.\n\nOperations marked x-callem-addition are this server's additions to the hosted Callem Studio API: a client of the hosted API never needs them."
    ),
    servers((url = "/", description = "This server, at its address alone (e.g. https://callem.example.com): the paths already include /v1, so the base URL is not …/v1.")),
    security(("bearerAuth" = [])),
    tags(
        (name = "Calls", description = "Calls handled by the project's agents."),
        (name = "Knowledge", description = "Knowledge items the agents draw on."),
        (name = "Leaked keys", description = "Revoking keys found leaked, by whoever found them."),
        (name = "Contract", description = "This document."),
    ),
    paths(
        calls::list,
        calls::create,
        calls::get,
        calls::update,
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
        // The server's licence (utoipa would take it from Cargo.toml without its SPDX id), and
        // who answers for the API: whoever runs this server (the document is the same for all).
        openapi.info.license = Some(
            LicenseBuilder::new()
                .name("MIT")
                .identifier(Some("MIT"))
                .build(),
        );
        openapi.info.contact = Some(
            ContactBuilder::new()
                .name(Some(
                    "The operators of this Callem Studio server (its dashboard's API reference \
                     is at /docs/api)",
                ))
                .build(),
        );
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
                "When the key expires. Sent with every response to a key that has an expiry (and \
                 only then) once the key was found valid and allowed from the client's address: \
                 successes, and errors after that point too (400, 403 for the key's scope, 404, \
                 413, 415), so integrators can alert themselves before it stops working.",
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
                // Inline responses: the successes, and the 4xx written beside the shared ones
                // (413, 415). The shared ones say it themselves (below).
                for (status, response) in op.responses.responses.iter_mut() {
                    let after_the_key = status.starts_with('2')
                        || (status.starts_with('4') && status != "401" && status != "429");
                    if let (true, RefOr::T(r)) = (after_the_key, response) {
                        r.headers
                            .insert("Callem-Key-Expiration".to_owned(), expiration.clone());
                    }
                }
            }
        }
        // The shared error responses: every one is rate-counted; those given once the key was
        // found valid may carry its expiry (not a 401, nor a 429, refused before any key).
        for (name, response) in components.responses.iter_mut() {
            let RefOr::T(r) = response else { continue };
            if name != ErrorResponse::Unauthorized.name()
                && name != ErrorResponse::TooManyRequests.name()
            {
                r.headers
                    .insert("Callem-Key-Expiration".to_owned(), expiration.clone());
            }
        }
        // This server's additions to the hosted API, marked so for readers and generators.
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.post, &mut item.patch].into_iter().flatten() {
                if ADDITIONS.contains(&op.operation_id.as_deref().unwrap_or_default()) {
                    op.extensions
                        .get_or_insert_with(Default::default)
                        .merge(Extensions::from_iter([("x-callem-addition", true)]));
                }
            }
        }
        examples::add(openapi);
        // Every `/v1` response, whatever its status, carries the rate limit's headers.
        let components = openapi.components.get_or_insert_with(Default::default);
        let responses = components.responses.values_mut().chain(
            openapi
                .paths
                .paths
                .values_mut()
                .flat_map(|item| {
                    [
                        &mut item.get,
                        &mut item.post,
                        &mut item.patch,
                        &mut item.delete,
                    ]
                })
                .flatten()
                .flat_map(|op| op.responses.responses.values_mut()),
        );
        for response in responses {
            if let RefOr::T(r) = response {
                for (name, header) in rate_limit_headers() {
                    r.headers.insert(name.to_owned(), header);
                }
            }
        }
    }
}

/// `RateLimit-Limit`, `-Remaining` and `-Reset`, as `api::frame` sends them on every response.
fn rate_limit_headers() -> [(&'static str, utoipa::openapi::header::Header); 3] {
    let integer = |minimum: i64, example: i64| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(minimum))
            .examples([example])
    };
    let header = |schema, description: &str| {
        HeaderBuilder::new()
            .schema(schema)
            .description(Some(description))
            .build()
    };
    [
        (
            "RateLimit-Limit",
            header(
                integer(1, 120),
                "Requests a client IP may make in a minute (the deployment's setting).",
            ),
        ),
        (
            "RateLimit-Remaining",
            header(
                integer(0, 117),
                "Requests this client IP has left in the current minute.",
            ),
        ),
        (
            "RateLimit-Reset",
            header(
                integer(0, 42),
                "Seconds until this client IP's minute starts over.",
            ),
        ),
    ]
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
