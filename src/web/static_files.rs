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
