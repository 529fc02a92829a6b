//! `ward probe`: the central team fingerprints what one member exposes, only inside the
//! member's approved ranges and only when the member's admin has authorised it. The server
//! decides both (`POST /api/v1/probes` answers with the ranges, audited before the first
//! packet); every address is checked against them again right before its connection.
//!
//! What is sent: TCP connections at a bounded rate, and on ports that answer, HTTP(S) GETs of
//! `/`, `/favicon.ico` and the fingerprints' paths — never a redirect followed, never a body,
//! never a proxy. What is kept: the page title, the `Server` header, the favicon hash, the TLS
//! certificate's SHA-256, and the product and version a fingerprint recognised; these go back
//! to the server as observations (Ward's CSV) and are attributed, matched and alerted there.

pub(crate) mod fingerprint;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use ipnet::IpNet;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use fingerprint::{Fingerprint, Response};

/// Most bytes of a response body read.
const MAX_BODY: usize = 1 << 20;
/// Most addresses one probe enumerates (the server refuses larger plans too).
const MAX_ADDRESSES: usize = 1 << 16;

#[derive(Args)]
pub(crate) struct ProbeArgs {
    /// The Ward server (`https://ward.example`).
    #[arg(long)]
    pub(crate) server: String,
    /// A central analyst's or admin's API token.
    #[arg(long, env = "WARD_TOKEN", hide_env_values = true)]
    pub(crate) token: String,
    /// The member to probe (its slug).
    #[arg(long)]
    pub(crate) organisation: String,
    /// TCP ports to try on each address.
    #[arg(long, value_delimiter = ',', default_values_t = [443u16, 8443, 80])]
    pub(crate) ports: Vec<u16>,
    /// Only these addresses or blocks; each must lie inside the member's approved ranges
    /// (one that does not is reported and not probed). Default: all of them.
    #[arg(long, value_delimiter = ',')]
    pub(crate) targets: Vec<String>,
    /// More fingerprint templates (YAML files, or folders of them) beside Ward's own.
    #[arg(long)]
    pub(crate) fingerprints: Vec<PathBuf>,
    /// New connections and requests per second, at most.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) rate: f64,
    /// Seconds to wait for a connection or a response.
    #[arg(long, default_value_t = 5.0)]
    pub(crate) timeout: f64,
    /// Also write the observations (Ward's observation CSV) to this file.
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
    /// Keep the observations here (with --output): send only the plan request to the server.
    #[arg(long)]
    pub(crate) no_report: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: ProbeFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ProbeFormat {
    Table,
    Json,
}

#[derive(Deserialize)]
struct Plan {
    ranges: Vec<String>,
    ports: Vec<u16>,
}

/// One service that answered.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Seen {
    address: IpAddr,
    port: u16,
    scheme: Option<&'static str>,
    vendor: Option<String>,
    product: Option<String>,
    version: Option<String>,
    cpe: Option<String>,
    fingerprint: Option<String>,
    title: Option<String>,
    server: Option<String>,
    favicon_mmh3: Option<i32>,
    certificate_sha256: Option<String>,
    seen_at: String,
}

/// Ward's fingerprints and those in `extra` (files or folders); refused templates are warned
/// about, not used.
fn load_fingerprints(extra: &[PathBuf]) -> anyhow::Result<Vec<Fingerprint>> {
    let mut out = Vec::new();
    let mut add = |name: &str, text: &str| match Fingerprint::parse(name, text) {
        Ok(f) => out.push(f),
        Err(e) => eprintln!("warning: {e}"),
    };
    for (name, text) in fingerprint::BUILT_IN {
        add(name, text);
    }
    for path in extra {
        let files: Vec<PathBuf> = if path.is_dir() {
            walkdir::WalkDir::new(path)
                .into_iter()
                .filter_map(Result::ok)
                .map(walkdir::DirEntry::into_path)
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect()
        } else {
            vec![path.clone()]
        };
        for f in files {
            let meta = std::fs::metadata(&f).with_context(|| format!("reading {}", f.display()))?;
            if meta.len() > fingerprint::MAX_TEMPLATE_BYTES as u64 {
                eprintln!(
                    "warning: {}: larger than {} bytes; not used",
                    f.display(),
                    fingerprint::MAX_TEMPLATE_BYTES
                );
                continue;
            }
            let text =
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            add(&f.display().to_string(), &text);
        }
    }
    Ok(out)
}

