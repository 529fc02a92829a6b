//! Outbound requests are a privilege: where Ward may connect when it delivers a notification.
//!
//! A member admin names a channel's target, so a target is hostile until checked. Every
//! destination address is checked when Ward connects (after DNS, so a name that later resolves
//! elsewhere — DNS rebinding — is checked again): loopback, private, link-local (with the cloud
//! metadata address 169.254.169.254), shared (CGNAT), unique-local, multicast, unspecified,
//! broadcast, documentation and other reserved ranges are refused, in their IPv4-mapped,
//! IPv4-compatible, NAT64 and 6to4 forms too, unless the central admin allowed a range that holds
//! the address (`ward serve --allow-targets CIDR,…`). Plain-HTTP webhooks may reach only allowed
//! ranges; redirects are never followed; proxies from the environment are not used.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

/// The ranges the central admin allowed beyond the public internet.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    allowed: Vec<IpNet>,
}

/// Why a destination was refused; its text names the address and the class of range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl Targets {
    /// `list`: comma-separated CIDRs or single addresses (`10.20.0.0/16,127.0.0.1`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(format!(
                            "--allow-targets: {item:?} is neither a CIDR (10.0.0.0/8) nor an address"
                        ));
                    }
                },
            };
            allowed.push(net);
        }
        Ok(Self { allowed })
    }

    /// Whether the central admin allowed a range holding `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let embedded = canonical(ip);
        self.allowed
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&embedded))
    }

    /// Whether Ward may connect to `ip`: a public address, or one in an allowed range.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        if self.allows(ip) {
            return Ok(());
        }
        match internal_class(ip) {
            None => Ok(()),
            Some(class) => Err(Refused(format!(
                "destination {ip} is {class}, which Ward does not connect to unless the central admin allows it (ward serve --allow-targets)"
            ))),
        }
    }

    /// Resolves `host` now and checks every address it names; all must pass (a name that
    /// resolves to a public and an internal address is refused).
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(format!("{host} resolves to no address"));
        }
        for a in &addrs {
            self.check(a.ip()).map_err(|r| r.0)?;
        }
        Ok(addrs)
    }

    /// A resolver for reqwest that refuses names resolving to addresses this policy refuses.
    /// `allowed_only`: only addresses in an allowed range pass (for plain HTTP).
    pub(crate) fn resolver(&self, allowed_only: bool) -> Arc<CheckedResolver> {
        Arc::new(CheckedResolver {
            targets: self.clone(),
            allowed_only,
        })
    }

    /// A channel's target, checked when the channel is made: its form, and its host when that
    /// is an address literal (a name is checked whenever Ward connects).
    pub fn check_target(&self, kind: ward_model::ChannelKind, target: &str) -> Result<(), String> {
        use ward_model::ChannelKind;
        match kind {
            ChannelKind::Webhook => {
                let url = url::Url::parse(target).map_err(|e| format!("{target:?}: {e}"))?;
                let host = url
                    .host()
                    .ok_or_else(|| format!("{target:?} names no host"))?;
                self.check_literal(&host).map_err(|r| r.0)?;
                if url.scheme() == "http" {
                    // A name is checked on every connection and must resolve to allowed
                    // ranges, so without any it never could.
                    let allowed =
                        literal_ip(&host).map_or(!self.allowed.is_empty(), |ip| self.allows(ip));
                    if !allowed {
                        return Err(format!(
                            "{target:?}: webhooks use https unless the destination is in --allow-targets"
                        ));
                    }
                }
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(format!(
                        "{target:?}: credentials do not belong in the URL (the signature authenticates Ward)"
                    ));
                }
                Ok(())
            }
            ChannelKind::Syslog => {
                let (_, host, _) = syslog_target(target)?;
                match host.parse::<IpAddr>() {
                    Ok(ip) => self.check(ip).map_err(|r| r.0),
                    Err(_) => Ok(()),
                }
            }
            ChannelKind::Email => Ok(()),
        }
    }

    /// The check for a target whose host is an address literal, at channel creation (names
    /// are checked when Ward connects).
    pub fn check_literal(&self, host: &url::Host<&str>) -> Result<(), Refused> {
        literal_ip(host).map_or(Ok(()), |ip| self.check(ip))
    }
}

/// The address a URL's host is, when it is an address literal.
pub fn literal_ip(host: &url::Host<&str>) -> Option<IpAddr> {
    match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        url::Host::Domain(_) => None,
    }
}

/// A syslog target `udp://host:port` or `tcp://host:port`: scheme, host (without brackets)
/// and port.
pub fn syslog_target(target: &str) -> Result<(&str, &str, u16), String> {
    let (scheme, rest) = target
        .split_once("://")
        .filter(|(s, _)| matches!(*s, "udp" | "tcp"))
        .ok_or_else(|| format!("syslog target {target:?} is not udp:// or tcp://"))?;
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("syslog target {target:?} names no host:port"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("{target:?}: port {port:?} is not a number up to 65535"))?;
    Ok((
        scheme,
        host.trim_start_matches('[').trim_end_matches(']'),
        port,
    ))
}

