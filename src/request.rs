//! Facts about an incoming request that both the dashboard and the API need.

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::domain::client_ip;
use crate::state::AppState;

/// The client's address: the TCP peer, or the forwarded address when the peer is a trusted
/// proxy (`CALLEM_TRUSTED_PROXIES`).
pub fn client_ip(req: &HttpRequest, state: &AppState) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    client_ip::resolve(peer, forwarded, &state.trusted_proxies)
}
