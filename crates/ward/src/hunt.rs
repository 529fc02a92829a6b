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
use ward_model::{SightingsBundle, StixObject};

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
    /// Pull indicators and Sigma rules (STIX indicators with `pattern_type: "sigma"`) from a
    /// TAXII 2.1 API root (`https://ward.example/taxii2/api/`), with --collection and --token;
    /// incrementally: what was pulled before is kept in --taxii-state and only objects added
    /// since are asked for.
    #[arg(long, requires_all = ["collection", "token"])]
    pub(crate) taxii: Option<String>,
    /// The TAXII collection's id.
    #[arg(long)]
    pub(crate) collection: Option<String>,
    /// Where pulled objects and the `added_after` cursor are kept (default: beside the
    /// database, `$XDG_DATA_HOME/ward/taxii/`).
    #[arg(long)]
    pub(crate) taxii_state: Option<PathBuf>,
    /// Keep reading the logs as they grow, across rotation (`access.log.1`, `.1.gz` beside
    /// each log given), and report each poll's sightings as they come: one JSON object a line
    /// with --format json. What was read is kept in --follow-state, so a restart neither misses
    /// nor repeats a line. Stops on Ctrl-C or after --follow-for.
    #[arg(long)]
    pub(crate) follow: bool,
    /// Where --follow keeps what it read of each log (default:
    /// `$XDG_DATA_HOME/ward/hunt-follow.json`).
    #[arg(long, requires = "follow")]
    pub(crate) follow_state: Option<PathBuf>,
    /// Seconds between polls of the logs in --follow.
    #[arg(long, default_value_t = 2.0, requires = "follow")]
    pub(crate) interval: f64,
    /// Stop following after this long (`30s`, `15m`, `8h`).
    #[arg(long, requires = "follow", value_parser = parse_duration)]
    pub(crate) follow_for: Option<std::time::Duration>,
    /// The asset (by its name in Ward) whose logs these are: the server ties a sighted exploit
    /// attempt to that asset's open vulnerabilities.
    #[arg(long)]
    pub(crate) asset: Option<String>,
    /// Send each sighted line (cut to 512 characters) with --report. Without it only the
    /// line's SHA-256 leaves, so the member can later show which line it was.
    #[arg(long)]
    pub(crate) share_excerpts: bool,
    /// With --follow and --taxii: pull the collection again this often (`30s`, `5m`); newly
    /// published indicators and rules are also run over what was already read of the logs
    /// (a retro-hunt, within --retro-days).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub(crate) pull_every: std::time::Duration,
    /// How far back a retro-hunt looks: logs (and rotated logs) last written within this many
    /// days.
    #[arg(long, default_value_t = 30)]
    pub(crate) retro_days: u32,
    /// Print every unsupported rule and unusable indicator with its reason.
    #[arg(long, short)]
    pub(crate) verbose: bool,
    /// Logs: access logs, JSON lines or syslog, plain or gzip; `-` for standard input.
    #[arg(required = true)]
    pub(crate) logs: Vec<String>,
}

/// Rules and indicators, loaded from their paths (and pulled from TAXII).
pub(crate) struct Loaded {
    pub(crate) rules: RuleSet,
    pub(crate) indicators: IndicatorSet,
    /// Sigma rules pulled from TAXII: the rule's name → the STIX indicator that carried it.
    pub(crate) published: std::collections::HashMap<String, String>,
}

impl Loaded {
    pub(crate) fn empty() -> Self {
        Self {
            rules: RuleSet::new(),
            indicators: IndicatorSet::new(),
            published: std::collections::HashMap::new(),
        }
    }
}

/// What of a sighting leaves the member besides the matched fields (`--asset`,
/// `--share-excerpts`), and the published indicators sightings refer to.
pub(crate) struct Sharing<'a> {
    pub(crate) asset: Option<&'a str>,
    pub(crate) excerpts: bool,
    pub(crate) published: &'a std::collections::HashMap<String, String>,
}

impl<'a> Sharing<'a> {
    pub(crate) fn of(args: &'a HuntArgs, loaded: &'a Loaded) -> Self {
        Self {
            asset: args.asset.as_deref(),
            excerpts: args.share_excerpts,
            published: &loaded.published,
        }
    }
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
        published: std::collections::HashMap::new(),
    })
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    ward_sync::config::duration(s)
}

