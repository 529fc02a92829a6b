//! Members' declared footprints — IP ranges, AS numbers, domain names — and attributing an
//! observation to the member whose footprint holds it: the longest matching prefix first, then
//! the longest matching domain, then the AS number.
//!
//! CIDR blocks never overlap partly: two are disjoint or one holds the other. The same block,
//! AS number or domain claimed twice is a conflict ([`Claim::conflicts_with`]); a block inside
//! another member's (a sub-range delegated to it) is allowed, and the longer prefix wins.

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use prefix_trie::joint::map::JointPrefixMap;

/// One entry of a footprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Claim {
    /// An IPv4 or IPv6 block (a single address is a /32 or /128).
    Range(IpNet),
    /// An autonomous system number.
    Asn(u32),
    /// A domain name and every name under it (lower case, no trailing dot).
    Domain(String),
}

impl Claim {
    /// `range`, `asn` or `domain`: the kind as stored and sent.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Range(_) => "range",
            Self::Asn(_) => "asn",
            Self::Domain(_) => "domain",
        }
    }

    /// Whether two claims cannot both stand: the same block, AS number or domain.
    pub fn conflicts_with(&self, other: &Self) -> bool {
        self == other
    }

    /// Whether an address lies inside this claim (ranges only).
    pub fn holds(&self, address: IpAddr) -> bool {
        matches!(self, Self::Range(net) if net.contains(&address))
    }
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Range(n) => write!(f, "{n}"),
            Self::Asn(a) => write!(f, "AS{a}"),
            Self::Domain(d) => f.write_str(d),
        }
    }
}

impl FromStr for Claim {
    type Err = String;

    /// `203.0.113.0/24`, `2001:db8:a::/48`, `198.51.100.7` (one address), `AS64500`,
    /// `trust-a.example`. A block with host bits set is refused, naming the block it may mean.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("an empty footprint entry".into());
        }
        if let Ok(a) = s.parse::<IpAddr>() {
            return Ok(Self::Range(IpNet::from(a)));
        }
        if s.contains('/') {
            let net: IpNet = s
                .parse()
                .map_err(|_| format!("`{s}` is not an IPv4 or IPv6 block (CIDR)"))?;
            if net.trunc() != net {
                return Err(format!(
                    "`{s}` has host bits set; the block is {}",
                    net.trunc()
                ));
            }
            return Ok(Self::Range(net));
        }
        if let Some(n) = s
            .strip_prefix("AS")
            .or_else(|| s.strip_prefix("as"))
            .or_else(|| s.strip_prefix("As"))
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
        {
            let asn: u32 = n
                .parse()
                .map_err(|_| format!("`{s}` is not an AS number (0 to 4294967295)"))?;
            return Ok(Self::Asn(asn));
        }
        let domain = s.trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        // A top-level label is never all digits (RFC 3696, 2): `198.51.0.100.` is an address
        // written with a trailing dot, or a mistake — not a domain.
        let numeric_top = domain
            .rsplit('.')
            .next()
            .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()));
        if domain.len() > 253
            || !domain.contains('.')
            || numeric_top
            || !domain.split('.').all(label_ok)
        {
            return Err(format!(
                "`{s}` is neither an IP block (203.0.113.0/24), an AS number (AS64500) nor a domain name (trust.example)"
            ));
        }
        Ok(Self::Domain(domain))
    }
}

/// How an observation was attributed: which claim held it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribution<'a, K> {
    pub owner: &'a K,
    pub by: &'a Claim,
}

/// Every member's claims, indexed for attribution: a prefix trie per address family, domains
/// and AS numbers in hash maps.
pub struct Attributor<K> {
    ranges: JointPrefixMap<IpNet, (K, Claim)>,
    domains: HashMap<String, (K, Claim)>,
    asns: HashMap<u32, (K, Claim)>,
}

impl<K> Default for Attributor<K> {
    fn default() -> Self {
        Self {
            ranges: JointPrefixMap::new(),
            domains: HashMap::new(),
            asns: HashMap::new(),
        }
    }
}

impl<K> Attributor<K> {
    /// Indexes the claims; a claim made twice keeps its first owner (the store refuses
    /// conflicts before they get here).
    pub fn new(claims: impl IntoIterator<Item = (K, Claim)>) -> Self {
        let mut a = Self::default();
        for (owner, claim) in claims {
            match &claim {
                Claim::Range(net) => {
                    if !a.ranges.contains_key(net) {
                        a.ranges.insert(*net, (owner, claim));
                    }
                }
                Claim::Asn(n) => {
                    a.asns.entry(*n).or_insert((owner, claim));
                }
                Claim::Domain(d) => {
                    a.domains.entry(d.clone()).or_insert((owner, claim));
                }
            }
        }
        a
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.domains.is_empty() && self.asns.is_empty()
    }