/// The addresses to probe: the plan's ranges, or the requested targets that lie inside them.
fn addresses(ranges: &[IpNet], targets: &[String]) -> anyhow::Result<Vec<IpAddr>> {
    let mut nets = Vec::new();
    if targets.is_empty() {
        nets.extend_from_slice(ranges);
    } else {
        for t in targets {
            let net: IpNet = match t.parse::<IpAddr>() {
                Ok(a) => IpNet::from(a),
                Err(_) => t
                    .parse()
                    .with_context(|| format!("--targets: `{t}` is not an address or block"))?,
            };
            if ranges.iter().any(|r| r.contains(&net)) {
                nets.push(net);
            } else {
                eprintln!("warning: {t} is outside the member's approved ranges; not probed");
            }
        }
    }
    let mut out = Vec::new();
    for net in nets {
        let single = net.prefix_len() == net.max_prefix_len();
        let hosts: Box<dyn Iterator<Item = IpAddr>> = if single {
            Box::new(std::iter::once(net.addr()))
        } else {
            Box::new(net.hosts())
        };
        for a in hosts {
            if out.len() == MAX_ADDRESSES {
                bail!("more than {MAX_ADDRESSES} addresses; narrow --targets");
            }
            out.push(a);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Paces new connections and requests: at most `rate` a second.
struct Pace {
    next: tokio::sync::Mutex<tokio::time::Instant>,
    gap: Duration,
}

impl Pace {
    fn new(rate: f64) -> Self {
        Self {
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            gap: Duration::from_secs_f64(1.0 / rate.clamp(0.1, 1000.0)),
        }
    }

    async fn wait(&self) {
        let mut next = self.next.lock().await;
        let now = tokio::time::Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = (*next).max(now) + self.gap;
    }
}

pub(crate) async fn run(args: &ProbeArgs) -> anyhow::Result<u8> {
    let fingerprints = load_fingerprints(&args.fingerprints)?;
    let server = args.server.trim_end_matches('/');
    let api = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let response = api
        .post(format!("{server}/api/v1/probes"))
        .bearer_auth(&args.token)
        .json(&serde_json::json!({
            "organisation": args.organisation,
            "ports": args.ports,
            "fingerprints": fingerprints.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        }))
        .send()
        .await
        .with_context(|| format!("asking {server} for the probe's plan"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("the server refused the probe ({status}): {text}");
    }
    let plan: Plan = serde_json::from_str(&text).context("reading the probe's plan")?;
    let ranges: Vec<IpNet> = plan
        .ranges
        .iter()
        .map(|r| r.parse().with_context(|| format!("the plan's range `{r}`")))
        .collect::<anyhow::Result<_>>()?;
    let targets = addresses(&ranges, &args.targets)?;
    eprintln!(
        "probing {} address(es) of {} on port(s) {} at most {}/s ({} fingerprint(s))",
        targets.len(),
        args.organisation,
        plan.ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(","),
        args.rate,
        fingerprints.len()
    );
    let timeout = Duration::from_secs_f64(args.timeout.clamp(0.1, 120.0));
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        // Fingerprinting reads what a service presents, whoever signed its certificate.
        .tls_danger_accept_invalid_certs(true)
        .tls_info(true)
        .user_agent(concat!("ward-probe/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let pace = Arc::new(Pace::new(args.rate));
    let fingerprints = Arc::new(fingerprints);
    let ranges = Arc::new(ranges);
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for address in targets {
        for &port in &plan.ports {
            let (pace, fps, ranges, client, limit) = (
                pace.clone(),
                fingerprints.clone(),
                ranges.clone(),
                client.clone(),
                limit.clone(),
            );
            tasks.spawn(async move {
                let _slot = limit.acquire_owned().await.ok()?;
                // The last word before a packet leaves: inside an approved range, or nothing.
                if !ranges.iter().any(|r| r.contains(&address)) {
                    return None;
                }
                probe_one(&client, &pace, &fps, address, port, timeout).await
            });
        }
    }
    let mut seen = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Ok(Some(s)) = r {
            seen.push(s);
        }
    }
    seen.sort_by_key(|s| (s.address, s.port));
    let csv = observation_csv(&seen)?;
    if let Some(path) = &args.output {
        std::fs::write(path, &csv).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut imported = serde_json::Value::Null;
    if !args.no_report && !seen.is_empty() {
        let response = api
            .post(format!(
                "{server}/api/v1/observations?source=ward-probe&filename=probe-{}.csv",
                args.organisation
            ))
            .bearer_auth(&args.token)
            .body(csv)
            .send()
            .await
            .context("sending the observations")?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("the server refused the observations ({status}): {text}");
        }
        imported = serde_json::from_str(&text).unwrap_or_default();
    }
    match args.format {
        ProbeFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "services": seen, "import": imported })
            )?
        ),
        ProbeFormat::Table => {
            for s in &seen {
                let what = [s.product.as_deref(), s.version.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                println!(
                    "{}\t{}\t{}",
                    SocketAddr::new(s.address, s.port),
                    s.scheme.unwrap_or("tcp"),
                    if what.is_empty() {
                        s.title.clone().unwrap_or_default()
                    } else {
                        what
                    }
                );
            }
            if let Some(a) = imported.get("assets").and_then(|a| a.as_array()) {
                let alerts: usize = a
                    .iter()
                    .filter_map(|x| x.get("alerts").and_then(|v| v.as_array()).map(Vec::len))
                    .sum();
                eprintln!(
                    "{} service(s) reported: {} observed asset(s), {alerts} alert(s) raised or updated",
                    seen.len(),
                    a.len()
                );
            }
        }
    }
    Ok(crate::exit::OK)
}

/// A GET of one path: status, header lines, and at most [`MAX_BODY`] bytes of the body.
async fn get(
    client: &reqwest::Client,
    pace: &Pace,
    url: &str,
) -> Option<(u16, String, Vec<u8>, Option<String>)> {
    pace.wait().await;
    let mut response = client.get(url).send().await.ok()?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect::<Vec<_>>()
        .join("\n");
    let certificate = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|t| t.peer_certificate())
        .map(|der| hex::encode(Sha256::digest(der)));
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_BODY {
            body.truncate(MAX_BODY);
            break;
        }
    }
    Some((status, headers, body, certificate))
}

