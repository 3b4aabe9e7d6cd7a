//! A key's allowed client addresses: single addresses, CIDR ranges, or `*`.

use std::net::IpAddr;

use ipnetwork::IpNetwork;

use super::Invalid;

/// At most this many rules per key.
pub const MAX_RULES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRule {
    /// `*`: any address.
    Any,
    /// A single address (a /32 or /128) or a range, always in network form.
    Net(IpNetwork),
}

impl IpRule {
    fn parse(token: &str) -> Result<Self, Invalid> {
        if token == "*" {
            return Ok(IpRule::Any);
        }
        let net = match token.split_once('/') {
            None => {
                let ip: IpAddr = token.parse().map_err(|_| not_an_address(token))?;
                let ip = ip.to_canonical();
                IpNetwork::new(ip, max_prefix(ip)).map_err(|_| not_an_address(token))?
            }
            Some((addr, len)) => {
                let ip: IpAddr = addr.parse().map_err(|_| not_an_address(token))?;
                let len: u8 = len.parse().map_err(|_| bad_prefix(token, ip))?;
                if len > max_prefix(ip) {
                    return Err(bad_prefix(token, ip));
                }
                let net = canonical_net(ip, len);
                if net.ip() != net.network() {
                    let suggestion = IpNetwork::new(net.network(), net.prefix())
                        .map(|n| n.to_string())
                        .unwrap_or_default();
                    return Err(Invalid::new(format!(
                        "{token} has host bits set; use the network address {suggestion}."
                    )));
                }
                net
            }
        };
        Ok(IpRule::Net(net))
    }

    fn matches(&self, ip: IpAddr) -> bool {
        match self {
            IpRule::Any => true,
            IpRule::Net(net) => net.contains(ip),
        }
    }

