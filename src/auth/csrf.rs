//! CSRF protection for every state-changing dashboard request: a same-origin `Origin` (or
//! `Referer`) and the session's token, sent by htmx in the `X-CSRF-Token` header or by a plain
//! form in its `csrf_token` field. A forged request is answered 403 before any handler runs.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpResponse};

use super::session::TypedSession;

/// Header htmx sends the token in (set once on `<body hx-headers>`).
pub const HEADER: &str = "x-csrf-token";
/// Form field plain forms send the token in.
pub const FIELD: &str = "csrf_token";
/// Largest form body read for the token; bigger bodies must send the header.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// The middleware function (`from_fn`).
pub async fn protect(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    if !same_origin(&req) {
        tracing::warn!("refused a cross-origin or origin-less POST");
        return Ok(refuse(req, "This request did not come from this site."));
    }
    let expected = TypedSession::of(req.request()).existing_csrf_token();
    let mut presented = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if presented.is_none() && is_form(&req) {
        let body = req.extract::<Bytes>().await.unwrap_or_default();
        if body.len() <= MAX_FORM_BYTES {
            presented = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
                .ok()
                .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == FIELD).map(|(_, v)| v));
        }
        req.set_payload(payload_of(body));
    }
    match (expected, presented) {
        (Some(e), Some(p)) if constant_time_eq(e.as_bytes(), p.as_bytes()) => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        _ => {
            tracing::warn!("refused a POST without a valid CSRF token");
            Ok(refuse(
                req,
                "Your session expired or this form is stale. Reload the page and try again.",
            ))
        }
    }
}

fn refuse<B>(req: ServiceRequest, message: &str) -> ServiceResponse<EitherBody<B>> {
    let response = HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body(message.to_owned());
    req.into_response(response).map_into_right_body()
}

fn is_form(req: &ServiceRequest) -> bool {
    req.content_type() == "application/x-www-form-urlencoded"
}

/// The request's `Origin` (or, lacking it, `Referer`) is this site: the same scheme and host
/// as `CALLEM_PUBLIC_URL`, or as the request itself (forwarded values only from a trusted
/// proxy, so a rebinding page or a forged `X-Forwarded-Host` cannot make itself "same").
fn same_origin(req: &ServiceRequest) -> bool {
    let Some(state) = req.app_data::<actix_web::web::Data<crate::state::AppState>>() else {
        return false;
    };
    let Some(expected) = crate::edge::expected_origin(req.request(), state) else {
        return false;
    };
    let source = req
        .headers()
        .get(header::ORIGIN)
        .or_else(|| req.headers().get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(crate::origin::Origin::of_url);
    source.is_some_and(|s| s == expected)
}

fn payload_of(body: Bytes) -> actix_web::dev::Payload {
    let stream =
        futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body) });
    actix_web::dev::Payload::from(
        Box::pin(stream) as std::pin::Pin<Box<dyn futures_util::Stream<Item = _>>>
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}
