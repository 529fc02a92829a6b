//! `ward hunt`: Sigma rules and indicators over local logs; only sightings come out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use comfy_table::{ContentArrangement, Table, presets};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use ward_hunt::{Hunter, IndicatorSet, Input, LogFormat, Report, RuleSet};

use crate::exit;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum HuntFormat {
    Table,
    Json,
    /// A STIX 2.1 bundle of `sighting` objects (what a member reports, and nothing more).
    Stix,
}

#[derive(Args)]
pub(crate) struct HuntArgs {
    /// Sigma rule files or folders of them (.yml, .yaml); repeat for more.
    #[arg(long)]
    pub(crate) rules: Vec<PathBuf>,
    /// Indicators: STIX 2.1 bundles (.json), or lists of IPs, CIDRs, domains, URLs and hashes
    /// (text, one a line; or .csv with a `value` column); files or folders.
    #[arg(long)]
    pub(crate) indicators: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: HuntFormat,
    /// Read every log in this format instead of detecting it:
    /// combined, common, json, syslog3164, syslog5424.
    #[arg(long)]
    pub(crate) log_format: Option<LogFormat>,
    /// Worker threads (files are read in parallel); default: the machine's cores.
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Send the sightings (a STIX bundle, nothing else) to a Ward server at this URL
    /// (`https://ward.example`); they are recorded against the token's organisation and raise a
    /// possible-compromise alert for the central team.
    #[arg(long, requires = "token")]
    pub(crate) report: Option<String>,
    /// The organisation's API token for --report.
    #[arg(long, env = "WARD_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Print every unsupported rule and unusable indicator with its reason.
    #[arg(long, short)]
    pub(crate) verbose: bool,
    /// Logs: access logs, JSON lines or syslog, plain or gzip; `-` for standard input.
    #[arg(required = true)]
    pub(crate) logs: Vec<String>,
}

/// Rules and indicators, loaded from their paths.
pub(crate) struct Loaded {
    pub(crate) rules: RuleSet,
    pub(crate) indicators: IndicatorSet,
}

pub(crate) fn load(rules: &[PathBuf], indicators: &[PathBuf]) -> anyhow::Result<Loaded> {
    let mut set = RuleSet::new();
    for path in rules {
        for file in files(path, &["yml", "yaml"])? {
            match std::fs::read(&file) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => {
                        set.add_yaml(&file, &text);
                    }
                    Err(_) => set.unsupported.push(ward_hunt::sigma::Unsupported {
                        file: file.clone(),
                        rule: None,
                        reason: "not UTF-8 text".into(),
                    }),
                },
                Err(e) => bail!("{}: {e}", file.display()),
            }
        }
    }
    let mut ind = IndicatorSet::new();
    for path in indicators {
        for file in files(path, &[])? {
            let bytes = std::fs::read(&file).with_context(|| file.display().to_string())?;
            let name = file.display().to_string();
            let ext = file
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            if ext == "json" {
                ind.add_stix(&name, &bytes);
            } else {
                let text = String::from_utf8_lossy(&bytes);
                ind.add_list(&name, &text, ext == "csv");
            }
        }
    }
    ind.finish();
    Ok(Loaded {
        rules: set,
        indicators: ind,
    })
}

/// A file, or a folder's files with one of `exts` (any, when empty), sorted.
fn files(path: &Path, exts: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).with_context(|| path.display().to_string())?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        let entry = entry.with_context(|| path.display().to_string())?;
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let ext = entry
            .path()
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if exts.is_empty() && matches!(name.as_ref(), "README.md" | "LICENSE")
            || !exts.is_empty() && !exts.contains(&ext.as_str())
        {
            continue;
        }
        out.push(entry.into_path());
    }
    Ok(out)
}