async fn probe_one(
    client: &reqwest::Client,
    pace: &Pace,
    fingerprints: &[Fingerprint],
    address: IpAddr,
    port: u16,
    timeout: Duration,
) -> Option<Seen> {
    pace.wait().await;
    let target = SocketAddr::new(address, port);
    let open = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(target))
        .await
        .ok()?
        .ok()?;
    drop(open);
    let mut seen = Seen {
        address,
        port,
        scheme: None,
        vendor: None,
        product: None,
        version: None,
        cpe: None,
        fingerprint: None,
        title: None,
        server: None,
        favicon_mmh3: None,
        certificate_sha256: None,
        seen_at: ward_model::timestamp::format(&chrono::Utc::now()),
    };
    let host = match address {
        IpAddr::V6(a) => format!("[{a}]:{port}"),
        IpAddr::V4(a) => format!("{a}:{port}"),
    };
    let mut base = None;
    for scheme in ["https", "http"] {
        let root = format!("{scheme}://{host}");
        if let Some((status, headers, body, certificate)) =
            get(client, pace, &format!("{root}/")).await
        {
            seen.scheme = Some(scheme);
            seen.certificate_sha256 = certificate;
            seen.server = headers
                .lines()
                .find_map(|l| l.strip_prefix("server: "))
                .map(str::to_owned);
            seen.title = title(&body);
            identify(
                &mut seen,
                fingerprints,
                &Response {
                    status,
                    headers: &headers,
                    body: &body,
                },
            );
            base = Some(root);
            break;
        }
    }
    let Some(root) = base else {
        return Some(seen);
    };
    if let Some((200, _, body, _)) = get(client, pace, &format!("{root}/favicon.ico")).await
        && !body.is_empty()
    {
        seen.favicon_mmh3 = Some(fingerprint::favicon_mmh3(&body));
    }
    'fingerprints: for f in fingerprints {
        if seen.fingerprint.is_some() {
            break;
        }
        for path in &f.paths {
            if let Some((status, headers, body, _)) =
                get(client, pace, &format!("{root}{path}")).await
            {
                let r = Response {
                    status,
                    headers: &headers,
                    body: &body,
                };
                if let Some(version) = f.check(&r) {
                    recognised(&mut seen, f, version);
                    break 'fingerprints;
                }
            }
        }
    }
    Some(seen)
}