    /// Whose footprint holds what was seen: the longest prefix holding the address, else the
    /// longest domain holding the host name, else the AS number.
    pub fn attribute(
        &self,
        address: Option<IpAddr>,
        hostname: Option<&str>,
        asn: Option<u32>,
    ) -> Option<Attribution<'_, K>> {
        let found = address
            .and_then(|a| self.ranges.get_lpm(&IpNet::from(a)).map(|(_, v)| v))
            .or_else(|| hostname.and_then(|h| self.domain(h)))
            .or_else(|| asn.and_then(|n| self.asns.get(&n)));
        found.map(|(owner, by)| Attribution { owner, by })
    }

    /// The longest claimed domain that is `name` or a parent of it.
    fn domain(&self, name: &str) -> Option<&(K, Claim)> {
        if self.domains.is_empty() {
            return None;
        }
        let name = name.trim_end_matches('.');
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        let mut rest = name;
        loop {
            if let Some(hit) = self.domains.get(rest) {
                return Some(hit);
            }
            rest = rest.split_once('.')?.1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(s: &str) -> Claim {
        s.parse().unwrap()
    }

    #[test]
    fn claims_are_read_canonically_and_bad_ones_say_why() {
        assert_eq!(claim("203.0.113.0/24").to_string(), "203.0.113.0/24");
        assert_eq!(claim("198.51.100.7").to_string(), "198.51.100.7/32");
        assert_eq!(claim("2001:DB8:A::/48").to_string(), "2001:db8:a::/48");
        assert_eq!(claim("as64500"), Claim::Asn(64500));
        assert_eq!(
            claim("Trust-A.Example."),
            Claim::Domain("trust-a.example".into())
        );
        let e = "203.0.113.7/24".parse::<Claim>().unwrap_err();
        assert!(e.contains("203.0.113.0/24"), "{e}");
        for bad in [
            "",
            "10.0.0.0/33",
            "AS99999999999",
            "localhost",
            "a..b",
            "-x.example",
        ] {
            assert!(bad.parse::<Claim>().is_err(), "{bad}");
        }
        assert!(claim("10.0.0.0/8").conflicts_with(&claim("10.0.0.0/8")));
        assert!(!claim("10.0.0.0/8").conflicts_with(&claim("10.1.0.0/16")));
    }

    #[test]
    fn the_longest_prefix_then_domain_then_asn_wins() {
        let a = Attributor::new([
            ("hscn", claim("10.0.0.0/8")),
            ("trust-a", claim("10.1.0.0/16")),
            ("trust-a", claim("2001:db8:a::/48")),
            ("trust-b", claim("2001:db8:a:b::/64")),
            ("trust-b", claim("trust-b.example")),
            ("trust-c", claim("mdm.trust-b.example")),
            ("trust-c", claim("AS64500")),
        ]);
        let who = |ip: Option<&str>, host: Option<&str>, asn: Option<u32>| {
            a.attribute(ip.map(|i| i.parse().unwrap()), host, asn)
                .map(|x| (*x.owner, x.by.to_string()))
        };
        assert_eq!(
            who(Some("10.1.2.3"), None, None),
            Some(("trust-a", "10.1.0.0/16".into()))
        );
        assert_eq!(
            who(Some("10.2.2.3"), None, None),
            Some(("hscn", "10.0.0.0/8".into()))
        );
        assert_eq!(
            who(Some("2001:db8:a:b::1"), None, None).unwrap().0,
            "trust-b"
        );
        assert_eq!(
            who(Some("2001:db8:a:c::1"), None, None).unwrap().0,
            "trust-a"
        );
        assert_eq!(who(Some("192.0.2.1"), None, None), None);
        // The address decides before the name; the longest domain wins; the AS is the last resort.
        assert_eq!(
            who(Some("10.1.0.1"), Some("mdm.trust-b.example"), None)
                .unwrap()
                .0,
            "trust-a"
        );
        assert_eq!(
            who(None, Some("MDM.Trust-B.example."), None).unwrap().0,
            "trust-c"
        );
        assert_eq!(
            who(None, Some("www.trust-b.example"), None).unwrap().0,
            "trust-b"
        );
        assert_eq!(who(None, Some("trust-b.example.evil"), None), None);
        assert_eq!(
            who(Some("192.0.2.1"), None, Some(64500)).unwrap().1,
            "AS64500"
        );
    }
}