pub(crate) async fn run(args: HuntArgs) -> anyhow::Result<u8> {
    if args.rules.is_empty() && args.indicators.is_empty() {
        bail!("nothing to hunt with: give --rules and/or --indicators");
    }
    let started = Instant::now();
    let loaded = load(&args.rules, &args.indicators)?;
    report_loading(&loaded, args.verbose);
    if loaded.rules.loaded == 0 && loaded.indicators.is_empty() {
        bail!("no rule or indicator could be loaded (see the reasons above)");
    }
    let inputs: Vec<Input> = args
        .logs
        .iter()
        .map(|l| {
            if l == "-" {
                Input::Stdin
            } else {
                Input::Path(PathBuf::from(l))
            }
        })
        .collect();
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} hunting {bytes} ({bytes_per_sec}) {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let hunter = Hunter {
        rules: &loaded.rules,
        indicators: &loaded.indicators,
        format: args.log_format,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        now: chrono::Utc::now(),
    };
    let report = tokio::task::block_in_place(|| hunter.run(&inputs, &|n| bar.inc(n)));
    bar.finish_and_clear();
    let elapsed = started.elapsed();

    for p in &report.problems {
        eprintln!("warning: {}:{}: {}", p.file, p.line, p.message);
    }
    let mut failed = false;
    for f in &report.files {
        if let Some(e) = &f.error {
            eprintln!("error: {e}");
            failed = true;
        }
        let shown = report.problems.iter().filter(|p| p.file == f.file).count() as u64;
        if f.unreadable > shown {
            eprintln!(
                "warning: {}: {} more lines not in the {} format",
                f.file,
                f.unreadable - shown,
                f.format.as_deref().unwrap_or("?")
            );
        }
    }
    let lines: u64 = report.files.iter().map(|f| f.lines).sum();
    let bytes: u64 = report.files.iter().map(|f| f.bytes).sum();
    eprintln!(
        "read {} logs, {lines} lines, {:.1} MB in {:.2} s: {} sightings",
        report.files.len(),
        bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        report.sightings.len()
    );
    match args.format {
        HuntFormat::Table => table(&report),
        HuntFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&as_json(&report, &loaded))?
        ),
        HuntFormat::Stix => println!(
            "{}",
            serde_json::to_string_pretty(&stix_bundle(&report, chrono::Utc::now()))?
        ),
    }
    if let (Some(url), Some(token)) = (&args.report, &args.token) {
        if report.sightings.is_empty() {
            eprintln!("nothing to report to {url}");
        } else if let Err(e) = send_report(url, token, &report).await {
            eprintln!("error: reporting to {url}: {e:#}");
            failed = true;
        }
    }
    Ok(if failed {
        exit::ERROR
    } else if report.sightings.is_empty() {
        exit::OK
    } else {
        exit::FOUND
    })
}

fn report_loading(loaded: &Loaded, verbose: bool) {
    let rules = &loaded.rules;
    if rules.loaded > 0 || !rules.unsupported.is_empty() {
        eprintln!(
            "rules: {} loaded ({} for web server and proxy logs), {} unsupported",
            rules.loaded,
            rules.web_rules,
            rules.unsupported.len()
        );
        if verbose {
            for u in &rules.unsupported {
                eprintln!(
                    "  unsupported: {}{}: {}",
                    u.file.display(),
                    u.rule
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default(),
                    u.reason
                );
            }
        } else {
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            for u in &rules.unsupported {
                let short: String = u
                    .reason
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(100)
                    .collect();
                *reasons.entry(short).or_default() += 1;
            }
            for (reason, n) in reasons {
                eprintln!("  {n} unsupported: {reason}");
            }
        }
    }
    let ind = &loaded.indicators;
    if !ind.is_empty() || !ind.problems.is_empty() {
        eprintln!(
            "indicators: {} loaded, {} unusable{}",
            ind.len(),
            ind.problems.len(),
            if ind.unobservable > 0 {
                format!(
                    ", {} about objects no log carries (file names, certificates, …)",
                    ind.unobservable
                )
            } else {
                String::new()
            }
        );
        for p in ind
            .problems
            .iter()
            .take(if verbose { usize::MAX } else { 20 })
        {
            eprintln!("warning: {}: {}: {}", p.file, p.location, p.message);
        }
        if !verbose && ind.problems.len() > 20 {
            eprintln!(
                "warning: {} more (--verbose lists them)",
                ind.problems.len() - 20
            );
        }
    }
}

