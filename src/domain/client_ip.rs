//! Which address a request comes from: the TCP peer, or — only when the peer is a trusted
//! proxy — the right-most `X-Forwarded-For` address that is not itself a trusted proxy. When
//! a trusted proxy does not say who its client is, the client is *unknown*, never the proxy.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use ipnetwork::IpNetwork;

/// The client of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAddr {
    /// The address the request came from (the peer, or the one a trusted proxy named).
    Known(IpAddr),
    /// A trusted proxy sent the request without a readable client address.
    Unknown {
        /// The proxy the request came through.
        proxy: IpAddr,
    },
}

impl ClientAddr {
    /// The client's address, when known. An unknown client matches no IP rule.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            ClientAddr::Known(ip) => Some(*ip),
            ClientAddr::Unknown { .. } => None,
        }
    }

    /// The address rate limits count this client under: an unknown client shares its proxy's.
    pub fn counted_as(&self) -> IpAddr {
        match self {
            ClientAddr::Known(ip) => *ip,
            ClientAddr::Unknown { proxy } => *proxy,
        }
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAddr::Known(ip) => ip.fmt(f),
            ClientAddr::Unknown { .. } => f.write_str(UNKNOWN),
        }
    }
}

/// How the usage tables write a client whose address is unknown (the [`ClientAddr`]'s
/// `Display`): a trusted proxy that sent no readable client address.
pub const UNKNOWN: &str = "unknown";

/// A client address as the usage tables recorded it: `Some(None)` for [`UNKNOWN`],
/// `Some(Some(ip))` for an address, `None` for anything else (nothing else is written).
pub fn parse_recorded(recorded: &str) -> Option<Option<IpAddr>> {
    if recorded == UNKNOWN {
        return Some(None);
    }
    recorded.parse::<IpAddr>().ok().map(Some)
}

/// Resolves the client address from the peer and every `X-Forwarded-For` header line (all
/// lines are one list, RFC 9110 §5.3). IPv4-mapped IPv6 addresses come out as IPv4.
pub fn resolve<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a [u8]>,
    trusted: &[IpNetwork],
) -> ClientAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return ClientAddr::Known(peer);
    }
    let unknown = ClientAddr::Unknown { proxy: peer };
    let mut leftmost = None;
    let lines: Vec<&[u8]> = forwarded_for.into_iter().collect();
    for line in lines.iter().rev() {
        for hop in line.rsplit(|b| *b == b',') {
            let Some(ip) = parse_hop(hop) else {
                // Garbage where the next address should be: whoever wrote it is not known.
                return unknown;
            };
            if !is_trusted(ip) {
                return ClientAddr::Known(ip);
            }
            leftmost = Some(ip);
        }
    }
    // Every hop was a trusted proxy: the first of them is the client. No hop at all: unknown.
    leftmost.map_or(unknown, ClientAddr::Known)
}

