//! Small helpers for answering htmx and plain requests alike.

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse};
use askama::Template;

use super::error::{explain, toast_response, WebError, MAX_PLAIN_MESSAGE};

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

/// Middleware on the dashboard's scope: when an htmx request fails, its answer becomes the
/// toast with the server's message — a [`WebError`]'s, or the text of a plain-text refusal
/// (the CSRF check's "your session expired…"), or else the status's — rather than an error
/// page that would be swapped into the page. A 422 is a form sent back with its messages and
/// is left alone, as is everything a plain request gets.
pub async fn toasts_for_htmx(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let htmx = is_htmx(req.request());
    let res = next.call(req).await?;
    let status = res.status();
    let failed = status.is_client_error() || status.is_server_error();
    if !htmx || !failed || status == StatusCode::UNPROCESSABLE_ENTITY {
        return Ok(res.map_into_left_body());
    }
    let retry = res.headers().get(header::RETRY_AFTER).cloned();
    if let Some(e) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<WebError>())
    {
        let toast = toast_response(status, e.explained().1, retry);
        return Ok(res.into_response(toast).map_into_right_body());
    }
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    let small =
        matches!(res.response().body().size(), BodySize::Sized(n) if n <= MAX_PLAIN_MESSAGE as u64);
    let (req, response) = res.into_parts();
    let mut message = None;
    if plain && small {
        if let Ok(Ok(bytes)) =
            actix_web::body::to_bytes_limited(response.into_body(), MAX_PLAIN_MESSAGE).await
        {
            message = String::from_utf8(bytes.to_vec())
                .ok()
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty());
        }
    }
    let message = message.unwrap_or_else(|| explain(status).1.to_owned());
    let toast = toast_response(status, &message, retry);
    Ok(ServiceResponse::new(req, toast).map_into_right_body())
}