fn as_json(report: &Report, loaded: &Loaded) -> serde_json::Value {
    json!({
        "sightings": report.sightings,
        "files": report.files,
        "problems": report.problems,
        "rules": {
            "loaded": loaded.rules.loaded,
            "web": loaded.rules.web_rules,
            "unsupported": loaded.rules.unsupported.iter().map(|u| json!({
                "file": u.file.display().to_string(),
                "rule": u.rule,
                "reason": u.reason,
            })).collect::<Vec<_>>(),
        },
        "indicators": {
            "loaded": loaded.indicators.len(),
            "unobservable": loaded.indicators.unobservable,
            "problems": loaded.indicators.problems.iter().map(|p| json!({
                "file": p.file,
                "location": p.location,
                "message": p.message,
            })).collect::<Vec<_>>(),
        },
    })
}

/// Posts the sightings bundle to `{url}/api/v1/sightings`.
async fn send_report(url: &str, token: &str, report: &Report) -> anyhow::Result<()> {
    // One TLS crypto provider for the process (ring, as sqlx and lettre use).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let endpoint = format!("{}/api/v1/sightings", url.trim_end_matches('/'));
    let bundle = stix_bundle(report, chrono::Utc::now());
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let response = client
        .post(&endpoint)
        .bearer_auth(token)
        .json(&bundle)
        .send()
        .await
        .with_context(|| format!("POST {endpoint}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        bail!(
            "the server answered {status}: {}",
            body["error"].as_str().unwrap_or("(no message)")
        );
    }
    eprintln!(
        "reported to {url}: {} sightings recorded, {} already known; alerts: {}",
        body["recorded"],
        body["already_known"],
        body["alerts"]
            .as_array()
            .map(|a| a
                .iter()
                .map(|x| format!("#{} {}", x["id"], x["title"].as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    Ok(())
}

/// Ward's STIX namespace for deterministic ids (UUID v5), so that the same sighting reported
/// twice is the same object, and a Sigma rule is always the same indicator.
const STIX_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5d3c_1f0e_8a2b_4c6d_9e7f_0a1b_2c3d_4e5f);

fn stix_id(kind: &str, name: &str) -> String {
    format!(
        "{kind}--{}",
        uuid::Uuid::new_v5(&STIX_NAMESPACE, name.as_bytes())
    )
}

/// The sightings as a STIX 2.1 bundle: per sighting a `sighting` object (first and last seen
/// are the record's time, count 1) referring to the STIX indicator it is of, or, for a Sigma
/// rule, to an `indicator` with `pattern_type: sigma` standing for the rule (by its id, not its
/// text). The matched fields ride along as `x_ward_matched`; no other log content is included.
pub(crate) fn stix_bundle(
    report: &Report,
    now: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut objects = Vec::new();
    let mut rules_done = std::collections::HashSet::new();
    for s in &report.sightings {
        let of = match s.kind {
            ward_hunt::SightingKind::Indicator if s.id.starts_with("indicator--") => s.id.clone(),
            _ => {
                let id = stix_id("indicator", &format!("{:?}:{}", s.kind, s.id));
                if rules_done.insert(id.clone()) {
                    let (pattern_type, pattern) = match s.kind {
                        ward_hunt::SightingKind::Sigma => ("sigma", format!("id: {}", s.id)),
                        ward_hunt::SightingKind::Indicator => (
                            "stix",
                            format!(
                                "[x-ward-list:value = '{}']",
                                s.title.replace('\\', "\\\\").replace('\'', "\\'")
                            ),
                        ),
                    };
                    objects.push(json!({
                        "type": "indicator",
                        "spec_version": "2.1",
                        "id": id,
                        "created": stamp,
                        "modified": stamp,
                        "name": s.title,
                        "pattern_type": pattern_type,
                        "pattern": pattern,
                        "valid_from": stamp,
                    }));
                }
                id
            }
        };
        let seen = s
            .timestamp
            .unwrap_or(now)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        objects.push(json!({
            "type": "sighting",
            "spec_version": "2.1",
            "id": stix_id("sighting", &format!("{}:{}:{}", s.id, s.file, s.line)),
            "created": stamp,
            "modified": stamp,
            "first_seen": seen,
            "last_seen": seen,
            "count": 1,
            "sighting_of_ref": of,
            "x_ward_level": s.level,
            "x_ward_file": s.file,
            "x_ward_line": s.line,
            "x_ward_matched": s.matched,
        }));
    }
    json!({
        "type": "bundle",
        "id": stix_id("bundle", &stamp),
        "objects": objects,
    })
}

fn table(report: &Report) {
    if report.sightings.is_empty() {
        println!("No sightings.");
        return;
    }
    let mut t = Table::new();
    t.load_style(presets::UTF8_HORIZONTAL_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(["level", "rule / indicator", "where", "time", "matched"]);
    for s in &report.sightings {
        let matched: Vec<String> = s
            .matched
            .iter()
            .map(|m| {
                let v: String = m.value.chars().take(120).collect();
                let more = if m.value.chars().count() > 120 {
                    "…"
                } else {
                    ""
                };
                format!("{}={v}{more}", m.field)
            })
            .collect();
        t.add_row([
            s.level.clone().unwrap_or_else(|| "-".into()),
            format!("{}\n{}", s.title, s.id),
            format!("{}:{}", s.file, s.line),
            s.timestamp
                .map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            matched.join("\n"),
        ]);
    }
    println!("{t}");
}

/// `ward bench hunt`: a generated access log (ordinary traffic with a few exploit requests and
/// indicator hits), the given rules and `n_indicators` generated STIX indicators.
pub(crate) fn bench(
    rules: &[PathBuf],
    n_indicators: usize,
    size_mb: u64,
    files: usize,
    threads: Option<usize>,
    keep: Option<PathBuf>,
) -> anyhow::Result<serde_json::Value> {
    let temp = tempfile::tempdir()?;
    let dir = keep.unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let started = Instant::now();
    let rss_start = crate::bench::peak_rss_mib();
    let bundle = generated_bundle(n_indicators);
    let bundle_path = dir.join("indicators.json");
    std::fs::write(&bundle_path, &bundle)?;
    let loaded = load(rules, &[bundle_path])?;
    let load_seconds = started.elapsed().as_secs_f64();
    let rss_loaded = crate::bench::peak_rss_mib();

    let per_file = size_mb * 1_000_000 / files as u64;
    let mut logs = Vec::new();
    let generating = Instant::now();
    for i in 0..files {
        let path = dir.join(format!("access-{size_mb}mb.log.{i}"));
        let fresh = std::fs::metadata(&path)
            .map(|m| m.len() >= per_file)
            .unwrap_or(false);
        if !fresh {
            generate_log(&path, per_file, i as u64, n_indicators)?;
        }
        logs.push(Input::Path(path));
    }
    let generate_seconds = generating.elapsed().as_secs_f64();
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let hunter = Hunter {
        rules: &loaded.rules,
        indicators: &loaded.indicators,
        format: None,
        threads,
        now: chrono::Utc::now(),
    };
    let hunting = Instant::now();
    let report = hunter.run(&logs, &|_| {});
    let seconds = hunting.elapsed().as_secs_f64();
    let bytes: u64 = report.files.iter().map(|f| f.bytes).sum();
    let lines: u64 = report.files.iter().map(|f| f.lines).sum();
    let sigma = report
        .sightings
        .iter()
        .filter(|s| s.kind == ward_hunt::SightingKind::Sigma)
        .count();
    Ok(json!({
        "bench": "hunt",
        "rules_loaded": loaded.rules.loaded,
        "web_rules": loaded.rules.web_rules,
        "indicators": loaded.indicators.len(),
        "load_seconds": load_seconds,
        "peak_rss_mib_before_loading": rss_start,
        "peak_rss_mib_after_loading": rss_loaded,
        "files": files,
        "threads": threads,
        "bytes": bytes,
        "lines": lines,
        "generate_seconds": generate_seconds,
        "hunt_seconds": seconds,
        "mb_per_second": bytes as f64 / 1e6 / seconds,
        "lines_per_second": lines as f64 / seconds,
        "sightings": report.sightings.len(),
        "sigma_sightings": sigma,
        "indicator_sightings": report.sightings.len() - sigma,
        "unreadable_lines": report.files.iter().map(|f| f.unreadable).sum::<u64>(),
        "peak_rss_mib": crate::bench::peak_rss_mib(),
    }))
}

/// A small deterministic generator (xorshift64*): the bench needs repeatable data, not
/// randomness, and no dependency for it.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn indicator_ip(i: usize) -> String {
    format!("100.64.{}.{}", (i / 250) % 250, i % 250 + 1)
}

fn generated_bundle(n: usize) -> String {
    let mut objects = Vec::with_capacity(n);
    for i in 0..n {
        let pattern = match i % 100 {
            0..40 => format!("[ipv4-addr:value = '{}']", indicator_ip(i)),
            40..60 => format!(
                "[ipv4-addr:value ISSUBSET '100.{}.{}.0/24']",
                80 + (i / 250) % 20,
                i % 250
            ),
            60..80 => format!("[domain-name:value = 'bad{i}.example']"),
            80..90 => format!("[url:value = 'http://bad{i}.example/x{i}.exe']"),
            90..99 => format!(
                "[file:hashes.MD5 = '{:032x}']",
                i as u128 * 0x9e37_79b9_7f4a_7c15
            ),
            _ if i % 200 == 99 => format!(
                "[network-traffic:extensions.'http-request-ext'.request_value LIKE '%/wp-admin{i}/%']"
            ),
            _ => format!(
                "[network-traffic:extensions.'http-request-ext'.request_value MATCHES '^/cgi-bin/x{i}\\\\.']"
            ),
        };
        objects.push(json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": format!("indicator--00000000-0000-4000-8000-{i:012}"),
            "created": "2025-05-20T00:00:00Z",
            "modified": "2025-05-20T00:00:00Z",
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": "2025-01-01T00:00:00Z",
        }));
    }
    json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": objects})
        .to_string()
}

fn generate_log(path: &Path, size: u64, seed: u64, n_indicators: usize) -> anyhow::Result<()> {
    use std::io::Write as _;
    const PATHS: [&str; 16] = [
        "/",
        "/index.html",
        "/login",
        "/api/v1/patients/search",
        "/static/js/app.4f3c2.js",
        "/static/css/site.css",
        "/images/logo.png",
        "/favicon.ico",
        "/mifs/rs/api/v2/featureusage",
        "/owa/auth/logon.aspx",
        "/wp-login.php",
        "/robots.txt",
        "/api/v1/appointments",
        "/health",
        "/downloads/report.pdf",
        "/search",
    ];
    const AGENTS: [&str; 6] = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:138.0) Gecko/20100101 Firefox/138.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
        "kube-probe/1.31",
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17830; Pro)",
    ];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut g = Gen(0x9e37_79b9_7f4a_7c15 ^ (seed + 1));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut written = 0u64;
    let mut line = String::with_capacity(512);
    let mut n = 0u64;
    while written < size {
        line.clear();
        n += 1;
        let ip = if n.is_multiple_of(1000) && n_indicators > 0 {
            indicator_ip((g.below(n_indicators as u64 * 4 / 10)) as usize)
        } else {
            format!(
                "{}.{}.{}.{}",
                10 + g.below(200),
                g.below(256),
                g.below(256),
                1 + g.below(254)
            )
        };
        let secs = seed * 86_400 + n / 50;
        let (day, h, m, s) = (
            1 + (secs / 86_400) % 28,
            (secs / 3600) % 24,
            (secs / 60) % 60,
            secs % 60,
        );
        let month = MONTHS[(4 + secs / (86_400 * 28)) as usize % 12];
        let request = if n.is_multiple_of(100_000) {
            "GET /mifs/rs/api/v2/featureusage?format=%24%7b7*7%7d HTTP/1.1".to_owned()
        } else {
            let p = PATHS[g.below(PATHS.len() as u64) as usize];
            let method = if g.below(10) == 0 { "POST" } else { "GET" };
            if g.below(3) == 0 {
                format!(
                    "{method} {p}?id={}&page={} HTTP/1.1",
                    g.below(1_000_000),
                    g.below(50)
                )
            } else {
                format!("{method} {p} HTTP/1.1")
            }
        };
        let status = [200, 200, 200, 200, 304, 302, 404, 500][g.below(8) as usize];
        let agent = AGENTS[g.below(AGENTS.len() as u64) as usize];
        use std::fmt::Write as _;
        let _ = writeln!(
            line,
            "{ip} - - [{day:02}/{month}/2025:{h:02}:{m:02}:{s:02} +0000] \"{request}\" {status} {} \"https://portal.example/\" \"{agent}\"",
            g.below(200_000)
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    out.flush()?;
    Ok(())
}
