//! Where a webhook may point: an `https:` URL to a public address. The same rule is applied
//! twice: to the URL when a webhook is created or edited ([`WebhookUrl::parse`]), and to every
//! address the resolver answers when a delivery connects ([`AllowedRanges::permits`]), so a
//! name that resolves (or is re-pointed) to an internal address is never dialled.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::IpNetwork;

use crate::domain::Invalid;

/// The hosted product's message next to the URL field.
pub const REFUSED_URL: &str =
    "Only HTTPS URLs are accepted. HTTP, localhost, and private IP addresses are blocked for security.";

/// The longest URL accepted.
pub const MAX_URL_CHARS: usize = 2048;

/// `CALLEM_WEBHOOK_ALLOW_CIDRS`: ranges a self-hoster allows on purpose (an internal
/// receiver). An address in one is permitted even if private, and a URL whose host is an
/// address in one may use plain `http:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedRanges(Vec<IpNetwork>);

impl AllowedRanges {
    pub fn none() -> Self {
        AllowedRanges(Vec::new())
    }

    /// From `10.0.0.0/8,fd00::/8` (commas or spaces; a bare address is a single-address range).
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let mut nets = Vec::new();
        for token in s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            let net = match token.parse::<IpNetwork>() {
                Ok(n) => n,
                Err(_) => token
                    .parse::<IpAddr>()
                    .ok()
                    .and_then(|ip| IpNetwork::new(ip, if ip.is_ipv4() { 32 } else { 128 }).ok())
                    .ok_or_else(|| {
                        Invalid::new(format!(
                            "CALLEM_WEBHOOK_ALLOW_CIDRS: '{token}' is not an address or a CIDR range"
                        ))
                    })?,
            };
            nets.push(net);
        }
        Ok(AllowedRanges(nets))
    }

    /// Whether an address may be dialled: a public address, or one in an allowed range.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allows_on_purpose(ip) || is_public(ip)
    }

    /// Whether the self-hoster allowed this address (then `http:` is fine too).
    pub fn allows_on_purpose(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.0
            .iter()
            .any(|n| n.contains(ip) || n.contains(canonical))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for AllowedRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// A webhook's URL, checked: `https:` (or `http:` to an allowed range), no user info, not
/// `localhost`, not an internal address literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    pub fn parse(input: &str, allowed: &AllowedRanges) -> Result<Self, Invalid> {
        let input = input.trim();
        if input.is_empty() {
            return Err(Invalid::new("URL is required."));
        }
        if input.chars().count() > MAX_URL_CHARS {
            return Err(Invalid::new(format!(
                "URL must be at most {MAX_URL_CHARS} characters."
            )));
        }
        let url = url::Url::parse(input).map_err(|_| {
            Invalid::new("Enter a full URL, like https://example.com/webhooks/callem.")
        })?;
        let refused = || Invalid::new(REFUSED_URL);
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused());
        }
        let host = url.host().ok_or_else(refused)?;
        let literal = match host {
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name == "localhost" || name.ends_with(".localhost") || name.is_empty() {
                    return Err(refused());
                }
                None
            }
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        };
        match (url.scheme(), literal) {
            ("https", None) => {}
            ("https", Some(ip)) if allowed.permits(ip) => {}
            ("http", Some(ip)) if allowed.allows_on_purpose(ip) => {}
            _ => return Err(refused()),
        }
        Ok(WebhookUrl(url))
    }

    /// A URL read back from the database (checked when it was stored; the connect-time check
    /// still applies to every delivery).
    pub fn from_stored(s: &str) -> Option<Self> {
        url::Url::parse(s).ok().map(WebhookUrl)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Whether an address is one a webhook may reach without being allowed on purpose: not
/// loopback, private, link-local, unique-local, CGNAT, multicast, unspecified, documentation
/// or otherwise reserved, including such IPv4 addresses written as IPv4-mapped or -compatible
/// IPv6, NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    const BLOCKED: [([u8; 4], u32); 17] = [
        ([0, 0, 0, 0], 8),       // "this network", unspecified
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // CGNAT
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
        ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, and broadcast
        ([255, 255, 255, 255], 32),
        ([192, 31, 196, 0], 24), // AS112
    ];
    !BLOCKED.iter().any(|&(net, len)| in_v4(ip, net, len))
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], len: u32) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    (u128::from(ip) & mask) == (u128::from(Ipv6Addr::from(net)) & mask)
}