    fn to_storage(self) -> String {
        match self {
            IpRule::Any => "*".to_owned(),
            IpRule::Net(net) if net.prefix() == max_prefix(net.ip()) => net.ip().to_string(),
            IpRule::Net(net) => net.to_string(),
        }
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

/// An IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) is the IPv4 range it maps.
fn canonical_net(ip: IpAddr, len: u8) -> IpNetwork {
    let mapped = ip.to_canonical();
    let (ip, len) = if mapped.is_ipv4() && ip.is_ipv6() && len >= 96 {
        (mapped, len - 96)
    } else {
        (ip, len)
    };
    // Prefix lengths were checked against the family above.
    IpNetwork::new(ip, len).unwrap_or_else(|_| IpNetwork::from(ip))
}

fn not_an_address(token: &str) -> Invalid {
    Invalid::new(format!(
        "'{token}' is not an IP address, a CIDR range (like 10.0.0.0/24) or *."
    ))
}

fn bad_prefix(token: &str, ip: IpAddr) -> Invalid {
    Invalid::new(format!(
        "'{token}' has an invalid prefix length; it must be 0 to {}.",
        max_prefix(ip)
    ))
}

/// The parsed, de-duplicated rules of one key. Empty means any address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpRules(Vec<IpRule>);

impl IpRules {
    /// Parses the Allowed IPs field: rules separated by commas, spaces or newlines.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let mut rules: Vec<IpRule> = Vec::new();
        for token in input
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            let rule = IpRule::parse(token)?;
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        if rules.len() > MAX_RULES {
            return Err(Invalid::new(format!(
                "At most {MAX_RULES} IP rules are allowed; {} were given.",
                rules.len()
            )));
        }
        // `*` beside other rules means all addresses: keep it alone.
        if rules.contains(&IpRule::Any) {
            rules = vec![IpRule::Any];
        }
        Ok(IpRules(rules))
    }

    /// Reads rules written by [`IpRules::to_storage`].
    pub fn from_storage(stored: &str) -> Result<Self, Invalid> {
        Self::parse(stored)
    }

    /// One rule a line, in canonical form.
    pub fn to_storage(&self) -> String {
        self.0
            .iter()
            .map(|r| r.to_storage())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn rules(&self) -> &[IpRule] {
        &self.0
    }

    /// True when any address may use the key.
    pub fn is_unrestricted(&self) -> bool {
        self.0.is_empty() || self.0.contains(&IpRule::Any)
    }

    /// Whether a client address may use the key; IPv4-mapped IPv6 addresses match IPv4 rules.
    pub fn allows(&self, client: IpAddr) -> bool {
        if self.is_unrestricted() {
            return true;
        }
        let client = client.to_canonical();
        self.0.iter().any(|r| r.matches(client))
    }

    /// The list's "IP restriction" column: `All IPs`, `1 rule`, `3 rules`.
    pub fn summary(&self) -> String {
        match self.0.len() {
            _ if self.is_unrestricted() => "All IPs".to_owned(),
            1 => "1 rule".to_owned(),
            n => format!("{n} rules"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn empty_input_allows_everyone() {
        let r = IpRules::parse("  \n ").unwrap();
        assert!(r.is_unrestricted());
        assert!(r.allows(ip("8.8.8.8")));
        assert_eq!(r.summary(), "All IPs");
        assert_eq!(r.to_storage(), "");
    }

    #[test]
    fn single_addresses_cidrs_and_wildcard_are_accepted() {
        let r = IpRules::parse("192.168.1.1, 10.0.0.0/24\n2001:db8::/32 2001:db8::1").unwrap();
        assert_eq!(r.rules().len(), 4);
        assert_eq!(r.summary(), "4 rules");
        assert!(r.allows(ip("192.168.1.1")));
        assert!(!r.allows(ip("192.168.1.2")));
        assert!(r.allows(ip("10.0.0.255")));
        assert!(!r.allows(ip("10.0.1.0")));
        assert!(r.allows(ip("2001:db8:ffff::7")));
        assert!(!r.allows(ip("2001:db9::1")));
        assert_eq!(
            r.to_storage(),
            "192.168.1.1\n10.0.0.0/24\n2001:db8::/32\n2001:db8::1"
        );
        assert_eq!(IpRules::from_storage(&r.to_storage()).unwrap(), r);
    }

    #[test]
    fn wildcard_with_other_rules_means_all() {
        let r = IpRules::parse("10.0.0.1, *").unwrap();
        assert!(r.is_unrestricted());
        assert_eq!(r.summary(), "All IPs");
        assert_eq!(r.to_storage(), "*");
        assert!(r.allows(ip("1.2.3.4")));
    }

    #[test]
    fn duplicates_are_folded_including_equivalent_forms() {
        let r = IpRules::parse("10.0.0.1 10.0.0.1/32, 10.0.0.1\n::ffff:10.0.0.1").unwrap();
        assert_eq!(r.rules().len(), 1);
        assert_eq!(r.summary(), "1 rule");
    }

    #[test]
    fn host_bits_are_refused_with_the_network_form_suggested() {
        let e = IpRules::parse("10.0.0.5/24").unwrap_err();
        assert_eq!(
            e.0,
            "10.0.0.5/24 has host bits set; use the network address 10.0.0.0/24."
        );
        let e = IpRules::parse("2001:db8::1/32").unwrap_err();
        assert!(e.0.contains("2001:db8::/32"), "{}", e.0);
    }

    #[test]
    fn garbage_and_bad_prefixes_are_refused_by_name() {
        for bad in [
            "abc",
            "10.0.0",
            "10.0.0.256",
            "10.0.0.0/33",
            "10.0.0.0/x",
            "::1/129",
            "*/8",
            "1.2.3.4/-1",
        ] {
            let e = IpRules::parse(bad).unwrap_err();
            assert!(e.0.contains(bad), "{bad}: {}", e.0);
        }
    }

    #[test]
    fn at_most_one_hundred_rules() {
        let hundred: Vec<String> = (0..100).map(|i| format!("10.0.{i}.1")).collect();
        assert!(IpRules::parse(&hundred.join(",")).is_ok());
        let more: Vec<String> = (0..101).map(|i| format!("10.0.{i}.1")).collect();
        assert!(IpRules::parse(&more.join(","))
            .unwrap_err()
            .0
            .contains("At most 100"));
    }

    #[test]
    fn ipv4_mapped_clients_match_ipv4_rules() {
        let r = IpRules::parse("10.0.0.0/8").unwrap();
        assert!(r.allows(ip("::ffff:10.1.2.3")));
        assert!(!r.allows(ip("::ffff:11.1.2.3")));
        let mapped_rule = IpRules::parse("::ffff:10.0.0.0/104").unwrap();
        assert_eq!(mapped_rule.to_storage(), "10.0.0.0/8");
        assert!(mapped_rule.allows(ip("10.9.9.9")));
    }

    #[test]
    fn ipv6_clients_do_not_match_ipv4_rules() {
        let r = IpRules::parse("0.0.0.0/0").unwrap();
        assert!(r.allows(ip("1.2.3.4")));
        assert!(!r.allows(ip("2001:db8::1")));
        let v6 = IpRules::parse("::/0").unwrap();
        assert!(v6.allows(ip("2001:db8::1")));
    }
}
