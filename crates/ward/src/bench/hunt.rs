//! `ward bench hunt`: `ward hunt`'s speed and memory on a generated access log.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use ward_hunt::{Hunter, Input};

/// `ward bench hunt`'s flags.
#[derive(clap::Args)]
pub(crate) struct Options {
    /// Sigma rules (files or folders); repeat for more.
    #[arg(long)]
    rules: Vec<PathBuf>,
    /// Generated STIX indicators (IPs, CIDRs, domains, URLs, hashes, LIKE and MATCHES).
    #[arg(long = "indicators", value_name = "N", default_value_t = 10_000)]
    n_indicators: usize,
    /// Size of the generated log in MB (10^6 bytes).
    #[arg(long, default_value_t = 1000)]
    size_mb: u64,
    /// Split the log into this many files (rotated logs: read in parallel).
    #[arg(long, default_value_t = 1)]
    files: usize,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Keep the generated log in this folder, and reuse it when it is already there.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Hunt (and grep, and ripgrep) this many times, one after the other; the medians are
    /// reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also hunt the same log gzip-compressed (one file: inflated on one thread, its lines
    /// hunted by every thread), beside `gzip -dc` of it.
    #[arg(long)]
    gzip: bool,
}

/// `ward bench hunt`: a generated access log (ordinary traffic with a few exploit requests and
/// indicator hits), the given rules and `n_indicators` generated STIX indicators.
pub(crate) fn bench(options: Options) -> anyhow::Result<serde_json::Value> {
    let Options {
        rules,
        n_indicators,
        size_mb,
        keep,
        threads,
        gzip,
        ..
    } = options;
    let (files, runs) = (options.files.max(1), options.runs.max(1));
    let temp = tempfile::tempdir()?;
    let dir = keep.unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let started = Instant::now();
    let rss_start = super::peak_rss_mib();
    let bundle = generated_bundle(n_indicators);
    let bundle_path = dir.join("indicators.json");
    std::fs::write(&bundle_path, &bundle)?;
    let loaded = crate::hunt::load(&rules, &[bundle_path])?;
    let load_seconds = started.elapsed().as_secs_f64();
    let rss_loaded = super::peak_rss_mib();

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
    let threads = threads.unwrap_or_else(crate::cores);
    let hunter = Hunter {
        rules: &loaded.rules,
        indicators: &loaded.indicators,
        format: None,
        threads,
        now: chrono::Utc::now(),
    };
    // Beside it, in the same run: fixed-string searches for the web rules' literals over the
    // same files (case-insensitive, as Sigma matches), by grep and by ripgrep when installed.
    let literals = dir.join("web-literals.txt");
    std::fs::write(&literals, loaded.rules.web_literals().join("\n") + "\n")?;
    let paths: Vec<&Path> = logs
        .iter()
        .filter_map(|l| match l {
            Input::Path(p) => Some(p.as_path()),
            _ => None,
        })
        .collect();
    // Each run hunts, then greps, then ripgreps: a machine that slows down for a while slows
    // all three.
    let (mut hunts, mut greps, mut rgs) = (Vec::new(), Vec::new(), Vec::new());
    let mut report = None;
    for _ in 0..runs {
        let hunting = Instant::now();
        report = Some(hunter.run(&logs, &|_| {}));
        hunts.push(hunting.elapsed().as_secs_f64());
        greps.extend(searcher_seconds(
            "grep",
            &["-F", "-i", "-c", "-f"],
            &literals,
            &paths,
        ));
        rgs.extend(searcher_seconds(
            "rg",
            &["-F", "-i", "-c", "-f"],
            &literals,
            &paths,
        ));
    }
    let report = report.expect("at least one run");
    // The same logs compressed, hunted the same number of times, beside `gzip -dc` of them.
    let mut gzip_row = serde_json::Value::Null;
    if gzip {
        let mut compressed = Vec::new();
        for path in &paths {
            let gz = path.with_extension(format!(
                "{}.gz",
                path.extension().and_then(|e| e.to_str()).unwrap_or("log")
            ));
            if !gz.exists() {
                let mut out = flate2::write::GzEncoder::new(
                    std::io::BufWriter::new(std::fs::File::create(&gz)?),
                    flate2::Compression::fast(),
                );
                std::io::copy(&mut std::fs::File::open(path)?, &mut out)?;
                out.finish()?;
            }
            compressed.push(gz);
        }
        let inputs: Vec<Input> = compressed.iter().cloned().map(Input::Path).collect();
        let gz_paths: Vec<&Path> = compressed.iter().map(PathBuf::as_path).collect();
        let (mut hunts, mut gunzips) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let started = Instant::now();
            let r = hunter.run(&inputs, &|_| {});
            hunts.push(started.elapsed().as_secs_f64());
            anyhow::ensure!(
                r.sightings.len() == report.sightings.len(),
                "the compressed log gave {} sightings, the plain one {}",
                r.sightings.len(),
                report.sightings.len()
            );
            gunzips.extend(gunzip_seconds(&gz_paths));
        }
        let seconds = median(&mut hunts.clone()).expect("at least one run");
        let gunzip = median(&mut gunzips.clone());
        gzip_row = json!({
            "compressed_bytes": compressed.iter().map(|p| std::fs::metadata(p).map_or(0, |m| m.len())).sum::<u64>(),
            "hunt_seconds": seconds,
            "hunt_seconds_each": hunts,
            "mb_per_second": bytes_of(&report) as f64 / 1e6 / seconds,
            "gzip_dc_seconds": gunzip,
            "hunt_to_gzip_dc": gunzip.map(|g| seconds / g),
        });
    }
    let seconds = median(&mut hunts.clone()).expect("at least one run");
    let grep = median(&mut greps.clone());
    let rg = median(&mut rgs.clone());
    let bytes = bytes_of(&report);
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
        "web_rules_prefiltered": loaded.rules.prefiltered().0,
        "web_rules_always": loaded.rules.prefiltered().1,
        "indicators": loaded.indicators.len(),
        "load_seconds": load_seconds,
        "peak_rss_mib_before_loading": rss_start,
        "peak_rss_mib_after_loading": rss_loaded,
        "files": files,
        "threads": threads,
        "bytes": bytes,
        "lines": lines,
        "generate_seconds": generate_seconds,
        "runs": runs,
        "gzip": gzip_row,
        "hunt_seconds": seconds,
        "hunt_seconds_each": hunts,
        "grep_f_seconds_each": greps,
        "rg_f_seconds_each": rgs,
        "mb_per_second": bytes as f64 / 1e6 / seconds,
        "lines_per_second": lines as f64 / seconds,
        "sightings": report.sightings.len(),
        "sigma_sightings": sigma,
        "indicator_sightings": report.sightings.len() - sigma,
        "unreadable_lines": report.files.iter().map(|f| f.unreadable).sum::<u64>(),
        "peak_rss_mib": super::peak_rss_mib(),
        "literals": loaded.rules.web_literals().len(),
        "grep_f_seconds": grep,
        "hunt_to_grep": grep.map(|g| seconds / g),
        "rg_f_seconds": rg,
        "hunt_to_rg": rg.map(|r| seconds / r),
    }))
}

fn bytes_of(report: &ward_hunt::Report) -> u64 {
    report.files.iter().map(|f| f.bytes).sum()
}

/// The middle value (sorts the slice); `None` for none.
fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

/// Seconds a fixed-string search takes over the logs (`None` when the program is not
/// installed or fails).
fn searcher_seconds(program: &str, args: &[&str], patterns: &Path, logs: &[&Path]) -> Option<f64> {
    let started = Instant::now();
    // Output to a pipe, not /dev/null: GNU grep stops at the first match when it sees its
    // output is /dev/null.
    let output = std::process::Command::new(program)
        .args(args)
        .arg(patterns)
        .args(logs)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    // grep exits 1 when nothing matched: still a complete search.
    matches!(output.status.code(), Some(0 | 1)).then(|| started.elapsed().as_secs_f64())
}

/// Seconds `gzip -dc` takes to inflate the logs (`None` when gzip is not installed or fails).
fn gunzip_seconds(logs: &[&Path]) -> Option<f64> {
    let started = Instant::now();
    let status = std::process::Command::new("gzip")
        .arg("-dc")
        .args(logs)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then(|| started.elapsed().as_secs_f64())
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
