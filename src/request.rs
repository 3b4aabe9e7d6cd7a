//! Facts about an incoming request that both the dashboard and the API need, resolved once per
//! request: the client address (stored in the request's extensions when the access-log span
//! opens, so the rate limiter, IP rules, audit events and the access log all see the same one).

use std::future::{ready, Ready};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

use crate::domain::client_ip::{self, ClientAddr};
use crate::state::AppState;

/// The client's address: the TCP peer, or the forwarded address when the peer is a trusted
/// proxy (`CALLEM_TRUSTED_PROXIES`); unknown when a trusted proxy names no client.
pub fn client_ip(req: &HttpRequest) -> ClientAddr {
    if let Some(known) = req.extensions().get::<ClientAddr>() {
        return *known;
    }
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.trusted_proxies.as_slice())
        .unwrap_or_default();
    resolve(req, trusted)
}

fn resolve(req: &HttpRequest, trusted: &[ipnetwork::IpNetwork]) -> ClientAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let lines = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| v.as_bytes());
    let client = client_ip::resolve(peer, lines, trusted);
    if let ClientAddr::Unknown { proxy } = client {
        warn_unknown_client(proxy);
    }
    client
}

/// Logs a trusted proxy that names no client, once a minute at most (a misconfigured proxy
/// would otherwise write a line per request).
fn warn_unknown_client(proxy: IpAddr) {
    static LAST: AtomicI64 = AtomicI64::new(i64::MIN);
    let now = chrono::Utc::now().timestamp();
    let last = LAST.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            %proxy,
            "a trusted proxy sent a request without a readable X-Forwarded-For client address; \
             treating the client as unknown (logged once a minute at most)"
        );
    }
}

/// The client address as an extractor.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub ClientAddr);

impl FromRequest for ClientIp {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(ClientIp(client_ip(req))))
    }
}

/// Paths whose next segment is a secret (a one-time token): logged without it.
const SECRET_PATHS: [&str; 2] = ["/invitations/", "/reset-password/"];

/// The path as the access log shows it: an invitation's or a password reset's token becomes
/// `…`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in SECRET_PATHS {
        if let Some(rest) = path.strip_prefix(prefix) {
            let after = rest.find('/').map_or("", |i| &rest[i..]);
            return format!("{prefix}…{after}").into();
        }
    }
    path.into()
}

/// The access log's span: resolves the client address once (and keeps it for the rest of
/// the request), and records the user agent quoted and escaped, so neither a spoofed header
/// nor a crafted user agent can forge a log line.
pub struct AccessLog;

impl RootSpanBuilder for AccessLog {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let state = request.app_data::<web::Data<AppState>>();
        let trusted = state
            .map(|s| s.trusted_proxies.as_slice())
            .unwrap_or_default();
        let client = resolve(request.request(), trusted);
        request.extensions_mut().insert(client);
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %loggable_path(request.path()),
            client = %client,
            user_agent = ?user_agent,
            status = tracing::field::Empty,
            request_id = %request_id,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(res) => res.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitation_tokens_are_left_out_of_logged_paths() {
        let token = "ab".repeat(32);
        assert_eq!(
            loggable_path(&format!("/invitations/{token}")),
            "/invitations/…"
        );
        assert_eq!(
            loggable_path(&format!("/invitations/{token}/x")),
            "/invitations/…/x"
        );
        assert_eq!(
            loggable_path("/projects/p/settings/team"),
            "/projects/p/settings/team"
        );
    }
}
