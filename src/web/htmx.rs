//! Small helpers for answering htmx and plain requests alike.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::error::WebError;

/// Whether htmx made this request (it then wants a fragment, not a page).
pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("hx-request")
}

/// Sends the browser elsewhere: `HX-Redirect` for htmx (a 303 would be swapped into the page),
/// a 303 otherwise.
pub fn redirect(req: &HttpRequest, to: &str) -> HttpResponse {
    if is_htmx(req) {
        HttpResponse::Ok()
            .insert_header(("HX-Redirect", to))
            .finish()
    } else {
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, to))
            .finish()
    }
}

/// Renders a template as an HTML response.
pub fn html<T: Template>(template: &T) -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(template.render()?))
}

/// Adds the one-line confirmation the dashboard shows after a change (a toast with
/// `role="status"`, shown by `static/app.js`, after the redirect when there is one). The text
/// is percent-encoded: names in it may be any Unicode, headers carry ASCII.
pub fn with_toast(mut res: HttpResponse, message: &str) -> HttpResponse {
    let encoded: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
    if let Ok(v) = header::HeaderValue::from_str(&encoded) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-callem-toast"), v);
    }
    res
}
