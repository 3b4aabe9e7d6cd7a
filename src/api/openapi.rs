//! `GET /v1/openapi.json`: the contract as an OpenAPI 3.1 document (no key needed). It is
//! written by hand to match `docs/public-api.md` exactly; a test checks it against
//! the routes and the objects the API really returns.

use actix_web::HttpResponse;

/// The document, embedded in the binary.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT)
}