/// The address an IPv6 form of an IPv4 address stands for (mapped `::ffff:a.b.c.d`, compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`), else the address itself.
fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        return IpAddr::V4(embedded(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return IpAddr::V4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return IpAddr::V4(embedded(s[1], s[2]));
    }
    ip
}

/// The class of internal or reserved range `ip` is in, or `None` for a public address.
pub fn internal_class(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip.is_unspecified() || a == 0 => "unspecified (0.0.0.0/8)",
        _ if ip.is_loopback() => "loopback (127.0.0.0/8)",
        _ if ip.is_private() => "private (RFC 1918)",
        _ if ip.is_link_local() => "link-local (169.254.0.0/16, cloud metadata)",
        _ if a == 100 && (64..128).contains(&b) => "shared address space (100.64.0.0/10)",
        _ if ip.is_broadcast() => "broadcast",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_documentation() => "documentation (RFC 5737)",
        _ if a == 192 && b == 0 && c == 0 => "IETF protocol assignments (192.0.0.0/24)",
        _ if a == 198 && (b == 18 || b == 19) => "benchmarking (198.18.0.0/15)",
        _ if a >= 240 => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match () {
        _ if ip.is_unspecified() => "unspecified (::)",
        _ if ip.is_loopback() => "loopback (::1)",
        _ if ip.is_multicast() => "multicast (ff00::/8)",
        _ if s[0] & 0xfe00 == 0xfc00 => "unique-local (fc00::/7)",
        _ if s[0] & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        _ if s[0] & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        _ if s[0] == 0x2001 && s[1] == 0x0db8 => "documentation (2001:db8::/32)",
        _ if s[0] == 0x0100 && s[1..4] == [0, 0, 0] => "discard-only (100::/64)",
        _ if s[0] == 0x2001 && s[1] < 0x0200 => "IETF protocol assignments (2001::/23)",
        _ => return None,
    })
}

/// reqwest's resolver for deliveries: the system's resolution, then the policy's check of
/// every address. The check runs at connection time, after every resolution.
pub(crate) struct CheckedResolver {
    targets: Targets,
    allowed_only: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let targets = self.targets.clone();
        let allowed_only = self.allowed_only;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = targets.resolve(&host, 0).await.map_err(Refused)?;
            if allowed_only && let Some(a) = addrs.iter().find(|a| !targets.allows(a.ip())) {
                return Err(Box::new(Refused(format!(
                    "plain http to {host} ({}) is refused: webhooks use https unless the destination is in --allow-targets",
                    a.ip()
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `error` (or one of its causes) is a refusal by this policy.
pub fn is_refusal(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<Refused>() {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(t: &Targets, ip: &str) -> bool {
        t.check(ip.parse().unwrap()).is_err()
    }

    #[test]
    fn internal_addresses_in_every_spelling_are_refused() {
        let t = Targets::default();
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "10.0.0.5",
            "172.16.3.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(refused(&t, ip), "{ip} should be refused");
        }
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!refused(&t, ip), "{ip} is public");
        }
    }

    #[test]
    fn allowed_ranges_let_internal_addresses_through() {
        let t = Targets::parse("127.0.0.0/8, 10.20.0.0/16,fd12::1").unwrap();
        assert!(!refused(&t, "127.0.0.1"));
        assert!(!refused(&t, "::ffff:127.0.0.1"));
        assert!(!refused(&t, "10.20.3.4"));
        assert!(!refused(&t, "fd12::1"));
        assert!(refused(&t, "10.21.0.1"));
        assert!(refused(&t, "169.254.169.254"));
        let e = Targets::parse("10.0.0.0/8,localhost").unwrap_err();
        assert!(e.contains("\"localhost\""), "{e}");
    }

    #[test]
    fn odd_ipv4_spellings_are_read_as_the_address_they_name() {
        // The URL parser reads hexadecimal, octal and short forms (WHATWG), so the literal
        // check sees the address a connection would reach.
        let t = Targets::default();
        for url in [
            "http://0x7f000001:8080/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::ffff:7f00:1]/",
        ] {
            let parsed = url::Url::parse(url).unwrap();
            assert!(
                t.check_literal(&parsed.host().unwrap()).is_err(),
                "{url} should be refused"
            );
        }
    }

    #[tokio::test]
    async fn names_are_checked_after_resolution() {
        let t = Targets::default();
        let e = t.resolve("localhost", 80).await.unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        let allowed = Targets::parse("127.0.0.0/8,::1").unwrap();
        assert!(allowed.resolve("localhost", 80).await.is_ok());
    }
}