/// `--follow`: polls the logs until stopped; each poll's sightings printed (and reported).
async fn follow(
    args: &HuntArgs,
    loaded: Loaded,
    taxii: Option<crate::taxii::Source>,
) -> anyhow::Result<u8> {
    report_loading(&loaded, args.verbose);
    if loaded.rules.loaded == 0 && loaded.indicators.is_empty() && taxii.is_none() {
        bail!("no rule or indicator could be loaded (see the reasons above)");
    }
    if args.logs.iter().any(|l| l == "-") {
        bail!("--follow reads files, not standard input");
    }
    if !(0.05..=3600.0).contains(&args.interval) {
        bail!("--interval: between 0.05 and 3600 seconds");
    }
    let state = args.follow_state.clone().unwrap_or_else(|| {
        ward_store::default_location()
            .parent()
            .map(|d| d.join("hunt-follow.json"))
            .unwrap_or_else(|| PathBuf::from("hunt-follow.json"))
    });
    let f = crate::follow::Follow {
        logs: args.logs.iter().map(PathBuf::from).collect(),
        state,
        interval: std::time::Duration::from_secs_f64(args.interval),
        stop_after: args.follow_for,
        threads: args.threads.unwrap_or_else(crate::cores),
        format: args.log_format,
        loaded,
    };
    let rebuild = |all: &[serde_json::Value]| -> anyhow::Result<Loaded> {
        let mut loaded = load(&args.rules, &args.indicators)?;
        if let Some(t) = &taxii {
            crate::taxii::load_into(all, &t.collection, &mut loaded);
        }
        Ok(loaded)
    };
    let refresh = taxii.as_ref().map(|t| crate::follow::Refresh {
        source: crate::taxii::Source {
            root: t.root.clone(),
            collection: t.collection.clone(),
            token: t.token.clone(),
            dir: t.dir.clone(),
        },
        every: args.pull_every.max(std::time::Duration::from_secs(1)),
        retro: std::time::Duration::from_secs(u64::from(args.retro_days) * 86_400),
        rebuild: &rebuild,
    });
    let mut total = 0usize;
    let mut failed = false;
    // Once the reader of standard output has gone (`ward hunt --follow … | head`), nothing
    // more is written there: a follower that reports to a server goes on for the server, one
    // that does not stops, as `tail -f` does.
    let mut reader_gone = false;
    crate::follow::run(f, refresh, &mut |sightings, loaded| {
        use std::io::Write as _;
        total += sightings.len();
        if !reader_gone {
            let mut out = std::io::stdout().lock();
            let written = sightings.iter().try_for_each(|s| -> anyhow::Result<()> {
                match args.format {
                    HuntFormat::Table => writeln!(
                        out,
                        "{}:{}  {}  {}",
                        s.file,
                        s.line,
                        s.title,
                        s.matched
                            .iter()
                            .map(|m| format!("{}={}", m.field, m.value))
                            .collect::<Vec<_>>()
                            .join(" ")
                    )?,
                    _ => writeln!(out, "{}", serde_json::to_string(s)?)?,
                }
                Ok(())
            });
            match written.and_then(|()| Ok(out.flush()?)) {
                Ok(()) => {}
                Err(e) if crate::scan::is_broken_pipe(&e) => reader_gone = true,
                Err(e) => return Err(e),
            }
        }
        // Each poll's sightings go to the server as they are found.
        if let (Some(url), Some(token)) = (&args.report, &args.token) {
            let report = Report {
                sightings,
                ..Report::default()
            };
            let sharing = Sharing::of(args, loaded);
            let sent = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current()
                    .block_on(send_report(url, token, &report, &sharing))
            });
            if let Err(e) = sent {
                eprintln!("error: reporting to {url}: {e:#}");
                failed = true;
            }
        } else if reader_gone {
            return Ok(std::ops::ControlFlow::Break(()));
        }
        Ok(std::ops::ControlFlow::Continue(()))
    })
    .await?;
    eprintln!("followed {} logs: {total} sightings", args.logs.len());
    Ok(if failed {
        exit::ERROR
    } else if total > 0 {
        exit::FOUND
    } else {
        exit::OK
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
    if args.rules.is_empty() && args.indicators.is_empty() && args.taxii.is_none() {
        bail!("nothing to hunt with: give --rules, --indicators and/or --taxii");
    }
    let started = Instant::now();
    let mut loaded = load(&args.rules, &args.indicators)?;
    let taxii = match (&args.taxii, &args.collection, &args.token) {
        (Some(root), Some(collection), Some(token)) => Some(crate::taxii::Source {
            root: root.clone(),
            collection: collection.clone(),
            token: token.clone(),
            dir: match &args.taxii_state {
                Some(p) => p.clone(),
                None => ward_store::default_location()
                    .parent()
                    .map(|d| d.join("taxii"))
                    .unwrap_or_else(|| PathBuf::from("taxii")),
            },
        }),
        _ => None,
    };
    if let Some(t) = &taxii {
        let pulled = crate::taxii::pull_from(t).await?;
        crate::taxii::load_into(&pulled.all, &t.collection, &mut loaded);
    }
    let loaded = loaded;
    if args.follow {
        return follow(&args, loaded, taxii).await;
    }
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
        threads: args.threads.unwrap_or_else(crate::cores),
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
    let text = match args.format {
        HuntFormat::Table => table(&report),
        HuntFormat::Json => serde_json::to_string_pretty(&as_json(&report, &loaded))?,
        HuntFormat::Stix => serde_json::to_string_pretty(&stix_bundle(
            &report,
            chrono::Utc::now(),
            &Sharing::of(&args, &loaded),
        ))?,
    };
    // A reader that stops early (`ward hunt … | head`) is no failure of the hunt: the
    // sightings are still reported to a server when asked, and the exit code still says what
    // was found.
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(e.into());
        }
    }
    if let (Some(url), Some(token)) = (&args.report, &args.token) {
        if report.sightings.is_empty() {
            eprintln!("nothing to report to {url}");
        } else if let Err(e) = send_report(url, token, &report, &Sharing::of(&args, &loaded)).await
        {
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
pub(crate) async fn send_report(
    url: &str,
    token: &str,
    report: &Report,
    sharing: &Sharing<'_>,
) -> anyhow::Result<()> {
    // One TLS crypto provider for the process (ring, as sqlx and lettre use).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let endpoint = format!("{}/api/v1/sightings", url.trim_end_matches('/'));
    let bundle = stix_bundle(report, chrono::Utc::now(), sharing);
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
        "reported to {url}: {} sightings recorded, {} already known; incidents: {}",
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
/// are the record's time, count 1) referring to the STIX indicator it is of — for a Sigma rule
/// pulled from TAXII, the indicator that carried it; for another rule, an `indicator` with
/// `pattern_type: sigma` standing for the rule (by its id, not its text), its tags as `labels`
/// and the CVEs they name as external references. The matched fields, the client address and
/// the line's SHA-256 ride along (`x_ward_*`); the line itself only with `excerpts`.
pub(crate) fn stix_bundle(
    report: &Report,
    now: chrono::DateTime<chrono::Utc>,
    sharing: &Sharing<'_>,
) -> SightingsBundle {
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut objects = Vec::new();
    let mut rules_done = std::collections::HashSet::new();
    for s in &report.sightings {
        let published = match s.kind {
            ward_hunt::SightingKind::Sigma => sharing.published.get(&s.id).cloned(),
            ward_hunt::SightingKind::Indicator => None,
        };
        let of = match (s.kind, published) {
            (_, Some(id)) => id,
            (ward_hunt::SightingKind::Indicator, None) if s.id.starts_with("indicator--") => {
                s.id.clone()
            }
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
                    let mut extra = serde_json::Map::new();
                    if !s.tags.is_empty() {
                        extra.insert("labels".into(), json!(s.tags));
                        let cves: Vec<serde_json::Value> = s
                            .tags
                            .iter()
                            .filter_map(|t| ward_store::cve_of(t))
                            .map(|c| json!({"source_name": "cve", "external_id": c}))
                            .collect();
                        if !cves.is_empty() {
                            extra.insert("external_references".into(), json!(cves));
                        }
                    }
                    objects.push(StixObject {
                        kind: StixObject::INDICATOR.into(),
                        spec_version: Some("2.1".into()),
                        id: Some(id.clone()),
                        created: Some(stamp.clone()),
                        modified: Some(stamp.clone()),
                        name: Some(s.title.clone()),
                        pattern_type: Some(pattern_type.into()),
                        pattern: Some(pattern),
                        valid_from: Some(stamp.clone()),
                        extra,
                        ..StixObject::default()
                    });
                }
                id
            }
        };
        let seen = s
            .timestamp
            .unwrap_or(now)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut extra = serde_json::Map::new();
        if let Some(source) = &s.evidence.source {
            extra.insert("x_ward_source".into(), json!(source));
        }
        extra.insert("x_ward_line_sha256".into(), json!(s.evidence.line_sha256));
        if sharing.excerpts {
            extra.insert("x_ward_excerpt".into(), json!(s.evidence.excerpt));
        }
        if let Some(asset) = sharing.asset {
            extra.insert("x_ward_asset".into(), json!(asset));
        }
        if !s.tags.is_empty() {
            extra.insert("x_ward_tags".into(), json!(s.tags));
        }
        objects.push(StixObject {
            kind: StixObject::SIGHTING.into(),
            spec_version: Some("2.1".into()),
            id: Some(stix_id(
                "sighting",
                &format!("{}:{}:{}", s.id, s.file, s.line),
            )),
            created: Some(stamp.clone()),
            modified: Some(stamp.clone()),
            first_seen: Some(seen.clone()),
            last_seen: Some(seen),
            count: Some(1),
            sighting_of_ref: Some(of),
            x_ward_level: s.level.clone(),
            x_ward_file: Some(s.file.clone()),
            x_ward_line: Some(s.line),
            x_ward_matched: Some(serde_json::to_value(&s.matched).expect("strings serialise")),
            extra,
            ..StixObject::default()
        });
    }
    SightingsBundle {
        kind: SightingsBundle::KIND.into(),
        id: Some(stix_id("bundle", &stamp)),
        objects,
    }
}

fn table(report: &Report) -> String {
    if report.sightings.is_empty() {
        return "No sightings.".into();
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
    t.to_string()
}