/// One `X-Forwarded-For` entry: `ip`, `ipv4:port`, `[ipv6]` or `[ipv6]:port`.
pub fn parse_hop(hop: &[u8]) -> Option<IpAddr> {
    let hop = std::str::from_utf8(hop).ok()?.trim_matches([' ', '\t']);
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sock) = hop.parse::<SocketAddr>() {
        return Some(sock.ip().to_canonical());
    }
    let inner = hop.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .parse::<Ipv6Addr>()
        .ok()
        .map(|ip| IpAddr::V6(ip).to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(s: &[&str]) -> Vec<IpNetwork> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn lines<'a>(l: &'a [&'a str]) -> impl Iterator<Item = &'a [u8]> {
        l.iter().map(|s| s.as_bytes())
    }

    fn known(s: &str) -> ClientAddr {
        ClientAddr::Known(ip(s))
    }

    #[test]
    fn a_recorded_client_reads_back_known_or_unknown() {
        let unknown = ClientAddr::Unknown {
            proxy: ip("10.0.0.1"),
        };
        assert_eq!(parse_recorded(&unknown.to_string()), Some(None));
        assert_eq!(
            parse_recorded(&known("2001:db8::1").to_string()),
            Some(Some(ip("2001:db8::1")))
        );
        assert_eq!(parse_recorded("10.0.0.1:80"), None);
    }

    #[test]
    fn untrusted_peers_cannot_spoof_forwarded_for() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("203.0.113.9"), lines(&["1.2.3.4"]), &trusted),
            known("203.0.113.9")
        );
        assert_eq!(
            resolve(ip("203.0.113.9"), lines(&["1.2.3.4"]), &[]),
            known("203.0.113.9")
        );
    }

    #[test]
    fn trusted_peers_give_the_rightmost_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                lines(&["6.6.6.6, 198.51.100.7, 10.0.0.9"]),
                &trusted
            ),
            known("198.51.100.7")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), lines(&["10.1.1.1"]), &trusted),
            known("10.1.1.1")
        );
    }

    #[test]
    fn every_header_line_is_part_of_one_list() {
        // The client sent its own line; the proxy appended the real address as a second line.
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                lines(&["192.0.2.66", "198.51.100.7"]),
                &trusted
            ),
            known("198.51.100.7")
        );
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                lines(&["192.0.2.66, 10.9.9.9", "198.51.100.7, 10.0.0.3"]),
                &trusted
            ),
            known("198.51.100.7")
        );
    }

    #[test]
    fn a_trusted_proxy_that_names_no_client_gives_an_unknown_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        let unknown = ClientAddr::Unknown {
            proxy: ip("10.0.0.2"),
        };
        for bad in [
            &[][..],
            &[""],
            &["unknown"],
            &["junk"],
            &[" , "],
            &["1.2.3.4:99999"],
            &["1.2.3.4, junk"],
            &["198.51.100.7", ""],
        ] {
            assert_eq!(
                resolve(ip("10.0.0.2"), lines(bad), &trusted),
                unknown,
                "{bad:?}"
            );
        }
        let binary: &[u8] = b"\xff\xfe";
        assert_eq!(resolve(ip("10.0.0.2"), [binary], &trusted), unknown);
        assert_eq!(unknown.ip(), None);
        assert_eq!(unknown.counted_as(), ip("10.0.0.2"));
        assert_eq!(unknown.to_string(), "unknown");
    }

    #[test]
    fn ports_are_accepted_only_in_their_exact_forms() {
        assert_eq!(parse_hop(b"192.0.2.1:8080"), Some(ip("192.0.2.1")));
        assert_eq!(parse_hop(b"[2001:db8::1]:443"), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop(b"[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop(b" 2001:db8::1 "), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop(b"2001:db8::1:443"), Some(ip("2001:db8::1:443")));
        assert_eq!(parse_hop(b"192.0.2.1:"), None);
        assert_eq!(parse_hop(b"192.0.2.1:http"), None);
        assert_eq!(parse_hop(b"[192.0.2.1]"), None);
        assert_eq!(parse_hop(b"[2001:db8::1"), None);
        assert_eq!(parse_hop(b"unknown"), None);
    }

    #[test]
    fn mapped_peers_are_ipv4() {
        let trusted = nets(&["127.0.0.1/32"]);
        assert_eq!(
            resolve(ip("::ffff:127.0.0.1"), lines(&["192.0.2.1"]), &trusted),
            known("192.0.2.1")
        );
        assert_eq!(
            resolve(ip("::ffff:192.0.2.5"), lines(&[]), &[]),
            known("192.0.2.5")
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_header_resolves_without_panicking(
            header in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..4)
        ) {
            let trusted = nets(&["10.0.0.0/8"]);
            let r = resolve(ip("10.0.0.2"), header.iter().map(Vec::as_slice), &trusted);
            // Whatever the header says, the client is never the trusted proxy itself.
            prop_assert_ne!(r, known("10.0.0.2"));
        }

        #[test]
        fn printed_chains_resolve_to_their_rightmost_untrusted_hop(
            hops in proptest::collection::vec(any::<std::net::Ipv4Addr>(), 1..8),
            ports in proptest::collection::vec(proptest::option::of(any::<u16>()), 8)
        ) {
            let trusted = nets(&["10.0.0.0/8"]);
            let printed: Vec<String> = hops
                .iter()
                .zip(&ports)
                .map(|(h, p)| match p {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
                .collect();
            let header = printed.join(", ");
            let expected = hops
                .iter()
                .rev()
                .map(|h| IpAddr::V4(*h))
                .find(|h| !trusted[0].contains(*h))
                .or_else(|| hops.first().map(|h| IpAddr::V4(*h)))
                .map(ClientAddr::Known);
            prop_assert_eq!(
                Some(resolve(ip("10.0.0.2"), [header.as_bytes()], &trusted)),
                expected
            );
        }
    }
}
