//! The edge every request crosses first: the `Host` check against `CALLEM_PUBLIC_URL`, the
//! security headers on every response, and the origin (scheme and host) a request was made
//! for — believing `X-Forwarded-Host`/`-Proto` and `Forwarded` only from a trusted proxy.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::origin::Origin;
use crate::state::AppState;

/// Whether the TCP peer is one of `CALLEM_TRUSTED_PROXIES`.
pub fn peer_is_trusted(req: &HttpRequest, state: &AppState) -> bool {
    req.peer_addr().is_some_and(|a| {
        let ip = a.ip().to_canonical();
        state.trusted_proxies.iter().any(|n| n.contains(ip))
    })
}

/// The right-most value of a comma-separated header a proxy appends to.
fn last_value<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(name)
        .last()?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `host=` or `proto=` from the right-most element of a `Forwarded` header (RFC 7239).
fn forwarded_param(req: &HttpRequest, param: &str) -> Option<String> {
    let element = last_value(req, "forwarded")?;
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(param)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The origin the request was made for: the `Host` header over plain HTTP, or what a trusted
/// proxy says in `Forwarded` / `X-Forwarded-Host` / `X-Forwarded-Proto`.
pub fn request_origin(req: &HttpRequest, state: &AppState) -> Option<Origin> {
    let direct_host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))?;
    if !peer_is_trusted(req, state) {
        return Origin::from_parts("http", &direct_host);
    }
    let host = forwarded_param(req, "host")
        .or_else(|| last_value(req, "x-forwarded-host").map(str::to_owned))
        .unwrap_or(direct_host);
    let scheme = forwarded_param(req, "proto")
        .or_else(|| last_value(req, "x-forwarded-proto").map(str::to_owned))
        .unwrap_or_else(|| "http".to_owned())
        .to_ascii_lowercase();
    Origin::from_parts(&scheme, &host)
}

/// The origin state-changing requests must come from: `CALLEM_PUBLIC_URL` when set, else
/// the one the request was made for.
pub fn expected_origin(req: &HttpRequest, state: &AppState) -> Option<Origin> {
    state
        .public_origin
        .clone()
        .or_else(|| request_origin(req, state))
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The headers every response carries, errors included (error types call this too, since a
/// middleware's error is rendered after the middleware chain).
pub fn add_security_headers(h: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    // Anything that did not choose its own caching (the hashed assets do) is not stored:
    // signed-in pages and API data must not outlive the response in a shared cache.
    set(h, header::CACHE_CONTROL, "no-store");
}

/// The `/v1` error body (`{"statusCode", "message"}`, in that order) for what the edge refuses
/// before any route runs: its own, so the edge does not depend on the API it sits in front of.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct EdgeError {
    status_code: u16,
    message: &'static str,
}

/// Health probes answer whatever `Host` a load balancer sends.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// The middleware (`from_fn`): refuses a `Host` other than `CALLEM_PUBLIC_URL`'s (DNS
/// rebinding), adds the security headers (and HSTS when cookies are Secure), and while the
/// server drains for shutdown, `Connection: close`.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let (wrong_host, hsts, draining) = match req.app_data::<web::Data<AppState>>() {
        Some(state) => {
            let wrong = state.public_origin.as_ref().is_some_and(|public| {
                !is_probe(req.path())
                    && request_origin(req.request(), state).map(|o| o.host)
                        != Some(public.host.clone())
            });
            let draining = state.draining.load(std::sync::atomic::Ordering::Acquire);
            (wrong, state.secure_cookies, draining)
        }
        None => (false, false, false),
    };
    let mut res = if wrong_host {
        tracing::warn!("refused a request for a host other than CALLEM_PUBLIC_URL");
        const WRONG_HOST: &str =
            "This server does not answer for that host name (see CALLEM_PUBLIC_URL).";
        let r = if req.path().starts_with("/v1/") {
            // `/v1` stays JSON, in the contract's error shape.
            HttpResponse::BadRequest().json(EdgeError {
                status_code: 400,
                message: WRONG_HOST,
            })
        } else {
            HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body(WRONG_HOST)
        };
        req.into_response(r).map_into_right_body()
    } else {
        next.call(req).await?.map_into_left_body()
    };
    if draining {
        // Shutting down: this connection's next request would go to a server about to stop
        // listening; the client opens a new one (to another replica, once the balancer has
        // noticed /readyz).
        res.response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    let h = res.headers_mut();
    add_security_headers(h);
    if hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    Ok(res)
}
