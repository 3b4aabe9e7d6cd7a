//! Serves the embedded assets under their content-hashed names.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::assets;

pub async fn serve(name: web::Path<String>) -> HttpResponse {
    match assets::find(&name) {
        Some(a) => HttpResponse::Ok()
            .content_type(a.content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(a.bytes),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Not found"),
    }
}

/// `/favicon.ico`, which browsers ask for on every site whatever the pages link. Its name
/// carries no hash, so it is cached for a day rather than for ever.
pub async fn favicon() -> HttpResponse {
    let icon = assets::favicon();
    HttpResponse::Ok()
        .content_type(icon.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(icon.bytes)
}
