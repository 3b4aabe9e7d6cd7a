//! A key's allowed client addresses: single addresses, CIDR ranges, or `*`.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnetwork::IpNetwork;

use super::Invalid;

/// At most this many rules per key.
pub const MAX_RULES: usize = 100;
/// At most this many bytes of input: 100 of the longest rules with room for separators. Input
/// is measured before anything is parsed, so no size of field can stall a worker.
pub const MAX_INPUT_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// Parses the Allowed IPs field: rules separated by commas, spaces or newlines. More
    /// than [`MAX_RULES`] rules or [`MAX_INPUT_BYTES`] bytes are refused before any is parsed;
    /// duplicates (equivalent forms included) are folded, keeping the first one's place.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let tokens = || {
            input
                .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|t| !t.is_empty())
        };
        let given = tokens().count();
        if given > MAX_RULES {
            return Err(Invalid::new(format!(
                "At most {MAX_RULES} IP rules are allowed; {given} were given."
            )));
        }
        if input.len() > MAX_INPUT_BYTES {
            return Err(Invalid::new(format!(
                "The IP rules are too long: at most {} KiB are allowed; {} bytes were given.",
                MAX_INPUT_BYTES / 1024,
                input.len()
            )));
        }
        let mut rules = tokens().map(IpRule::parse).collect::<Result<Vec<_>, _>>()?;
        let mut seen = HashSet::with_capacity(rules.len());
        rules.retain(|r| seen.insert(*r));
        // `*` beside other rules means all addresses: keep it alone.
        if seen.contains(&IpRule::Any) {
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

    /// Whether a client may use the key, its address known or not (`None`: a trusted proxy
    /// named no client). An unknown client matches no rule: only unrestricted keys allow it.
    pub fn allows_client(&self, client: Option<IpAddr>) -> bool {
        match client {
            Some(ip) => self.allows(ip),
            None => self.is_unrestricted(),
        }
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
    use proptest::prelude::*;

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
    fn sixty_thousand_rules_are_refused_quickly_before_parsing() {
        let many: Vec<String> = (0..60_000u32)
            .map(|i| std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string())
            .collect();
        let started = std::time::Instant::now();
        let e = IpRules::parse(&many.join(", ")).unwrap_err();
        assert_eq!(e.0, "At most 100 IP rules are allowed; 60000 were given.");
        // Refused before parsing: counting 60,000 tokens takes a few milliseconds; parsing
        // with the old nested-loop dedup took over a second.
        assert!(
            started.elapsed() < std::time::Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn input_over_the_byte_limit_is_refused_with_its_size() {
        // One rule, but 9 KiB of padding around it.
        let padded = format!("{}10.0.0.1{}", " ".repeat(4608), "\n".repeat(4608));
        let e = IpRules::parse(&padded).unwrap_err();
        assert_eq!(
            e.0,
            "The IP rules are too long: at most 8 KiB are allowed; 9224 bytes were given."
        );
        // A single giant token is refused by size too, not echoed back whole.
        let e = IpRules::parse(&"1".repeat(100_000)).unwrap_err();
        assert!(e.0.starts_with("The IP rules are too long"), "{}", e.0);
        // A hundred of the longest rules fit.
        let longest = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120";
        let hundred: Vec<String> = (0..100)
            .map(|i| longest.replace("ffff:ff00", &format!("{i:04x}:ff00")))
            .collect();
        assert_eq!(
            IpRules::parse(&hundred.join(",\n")).unwrap().rules().len(),
            100
        );
    }

    #[test]
    fn duplicates_fold_in_first_seen_order() {
        let r = IpRules::parse("10.0.0.2 10.0.0.1, 10.0.0.2/32 ::ffff:10.0.0.1 10.0.0.3").unwrap();
        assert_eq!(r.to_storage(), "10.0.0.2\n10.0.0.1\n10.0.0.3");
        // A hundred copies of one rule are a hundred rules given, folded into one.
        let same = vec!["192.168.0.0/16"; 100].join(" ");
        assert_eq!(IpRules::parse(&same).unwrap().summary(), "1 rule");
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

    /// A rule as someone could type it: `*`, an address, or a range in network form.
    fn typed_rule() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => Just("*".to_owned()),
            4 => any::<u32>().prop_map(|a| std::net::Ipv4Addr::from(a).to_string()),
            4 => (any::<u32>(), 0u8..=32).prop_map(|(a, len)| {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                format!("{}/{len}", std::net::Ipv4Addr::from(a & mask))
            }),
            4 => any::<u128>().prop_map(|a| std::net::Ipv6Addr::from(a).to_string()),
            4 => (any::<u128>(), 0u8..=128).prop_map(|(a, len)| {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                format!("{}/{len}", std::net::Ipv6Addr::from(a & mask))
            }),
            // IPv4-mapped forms, which fold into their IPv4 rule.
            2 => (any::<u32>(), 96u8..=128).prop_map(|(a, len)| {
                let mask = u32::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                let v4 = std::net::Ipv4Addr::from(a & mask);
                format!("{}/{len}", v4.to_ipv6_mapped())
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_string_makes_the_parser_panic(s in any::<String>()) {
            let _ = IpRules::parse(&s);
        }

        #[test]
        fn no_address_like_string_makes_the_parser_panic(s in "[0-9a-fA-F:./*, \n-]{0,80}") {
            let _ = IpRules::parse(&s);
        }

        #[test]
        fn rules_survive_storage_and_allow_what_was_typed(
            typed in proptest::collection::vec(typed_rule(), 0..=MAX_RULES),
            separators in proptest::collection::vec(
                prop_oneof![Just(","), Just(", "), Just(" "), Just("\n"), Just(";"), Just("\t")],
                MAX_RULES,
            ),
        ) {
            let mut input = String::new();
            for (rule, sep) in typed.iter().zip(&separators) {
                input.push_str(rule);
                input.push_str(sep);
            }
            let rules = IpRules::parse(&input).unwrap();
            prop_assert!(rules.rules().len() <= typed.len());
            let stored = rules.to_storage();
            prop_assert_eq!(IpRules::from_storage(&stored).unwrap(), rules.clone());
            let distinct: HashSet<IpRule> = rules.rules().iter().copied().collect();
            prop_assert_eq!(distinct.len(), rules.rules().len(), "no duplicates left");
            for t in &typed {
                let ip: IpAddr = t.split('/').next().unwrap_or(t).parse().unwrap_or(ip("1.2.3.4"));
                prop_assert!(rules.allows(ip), "{} is allowed by {}", t, stored);
            }
        }
    }
}
