//! Outside-in observations: what internet scanners saw answering on an address — Shadowserver
//! report CSVs, nmap XML with service detection (`nmap -sV -oX`), and Ward's plain observation
//! CSV (`ip,port,hostname,product,version,cpe,seen_at,source`, `docs/exposure.md`).
//!
//! An observation is a fact about an address and port at a time; [`Observation::component`]
//! turns its fingerprint into a component to match, with the evidence in words. Which member
//! it belongs to is [`crate::footprint`]'s job.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use ward_model::{Attr, Component, Cpe};

use crate::{InventoryError, cpe_field, doc_error};

/// At most this many observations in one file: a scan report larger than this is split.
pub const MAX_OBSERVATIONS: usize = 1_000_000;

/// One service seen answering from the internet.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Observation {
    /// The address it answered on (`None` when the report names only a host name).
    pub address: Option<IpAddr>,
    pub port: Option<u16>,
    /// The host name the report gives (lower case, no trailing dot).
    pub hostname: Option<String>,
    /// The autonomous system the report puts the address in.
    pub asn: Option<u32>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    /// Boxed: most observations have none, and a CPE is larger than the rest of the row.
    pub cpe: Option<Box<Cpe>>,
    /// The report's own label (Shadowserver's `tag`, nmap's service name).
    pub tag: Option<String>,
    /// More of what was seen (a page title, a `Server` header, a certificate's subject).
    pub detail: Option<String>,
    pub seen_at: DateTime<Utc>,
    /// Who saw it (`shadowserver`, `nmap`, `ward-probe`, …).
    pub source: String,
    /// Where in the file (`line 12`, `host 203.0.113.10 port 443`).
    pub record: String,
}

/// Observations read from one file, with the problems of rows that were skipped.
#[derive(Debug, Default)]
pub struct ParsedObservations {
    pub format: &'static str,
    pub observations: Vec<Observation>,
    pub warnings: Vec<InventoryError>,
}

