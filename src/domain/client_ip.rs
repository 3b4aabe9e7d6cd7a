//! Which address a request comes from: the TCP peer, or — only when the peer is a trusted
//! proxy — the right-most `X-Forwarded-For` address that is not itself a trusted proxy.

use std::net::IpAddr;

use ipnetwork::IpNetwork;

/// Resolves the client address. IPv4-mapped IPv6 addresses come out as IPv4.
pub fn resolve(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNetwork]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in header.rsplit(',').map(str::trim) {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                let ip = ip.to_canonical();
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            // A garbled entry: stop at the last address we could trust.
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(s: &[&str]) -> Vec<IpNetwork> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn untrusted_peers_cannot_spoof_forwarded_for() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(ip("203.0.113.9"), Some("1.2.3.4"), &[]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_peers_give_the_rightmost_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                Some("6.6.6.6, 198.51.100.7, 10.0.0.9"),
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(resolve(ip("10.0.0.2"), None, &trusted), ip("10.0.0.2"));
        assert_eq!(
            resolve(ip("10.0.0.2"), Some("10.1.1.1"), &trusted),
            ip("10.1.1.1")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), Some("junk"), &trusted),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn mapped_peers_are_ipv4() {
        let trusted = nets(&["127.0.0.1/32"]);
        assert_eq!(
            resolve(ip("::ffff:127.0.0.1"), Some("192.0.2.1"), &trusted),
            ip("192.0.2.1")
        );
        assert_eq!(resolve(ip("::ffff:192.0.2.5"), None, &[]), ip("192.0.2.5"));
    }
}