/// A fingerprint whose paths include `/` may recognise the first page already.
fn identify(seen: &mut Seen, fingerprints: &[Fingerprint], root: &Response<'_>) {
    for f in fingerprints
        .iter()
        .filter(|f| f.paths.iter().any(|p| p == "/"))
    {
        if let Some(version) = f.check(root) {
            recognised(seen, f, version);
            return;
        }
    }
}

fn recognised(seen: &mut Seen, f: &Fingerprint, version: Option<String>) {
    seen.fingerprint = Some(f.id.clone());
    seen.vendor = f.vendor.clone();
    seen.product = Some(f.name.clone());
    seen.cpe = match (&f.vendor, &f.product, &f.cpe) {
        (_, _, Some(cpe)) => Some(cpe.clone()),
        (Some(v), Some(p), None) => Some(format!("cpe:2.3:a:{v}:{p}:*:*:*:*:*:*:*:*")),
        _ => None,
    };
    seen.version = version;
}

/// The page's `<title>`, trimmed, at most 200 characters.
fn title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 << 10)]);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open = start + lower[start..].find('>')? + 1;
    let end = open + lower[open..].find("</title")?;
    let t: String = text[open..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!t.is_empty()).then(|| t.chars().take(200).collect())
}

/// The services as Ward's observation CSV (`docs/exposure.md`).
fn observation_csv(seen: &[Seen]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "ip", "port", "hostname", "product", "version", "cpe", "seen_at", "source", "vendor",
        "detail",
    ])?;
    for s in seen {
        let mut detail = Vec::new();
        if let Some(t) = &s.title {
            detail.push(format!("title: {t}"));
        }
        if let Some(v) = &s.server {
            detail.push(format!("server: {v}"));
        }
        if let Some(h) = s.favicon_mmh3 {
            detail.push(format!("favicon mmh3: {h}"));
        }
        if let Some(c) = &s.certificate_sha256 {
            detail.push(format!("certificate sha256: {c}"));
        }
        if let Some(f) = &s.fingerprint {
            detail.push(format!("fingerprint: {f}"));
        }
        w.write_record([
            s.address.to_string(),
            s.port.to_string(),
            String::new(),
            s.product.clone().unwrap_or_default(),
            s.version.clone().unwrap_or_default(),
            s.cpe.clone().unwrap_or_default(),
            s.seen_at.clone(),
            "ward-probe".into(),
            s.vendor.clone().unwrap_or_default(),
            detail.join("; "),
        ])?;
    }
    Ok(w.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_outside_the_ranges_are_not_probed() {
        let ranges: Vec<IpNet> = vec![
            "127.0.0.2/32".parse().unwrap(),
            "10.9.8.0/30".parse().unwrap(),
        ];
        let all = addresses(&ranges, &[]).unwrap();
        assert_eq!(all.len(), 3, "{all:?}");
        let some = addresses(
            &ranges,
            &["127.0.0.0/29".into(), "127.0.0.2".into(), "10.9.8.1".into()],
        )
        .unwrap();
        assert_eq!(
            some,
            [
                "10.9.8.1".parse::<IpAddr>().unwrap(),
                "127.0.0.2".parse().unwrap()
            ]
        );
        assert!(addresses(&ranges, &["nonsense".into()]).is_err());
    }

    #[test]
    fn titles_are_read_plainly() {
        assert_eq!(
            title(b"<html><TITLE lang=en>\n Ivanti  User Portal </title>").as_deref(),
            Some("Ivanti User Portal")
        );
        assert_eq!(title(b"<title></title>"), None);
        assert_eq!(title(b"no title"), None);
    }
}