impl Observation {
    /// Where it answered, as people write it: `203.0.113.10:443`, `[2001:db8::10]:443`, or the
    /// host name.
    pub fn endpoint(&self) -> String {
        let host = match (self.address, &self.hostname) {
            (Some(IpAddr::V6(a)), _) if self.port.is_some() => format!("[{a}]"),
            (Some(a), _) => a.to_string(),
            (None, Some(h)) => h.clone(),
            (None, None) => "?".into(),
        };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    /// What was seen, in words: "Ivanti Endpoint Manager Mobile 12.5.0.0 answered at
    /// 203.0.113.10:443, observed 2025-05-16 by shadowserver".
    pub fn evidence(&self) -> String {
        let what = [self.product.as_deref(), self.version.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let what = match (&self.vendor, what.is_empty()) {
            (_, true) => self.tag.clone().unwrap_or_else(|| "a service".into()),
            (Some(v), false)
                if !self
                    .product
                    .as_deref()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .starts_with(&v.to_ascii_lowercase()) =>
            {
                format!("{v} {what}")
            }
            _ => what,
        };
        format!(
            "{what} answered at {}, observed {} by {}",
            self.endpoint(),
            self.seen_at.format("%Y-%m-%d %H:%M UTC"),
            self.source
        )
    }

    /// The software it showed, as a component to match: its CPE when the report gives one (the
    /// version filled in from the report when the CPE leaves it open), else vendor, product and
    /// version (matching derives the CPE, with confidence `derived`). `None` when nothing names
    /// the software.
    pub fn component(&self) -> Option<Component> {
        let mut cpe = self.cpe.as_deref().cloned();
        if let (Some(c), Some(v)) = (cpe.as_mut(), self.version.as_deref())
            && c.version == Attr::Any
        {
            c.version = Attr::value(v);
        }
        let name = self.product.clone().or_else(|| {
            cpe.as_ref()
                .and_then(|c| c.product.literal().map(str::to_owned))
        })?;
        Some(Component {
            name,
            vendor: self.vendor.clone(),
            version: self.version.clone().or_else(|| {
                cpe.as_ref()
                    .and_then(|c| c.version.literal().map(str::to_owned))
            }),
            cpe,
            purl: None,
            location: Some(self.endpoint()),
            evidence: Some(self.evidence()),
        })
    }
}

/// Reads observations: nmap XML by its root element, a CSV by its header (Shadowserver's
/// columns, `timestamp` and `ip`; or Ward's, `ip` and `seen_at`). `source` names who saw them
/// when the file does not (Ward's CSV may say per row); `now` stands in for a time the file
/// does not give (nmap without `start`).
pub fn parse_observations(
    name: &str,
    bytes: &[u8],
    source: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ParsedObservations, InventoryError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first == Some(b'<') {
        return nmap(name, bytes, source.unwrap_or("nmap"), now);
    }
    csv_observations(name, bytes, source)
}

fn nmap(
    name: &str,
    bytes: &[u8],
    source: &str,
    now: DateTime<Utc>,
) -> Result<ParsedObservations, InventoryError> {
    let parsed = crate::nmap::parse(name, bytes)?;
    let seen_at = nmap_start(bytes)
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .unwrap_or(now);
    let mut out = ParsedObservations {
        format: "nmap (XML)",
        warnings: parsed.warnings,
        ..ParsedObservations::default()
    };
    for asset in parsed.inventory.assets {
        for c in asset.components {
            // Services are located `address:port/protocol`; an OS guess at the bare address
            // is not something that answered on a port.
            let Some(location) = c.location.as_deref() else {
                continue;
            };
            let Some((host, rest)) = location.rsplit_once(':') else {
                continue;
            };
            let (port, protocol) = rest.split_once('/').unwrap_or((rest, "tcp"));
            let address = host.parse::<IpAddr>().ok();
            let hostname = Some(asset.name.to_ascii_lowercase())
                .filter(|n| address.is_none_or(|a| a.to_string() != *n));
            out.observations.push(Observation {
                address,
                port: port.parse().ok(),
                hostname,
                asn: None,
                vendor: c.vendor,
                product: Some(c.name),
                version: c.version,
                cpe: c.cpe.map(Box::new),
                tag: Some(protocol.to_owned()),
                detail: None,
                seen_at,
                source: source.to_owned(),
                record: format!("host {location}"),
            });
        }
    }
    Ok(out)
}

/// `<nmaprun start="1747364400">`: when the scan began (seconds since the epoch).
fn nmap_start(bytes: &[u8]) -> Option<i64> {
    let head = &bytes[..bytes.len().min(4096)];
    let text = std::str::from_utf8(head).ok()?;
    let at = text.find("<nmaprun")?;
    let rest = &text[at..];
    let rest = &rest[..rest.find('>')?];
    let start = rest.find(" start=\"")? + 8;
    let end = rest[start..].find('"')?;
    rest[start..start + end].parse().ok()
}

/// Shadowserver's and Ward's columns that Ward reads (the rest of a report is ignored).
struct Columns {
    at: usize,
    ip: Option<usize>,
    port: Option<usize>,
    hostname: Option<usize>,
    asn: Option<usize>,
    tag: Option<usize>,
    vendor: Option<usize>,
    product: Option<usize>,
    version: Option<usize>,
    cpe: Option<usize>,
    source: Option<usize>,
    detail: Vec<usize>,
}

fn csv_observations(
    name: &str,
    bytes: &[u8],
    source: Option<&str>,
) -> Result<ParsedObservations, InventoryError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes);
    let (headers, col) = crate::csv_columns(name, &mut reader)?;
    let get = |names: &[&str]| names.iter().find_map(|n| col.get(*n).copied());
    // Shadowserver: `timestamp`, `ip`, and device or HTTP fields; Ward: `seen_at`.
    let shadowserver = col.contains_key("timestamp");
    let (format, default_source, at) = match (get(&["timestamp"]), get(&["seen_at"])) {
        (Some(at), _) => ("Shadowserver CSV", "shadowserver", at),
        (None, Some(at)) => ("Ward observation CSV", "observation", at),
        (None, None) => {
            return Err(InventoryError {
                file: name.into(),
                record: "line 1".into(),
                field: "header".into(),
                message: format!(
                    "not an observation report: the header `{}` has neither Shadowserver's `timestamp` nor Ward's `seen_at` (Ward's columns: ip,port,hostname,product,version,cpe,seen_at,source)",
                    headers.iter().collect::<Vec<_>>().join(",")
                ),
            });
        }
    };
    let cols = Columns {
        at,
        ip: get(&["ip", "src_ip"]),
        port: get(&["port", "src_port"]),
        hostname: get(&["hostname", "host"]),
        asn: get(&["asn"]),
        tag: get(&["tag"]),
        vendor: get(&["device_vendor", "vendor"]),
        product: if shadowserver {
            get(&["device_model", "product", "device_type"])
        } else {
            get(&["product"])
        },
        version: get(&["device_version", "version"]),
        cpe: get(&["cpe"]),
        source: get(&["source"]),
        detail: [
            "http_title",
            "title",
            "server",
            "detail",
            "ssl_subject",
            "subject_common_name",
        ]
        .iter()
        .filter_map(|n| col.get(*n).copied())
        .collect(),
    };
    if cols.ip.is_none() && cols.hostname.is_none() {
        return Err(InventoryError {
            file: name.into(),
            record: "line 1".into(),
            field: "header".into(),
            message: "an observation needs an address: the header has neither `ip` nor `hostname`"
                .into(),
        });
    }
    let mut out = ParsedObservations {
        format,
        ..ParsedObservations::default()
    };
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let record = format!("line {line}");
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                out.warnings.push(InventoryError {
                    file: name.into(),
                    record,
                    field: String::new(),
                    message: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        if out.observations.len() == MAX_OBSERVATIONS {
            return Err(doc_error(
                name,
                format!("more than {MAX_OBSERVATIONS} observations in one file; split it"),
            ));
        }
        let field = |c: Option<usize>| {
            c.and_then(|c| row.get(c))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let warn = |field: &str, message: String| InventoryError {
            file: name.into(),
            record: format!("line {line}"),
            field: field.into(),
            message,
        };
        let address = match field(cols.ip).map(str::parse::<IpAddr>) {
            None => None,
            Some(Ok(a)) => Some(a),
            Some(Err(_)) => {
                let v = field(cols.ip).unwrap_or_default();
                out.warnings.push(warn(
                    "ip",
                    format!("`{v}` is not an IPv4 or IPv6 address; row skipped"),
                ));
                continue;
            }
        };
        let hostname = field(cols.hostname).map(|h| h.trim_end_matches('.').to_ascii_lowercase());
        if address.is_none() && hostname.is_none() {
            out.warnings.push(warn(
                "ip",
                "neither an address nor a host name; row skipped".into(),
            ));
            continue;
        }
        let port = match field(cols.port).map(str::parse::<u16>) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => {
                let v = field(cols.port).unwrap_or_default();
                out.warnings.push(warn(
                    "port",
                    format!("`{v}` is not a port number; row skipped"),
                ));
                continue;
            }
        };
        let raw_at = field(Some(cols.at)).unwrap_or_default();
        let Some(seen_at) = parse_time(raw_at) else {
            let header = headers.get(cols.at).unwrap_or("seen_at").to_owned();
            out.warnings.push(warn(
                &header,
                format!("`{raw_at}` is not a time (RFC 3339, `YYYY-MM-DD HH:MM:SS` UTC, or a date); row skipped"),
            ));
            continue;
        };
        let asn = field(cols.asn).and_then(|a| {
            a.trim_start_matches("AS")
                .trim_start_matches("as")
                .parse()
                .ok()
        });
        let cpe = cpe_field(field(cols.cpe), name, &record, "cpe", &mut out.warnings);
        let detail = cols
            .detail
            .iter()
            .filter_map(|c| field(Some(*c)))
            .collect::<Vec<_>>();
        out.observations.push(Observation {
            address,
            port,
            hostname,
            asn,
            vendor: field(cols.vendor).map(str::to_owned),
            product: field(cols.product).map(str::to_owned),
            version: field(cols.version).map(str::to_owned),
            cpe: cpe.map(Box::new),
            tag: field(cols.tag).map(str::to_owned),
            detail: (!detail.is_empty()).then(|| detail.join("; ")),
            seen_at,
            source: field(cols.source)
                .or(source)
                .unwrap_or(default_source)
                .to_owned(),
            record,
        });
    }
    Ok(out)
}

/// A report's time: RFC 3339, Shadowserver's `2025-05-16 03:12:44` (UTC), or a date.
fn parse_time(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%SZ",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn shadowserver_device_columns_become_a_component_with_evidence() {
        let csv = "\"timestamp\",\"ip\",\"port\",\"hostname\",\"tag\",\"asn\",\"geo\",\"device_vendor\",\"device_type\",\"device_model\",\"device_version\"\n\
            \"2025-05-16 03:12:44\",\"203.0.113.10\",443,\"mdm.trust-a.example\",\"ivanti-epmm\",64500,\"GB\",\"Ivanti\",\"mdm\",\"Endpoint Manager Mobile\",\"12.5.0.0\"\n\
            \"2025-05-16 03:13:00\",\"2001:db8:a::10\",8443,,\"http\",\"AS64500\",\"GB\",,,,\n";
        let p = parse_observations("scan_http.csv", csv.as_bytes(), None, now()).unwrap();
        assert_eq!(p.format, "Shadowserver CSV");
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let [a, b] = &p.observations[..] else {
            panic!("{:?}", p.observations)
        };
        assert_eq!(a.address, Some("203.0.113.10".parse().unwrap()));
        assert_eq!((a.port, a.asn), (Some(443), Some(64500)));
        assert_eq!(a.hostname.as_deref(), Some("mdm.trust-a.example"));
        assert_eq!(a.source, "shadowserver");
        let c = a.component().unwrap();
        assert_eq!(
            (c.name.as_str(), c.vendor.as_deref(), c.version.as_deref()),
            ("Endpoint Manager Mobile", Some("Ivanti"), Some("12.5.0.0"))
        );
        assert_eq!(
            c.evidence.as_deref(),
            Some(
                "Ivanti Endpoint Manager Mobile 12.5.0.0 answered at 203.0.113.10:443, observed 2025-05-16 03:12 UTC by shadowserver"
            )
        );
        assert_eq!(b.endpoint(), "[2001:db8:a::10]:8443");
        assert_eq!(b.asn, Some(64500));
        assert!(b.component().is_none(), "nothing names the software");
    }