/// The IPv4 address embedded in `ip`, its last bit at bit `end` (counted from the left).
fn embedded_v4(ip: Ipv6Addr, end: u32) -> Ipv4Addr {
    Ipv4Addr::from(((u128::from(ip) >> (128 - end)) & 0xffff_ffff) as u32)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // The forms that carry an IPv4 address are as public as that address.
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96) || in_v6(ip, [0; 8], 96) {
        // IPv4-mapped, and the deprecated IPv4-compatible (which takes in :: and ::1).
        return is_public_v4(embedded_v4(ip, 128));
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return is_public_v4(embedded_v4(ip, 128));
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return is_public_v4(embedded_v4(ip, 48));
    }
    // Only global unicast (2000::/3) is public, less its special ranges.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return false;
    }
    const BLOCKED: [([u16; 8], u32); 5] = [
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments (Teredo, ORCHID…)
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation (RFC 9637)
        ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), // SRv6 SIDs
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), // local-use NAT64 (outside 2000::/3 anyway)
    ];
    !BLOCKED.iter().any(|&(net, len)| in_v6(ip, net, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        WebhookUrl::parse(url, &AllowedRanges::none()).is_err_and(|e| e.0 == REFUSED_URL)
    }

    #[test]
    fn every_internal_form_is_refused_with_the_hosted_message() {
        for url in [
            "http://example.com/hook",
            "https://localhost/hook",
            "https://LOCALHOST./hook",
            "https://api.localhost/hook",
            "https://127.0.0.1/hook",
            "https://127.1.2.3/hook",
            "https://2130706433/hook", // 127.0.0.1 as one number
            "https://0x7f.0.0.1/hook", // and in hex
            "https://0.0.0.0/hook",
            "https://10.1.2.3/hook",
            "https://172.16.0.1/hook",
            "https://192.168.1.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/hook",
            "https://224.0.0.1/hook",
            "https://240.0.0.1/hook",
            "https://255.255.255.255/hook",
            "https://192.0.2.10/hook",
            "https://198.51.100.7/hook",
            "https://203.0.113.7/hook",
            "https://198.18.0.1/hook",
            "https://[::1]/hook",
            "https://[::]/hook",
            "https://[fe80::1]/hook",
            "https://[fc00::1]/hook",
            "https://[fd12:3456::1]/hook",
            "https://[ff02::1]/hook",
            "https://[2001:db8::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
            "https://[::ffff:169.254.169.254]/hook",
            "https://[64:ff9b::127.0.0.1]/hook",
            "https://[64:ff9b::a00:1]/hook",
            "https://[2002:7f00:1::]/hook",
            "https://[2002:c0a8:101::1]/hook",
            "https://user:pass@example.com/hook",
            "https://user@example.com/hook",
            "ftp://example.com/hook",
        ] {
            assert!(
                refused(url),
                "{url} must be refused with the hosted message"
            );
        }
    }

    #[test]
    fn public_https_urls_are_accepted() {
        for url in [
            "https://example.com/webhooks/callem",
            "https://hooks.example.com:8443/x?y=1",
            "https://93.184.216.34/hook",
            "https://[2606:4700:4700::1111]/hook",
            "https://[::ffff:93.184.216.34]/hook",
            "https://[64:ff9b::5db8:d822]/hook",
            "https://[2002:5db8:d822::1]/hook",
        ] {
            assert!(
                WebhookUrl::parse(url, &AllowedRanges::none()).is_ok(),
                "{url}"
            );
        }
    }

    #[test]
    fn empty_garbled_and_long_urls_say_what_is_wrong() {
        let none = AllowedRanges::none();
        assert_eq!(
            WebhookUrl::parse(" ", &none).unwrap_err().0,
            "URL is required."
        );
        assert!(WebhookUrl::parse("example.com/hook", &none)
            .unwrap_err()
            .0
            .starts_with("Enter a full URL"));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(WebhookUrl::parse(&long, &none)
            .unwrap_err()
            .0
            .contains("at most"));
    }

    #[test]
    fn allowed_ranges_let_an_internal_receiver_in_even_over_http() {
        let allowed = AllowedRanges::parse("127.0.0.0/8, 10.0.0.5").unwrap();
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", &allowed).is_ok());
        assert!(WebhookUrl::parse("https://10.0.0.5/hook", &allowed).is_ok());
        assert!(WebhookUrl::parse("https://10.0.0.6/hook", &allowed).is_err());
        // A name is not an address in a range: plain http stays refused.
        assert!(WebhookUrl::parse("http://receiver.internal/hook", &allowed).is_err());
        assert!(allowed.permits("::ffff:127.0.0.1".parse().unwrap()));
        assert!(AllowedRanges::parse("10.0.0.0/40").is_err());
    }

    #[test]
    fn the_connect_time_filter_refuses_every_internal_answer() {
        let none = AllowedRanges::none();
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "100.100.100.200",
            "::1",
            "::",
            "::ffff:192.168.0.1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2002:7f00:1::1",
            "2001::1",
            "fe80::1",
            "fd00::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!none.permits(ip), "{ip} must not be dialled");
        }
        for ip in [
            "93.184.216.34",
            "2606:4700::1111",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(none.permits(ip), "{ip} is public");
        }
    }
}