    #[test]
    fn wards_csv_fills_an_open_cpe_version_and_names_bad_fields() {
        let csv = "ip,port,hostname,product,version,cpe,seen_at,source\n\
            198.51.100.7,443,,EPMM,12.5.0.0,cpe:2.3:a:ivanti:endpoint_manager_mobile:*:*:*:*:*:*:*:*,2025-05-16T10:00:00Z,\n\
            198.51.100.300,443,,x,1,,2025-05-16,\n\
            198.51.100.8,70000,,x,1,,2025-05-16,\n\
            198.51.100.9,22,,OpenSSH,9.6p1,,yesterday,\n";
        let p =
            parse_observations("seen.csv", csv.as_bytes(), Some("partner-scan"), now()).unwrap();
        assert_eq!(p.observations.len(), 1);
        let c = p.observations[0].component().unwrap();
        assert_eq!(
            c.cpe.unwrap().to_string(),
            "cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*"
        );
        assert_eq!(p.observations[0].source, "partner-scan");
        let w: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("line 3: field `ip`"), "{w:?}");
        assert!(w[1].contains("line 4: field `port`"), "{w:?}");
        assert!(w[2].contains("line 5: field `seen_at`"), "{w:?}");
    }

    #[test]
    fn nmap_services_are_observations_at_the_scans_start() {
        let xml = r#"<?xml version="1.0"?><nmaprun scanner="nmap" start="1747364400">
            <host><status state="up"/><address addr="203.0.113.10" addrtype="ipv4"/>
            <hostnames><hostname name="MDM.trust-a.example"/></hostnames>
            <ports><port protocol="tcp" portid="443"><state state="open"/>
            <service name="https" product="Ivanti EPMM" version="12.5.0.0"><cpe>cpe:/a:ivanti:endpoint_manager_mobile:12.5.0.0</cpe></service></port>
            <port protocol="tcp" portid="25"><state state="closed"/><service name="smtp"/></port></ports></host>
            </nmaprun>"#;
        let p = parse_observations("scan.xml", xml.as_bytes(), None, now()).unwrap();
        let [o] = &p.observations[..] else {
            panic!("{:?}", p.observations)
        };
        assert_eq!(o.endpoint(), "203.0.113.10:443");
        assert_eq!(o.hostname.as_deref(), Some("mdm.trust-a.example"));
        assert_eq!(o.seen_at, Utc.timestamp_opt(1_747_364_400, 0).unwrap());
        assert_eq!(o.source, "nmap");
        assert_eq!(
            o.component().unwrap().cpe.unwrap().product.literal(),
            Some("endpoint_manager_mobile")
        );
    }

    #[test]
    fn other_documents_are_refused_by_name() {
        let e = parse_observations("x.csv", b"asset,product\na,b\n", None, now()).unwrap_err();
        assert!(
            e.to_string().contains("x.csv: line 1: field `header`"),
            "{e}"
        );
        let e = parse_observations("x.xml", b"<bom/>", None, now()).unwrap_err();
        assert!(e.to_string().contains("<nmaprun>"), "{e}");
    }
}
