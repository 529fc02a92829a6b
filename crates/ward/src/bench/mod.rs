//! `ward bench`: measured speed and memory, for the closing notes and for comparing commits.
//!
//! Each run measures one thing in its own process, so that peak RSS (VmHWM from
//! `/proc/self/status`) belongs to that thing alone:
//! - `ward bench import PATH…`: import into a fresh database; records/s and peak RSS.
//! - `ward bench scan --components N`: scan a generated N-component inventory (real product
//!   names drawn from the database) after the database is open; milliseconds and peak RSS; and
//!   the whole `ward scan FILE` as a process of its own beside `ward db status` (`cli`).
//! - `ward bench busy PATH…`: a member's worklist, upload and sign-in latency while PATH is
//!   imported into the server's database.
//! - `ward bench hunt --rules PATH`: hunt through a generated access log (1 GB by default, in
//!   rotated files with --files) with the rules and 10,000 generated indicators; MB/s and peak RSS.

mod bombs;
mod busy;
mod exposure;
mod feeds;
mod hostile;
mod hunt;

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use serde_json::json;
use ward_model::{Asset, Component, Cpe, Inventory, Part};
use ward_store::Store;

use crate::import::{import_paths, progress_bar};
use crate::scan::load_knowledge;
use crate::{DbArgs, TextOrJson, exit};

#[derive(Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    what: BenchCommand,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", global = true)]
    format: TextOrJson,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Import feeds into a fresh database (or --db) and report records/s and peak RSS.
    Import {
        /// Database to import into (default: a fresh temporary file).
        #[arg(long)]
        db: Option<String>,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Scan a generated inventory against an existing database, in this process and as `ward
    /// scan FILE` beside `ward db status` (processes of their own, the same database).
    Scan {
        #[command(flatten)]
        db: DbArgs,
        /// Components in the generated inventory.
        #[arg(long, default_value_t = 5000)]
        components: usize,
        /// Components per asset.
        #[arg(long, default_value_t = 50)]
        per_asset: usize,
        /// Repetitions (the fastest and the median are reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Generate components named by purl from the database's OSV packages (an SBOM of
        /// open-source packages) instead of CPEs from its products.
        #[arg(long)]
        purl: bool,
        /// Also write the generated inventory (Ward CSV, as `ward scan` reads it) to this
        /// file, to scan or profile by hand.
        #[arg(long, value_name = "FILE")]
        keep: Option<PathBuf>,
    },
    /// A generated federation (members × assets × components, real product names from the
    /// database) against the knowledge base in --db: full matching time, the latency from one
    /// new KEV entry to the affected members' notifications in the outbox, and the worklist
    /// API's throughput and p99 under wrk (when installed).
    Federation {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, default_value_t = 200)]
        members: usize,
        #[arg(long, default_value_t = 100)]
        assets: usize,
        #[arg(long, default_value_t = 50)]
        components: usize,
        /// Seconds of load on the worklist endpoint.
        #[arg(long, default_value_t = 10)]
        load_seconds: u64,
        /// After the load on one server, the same load over this many `ward serve` side by
        /// side (one in this process, the others started on the same database), as behind a
        /// load balancer.
        #[arg(long, default_value_t = 1)]
        servers: usize,
        /// Leave out the KEV step: the database is left as full matching left it, so that
        /// `ward bench kev` on copies of it lists the same vulnerability each time.
        #[arg(long)]
        no_kev: bool,
    },
    /// One new KEV entry on a federation already matched (the database `federation` leaves,
    /// or a copy of it): the latency from the import's commit to the affected members'
    /// notifications in the outbox, for a vulnerability many members have that KEV does not
    /// list yet (the same one on copies of the same database).
    Kev {
        #[command(flatten)]
        db: DbArgs,
    },
    /// From a KEV publication to the members' notifications: a generated federation (as
    /// `federation`) on a copy of a knowledge-only database, `ward serve --feeds` polling a
    /// loopback publisher every --every seconds, the central team's webhook on loopback; the
    /// publisher adds a KEV entry for a vulnerability some members have, and the time to each
    /// notification delivered is reported, split into poll wait, download and import,
    /// matching and delivery. `--cve5 ARCHIVE`: also the first load of a CVE 5 archive through
    /// the sync path against `ward db import` of the same file.
    Feeds {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, default_value_t = 200)]
        members: usize,
        #[arg(long, default_value_t = 100)]
        assets: usize,
        #[arg(long, default_value_t = 50)]
        components: usize,
        /// Seconds between KEV polls.
        #[arg(long, default_value_t = 30)]
        every: u64,
        #[arg(long, value_name = "ARCHIVE")]
        cve5: Option<PathBuf>,
    },
    /// Hunt through a generated access log with Sigma rules and generated indicators.
    Hunt(hunt::Options),
    /// Outside-in attribution: a generated scan report (Shadowserver's columns) read and
    /// attributed against a generated footprint of IP blocks (nested ones among them), IPv6
    /// blocks, domains and AS numbers; beside it a linear scan of every claim on a sample,
    /// checked to agree.
    Attribution {
        /// Observations in the report.
        #[arg(long, default_value_t = 1_000_000)]
        observations: usize,
        /// Footprint claims (blocks, domains, AS numbers).
        #[arg(long, default_value_t = 10_000)]
        prefixes: usize,
        /// Members the claims belong to.
        #[arg(long, default_value_t = 200)]
        members: u32,
    },
    /// A generated scan report posted to `ward serve` on a copy of a knowledge database (as
    /// for `federation`): members with approved /24s, one observation per address, one in ten
    /// an EPMM; the time to record, attribute, build and match the observed assets and raise
    /// alerts, and the same report again.
    Observations {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, default_value_t = 20)]
        members: usize,
        /// Observations (addresses) in the report.
        #[arg(long, default_value_t = 1000)]
        rows: usize,
    },
    /// Decompression bombs (.gz, .xz, .zip, .tar.gz) imported within the default limits, each
    /// in its own process: the error and the peak RSS of each.
    Bombs {
        /// What each bomb expands to (e.g. 2GiB).
        #[arg(long, default_value = "2GiB", value_parser = ward_feeds::parse_size)]
        expand: u64,
        /// Also import each with the limits lifted (as Ward did before them), for the ratio.
        #[arg(long)]
        unbounded: bool,
    },
    /// `/api/v1/health` latency while member analysts upload crafted CycloneDX XML and strangers
    /// burst wrong logins.
    Hostile {
        /// Seconds of load.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Concurrent uploaders of the crafted XML.
        #[arg(long, default_value_t = 2)]
        uploaders: usize,
        /// Size of the crafted XML in MB (10^6 bytes; uploads are capped at 16 MiB).
        #[arg(long, default_value_t = 5.4)]
        xml_mb: f64,
        /// Concurrent login guessers.
        #[arg(long, default_value_t = 50)]
        guessers: usize,
    },
    /// A member's worklist, uploads and sign-ins (p50/p99/max) before and while a feed
    /// corpus is imported into the server's database, and the import's duration.
    Busy {
        /// Database (default: a fresh temporary SQLite file).
        #[arg(long)]
        db: Option<String>,
        /// What to import during the traffic (e.g. the CVE 5 corpus).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Documents parsed before the import takes the write lock (`1` takes it at once, as
        /// Ward did before the buffer: the figure to compare with).
        #[arg(long, default_value = "384MiB", value_parser = ward_feeds::parse_size)]
        buffer: u64,
    },
    /// One import for `bombs` (its own process, so its peak RSS is its own).
    #[command(hide = true)]
    BombOne {
        #[arg(long)]
        db: String,
        path: PathBuf,
        #[arg(long)]
        unbounded: bool,
    },
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`); `None` elsewhere.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<u8> {
    let report = match args.what {
        BenchCommand::Import { db, paths } => {
            let dir = tempfile::tempdir()?;
            let location = db.unwrap_or_else(|| dir.path().join("bench.db").display().to_string());
            let store = Store::open(&location).await?;
            let bar = progress_bar("importing");
            let mut warnings = Vec::new();
            let started = Instant::now();
            let summary =
                import_paths(&store, paths, Default::default(), &bar, &mut warnings).await;
            bar.finish_and_clear();
            let summary = summary?;
            let seconds = started.elapsed().as_secs_f64();
            let db_bytes = store.size_bytes().await?;
            let backend = store.backend().as_str();
            store.close().await;
            json!({
                "bench": "import",
                "backend": backend,
                "documents": summary.documents,
                "records": summary.records(),
                "errors": summary.errors.len(),
                "seconds": seconds,
                "records_per_second": summary.records() as f64 / seconds,
                "documents_per_second": summary.documents as f64 / seconds,
                "peak_rss_mib": peak_rss_mib(),
                "database_mib": db_bytes as f64 / 1048576.0,
            })
        }
        BenchCommand::Scan {
            db,
            components,
            per_asset,
            runs,
            purl,
            keep,
        } => {
            let store = Store::open(&db.location()).await?;
            let products = if purl {
                store.package_keys().await?
            } else {
                store.product_keys().await?
            };
            anyhow::ensure!(
                !products.is_empty(),
                "the database has no {}: import feeds first (`ward db import`)",
                if purl { "OSV packages" } else { "products" }
            );
            let inventory = if purl {
                generate(&products, components, per_asset.max(1), purl_component)
            } else {
                generate(&products, components, per_asset.max(1), cpe_component)
            };
            let policy = ward_priority::Policy::load("ssvc-deployer")?;
            // The baseline in the same run: `ward scan` of the inventory as a file, a process
            // of its own (start, open, load, match, JSON out), beside `ward db status` on the
            // same database. First, while this process is small: a child's peak RSS can count
            // what it shared with this process before it started `ward`.
            let cli = cli_scan(&db.location(), &inventory, runs.max(1), keep.as_deref()).await?;
            let mut times = Vec::new();
            let mut load = Vec::new();
            let mut matching = Vec::new();
            let mut findings = 0;
            let mut advisories = 0;
            for _ in 0..runs.max(1) {
                let started = Instant::now();
                let knowledge = load_knowledge(&store, &inventory).await?;
                let loaded = started.elapsed();
                let report =
                    ward_matching::scan::scan_on(crate::cores(), &knowledge, &inventory, &policy);
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                load.push(loaded.as_secs_f64() * 1000.0);
                matching.push((started.elapsed() - loaded).as_secs_f64() * 1000.0);
                findings = report.findings.len();
                advisories = knowledge.advisory_count();
            }
            load.sort_by(f64::total_cmp);
            matching.sort_by(f64::total_cmp);
            store.close().await;
            times.sort_by(f64::total_cmp);

            json!({
                "bench": "scan",
                "components": inventory.component_count(),
                "assets": inventory.assets.len(),
                "distinct_products_in_db": products.len(),
                "findings": findings,
                "runs": times.len(),
                "fastest_ms": times[0],
                "median_ms": times[times.len() / 2],
                "median_load_ms": load[load.len() / 2],
                "median_match_ms": matching[matching.len() / 2],
                "advisory_views_loaded": advisories,
                "peak_rss_mib": peak_rss_mib(),
                "cli": cli,
            })
        }
        BenchCommand::Federation {
            db,
            members,
            assets,
            components,
            load_seconds,
            servers,
            no_kev,
        } => {
            federation(
                &db.location(),
                members,
                assets,
                components,
                load_seconds,
                servers,
                no_kev,
            )
            .await?
        }
        BenchCommand::Kev { db } => {
            let location = db.location();
            let store = Store::open(&location).await?;
            let policy = ward_priority::Policy::load("ssvc-deployer")?;
            let kev = kev_step(&store, &policy).await?;
            json!({
                "bench": "kev",
                "backend": store.backend().as_str(),
                "kev": kev,
                "peak_rss_mib": peak_rss_mib(),
            })
        }
        BenchCommand::Hunt(options) => hunt::bench(options)?,
        BenchCommand::Attribution {
            observations,
            prefixes,
            members,
        } => {
            tokio::task::spawn_blocking(move || {
                exposure::bench(observations, prefixes, members.max(1))
            })
            .await??
        }
        BenchCommand::Observations { db, members, rows } => {
            exposure::import_bench(&db.location(), members.max(1), rows).await?
        }
        BenchCommand::Bombs { expand, unbounded } => {
            tokio::task::spawn_blocking(move || bombs::bench(expand, unbounded)).await??
        }
        BenchCommand::Hostile {
            seconds,
            uploaders,
            xml_mb,
            guessers,
        } => hostile::bench(seconds, uploaders, xml_mb, guessers).await?,
        BenchCommand::Busy { db, paths, buffer } => busy::bench(db, paths, buffer).await?,
        BenchCommand::Feeds {
            db,
            members,
            assets,
            components,
            every,
            cve5,
        } => feeds::bench(&db.location(), members, assets, components, every, cve5).await?,
        BenchCommand::BombOne {
            db,
            path,
            unbounded,
        } => bombs::one(&db, path, unbounded).await?,
    };
    match args.format {
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        TextOrJson::Text => {
            if let Some(map) = report.as_object() {
                for (k, v) in map {
                    println!("{k}: {v}");
                }
            }
        }
    }
    Ok(exit::OK)
}

/// `ward scan FILE --format json` (output discarded) and `ward db status` on the same
/// database, `runs` times each in processes of their own: the medians, their ratio and the
/// scan's peak RSS.
async fn cli_scan(
    location: &str,
    inventory: &Inventory,
    runs: usize,
    keep: Option<&std::path::Path>,
) -> anyhow::Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("inventory.csv");
    let mut csv = csv::Writer::from_path(&file)?;
    csv.write_record(["asset", "vendor", "product", "version", "cpe", "purl"])?;
    for asset in &inventory.assets {
        for c in &asset.components {
            let cpe = c.cpe.as_ref().map(ToString::to_string);
            csv.write_record([
                asset.name.as_str(),
                c.cpe
                    .as_ref()
                    .and_then(|p| p.vendor.literal())
                    .unwrap_or(""),
                c.name.as_str(),
                c.version.as_deref().unwrap_or(""),
                cpe.as_deref().unwrap_or(""),
                c.purl.as_deref().unwrap_or(""),
            ])?;
        }
    }
    csv.flush()?;
    drop(csv);
    if let Some(keep) = keep {
        std::fs::copy(&file, keep)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", keep.display()))?;
    }
    let exe = std::env::current_exe()?;
    let timed = |args: Vec<std::ffi::OsString>| {
        let exe = exe.clone();
        async move {
            let started = Instant::now();
            let out = tokio::process::Command::new(&exe)
                .args(&args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .output()
                .await?;
            // `ward scan` exits 1 when it finds something: only 2 is a failure.
            anyhow::ensure!(
                out.status.code().is_some_and(|c| c < 2),
                "{:?} failed: {}",
                args,
                String::from_utf8_lossy(&out.stderr)
            );
            anyhow::Ok(started.elapsed().as_secs_f64() * 1000.0)
        }
    };
    let (mut scan, mut status) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        status.push(
            timed(vec![
                "db".into(),
                "status".into(),
                "--db".into(),
                location.into(),
            ])
            .await?,
        );
        scan.push(
            timed(vec![
                "scan".into(),
                file.clone().into_os_string(),
                "--db".into(),
                location.into(),
                "--format".into(),
                "json".into(),
            ])
            .await?,
        );
    }
    scan.sort_by(f64::total_cmp);
    status.sort_by(f64::total_cmp);
    let (scan, status) = (scan[scan.len() / 2], status[status.len() / 2]);
    Ok(json!({
        "scan_ms": scan,
        "db_status_ms": status,
        "scan_to_db_status": scan / status,
        "scan_peak_rss_mib": children_peak_rss_mib(),
        "bench_rss_when_started_mib": current_rss_mib(),
    }))
}

/// This process's resident set now, in MiB (Linux `VmRSS`).
fn current_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The largest peak RSS of this process's finished children, in MiB (`getrusage`).
fn children_peak_rss_mib() -> Option<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    // Linux reports ru_maxrss in KiB.
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    Some(usage.max_rss() as f64 / 1024.0)
}

/// A component named by CPE, for a `(vendor, product)` key.
fn cpe_component((vendor, product): &(String, String), version: &str) -> Component {
    Component {
        name: product.clone(),
        version: Some(version.to_owned()),
        cpe: Some(Cpe::new(Part::Application, vendor, product, Some(version))),
        ..Component::default()
    }
}

/// A component named by purl, for an OSV package key (`pkg:pypi`, name).
fn purl_component((ecosystem, name): &(String, String), version: &str) -> Component {
    let ty = ward_model::purl::purl_type_for_ecosystem(ecosystem.trim_start_matches("pkg:"));
    // Go module versions carry a `v`.
    let v = if ty == "golang" { "v" } else { "" };
    Component {
        name: name.clone(),
        version: Some(version.to_owned()),
        purl: Some(format!("pkg:{ty}/{name}@{v}{version}")),
        ..Component::default()
    }
}

/// A deterministic inventory: components spread evenly over the database's products (or OSV
/// packages), made by `make`, with versions from a small set of common shapes so that ranges
/// are exercised.
fn generate(
    products: &[(String, String)],
    n: usize,
    per_asset: usize,
    make: fn(&(String, String), &str) -> Component,
) -> Inventory {
    const VERSIONS: [&str; 8] = [
        "1.0",
        "2.4.1",
        "3.0.0",
        "5.1.2",
        "7.0.0-beta",
        "10.2",
        "12.5.0.0",
        "2023.1",
    ];
    let stride = (products.len() / n.max(1)).max(1);
    let components: Vec<Component> = (0..n)
        .map(|i| {
            let key = &products[(i * stride + i / products.len()) % products.len()];
            make(key, VERSIONS[i % VERSIONS.len()])
        })
        .collect();
    Inventory {
        assets: components
            .chunks(per_asset)
            .enumerate()
            .map(|(i, c)| Asset {
                name: format!("asset-{i:04}"),
                components: c.to_vec(),
                ..Asset::default()
            })
            .collect(),
    }
}

/// Fills a knowledge-only database with a generated federation: the central team, `members`
/// trusts of `assets` assets of `components` components each (real product names from the
/// knowledge base), uploaded unmatched. Returns the central and the first member's tokens.
/// The central team of a generated federation, on a database that holds none yet, and a
/// token of `role` for it.
pub(crate) async fn central_team(
    store: &Store,
    location: &str,
    role: ward_store::Role,
) -> anyhow::Result<String> {
    anyhow::ensure!(
        store.central().await?.is_none(),
        "{} holds a federation already: use a copy of a knowledge-only database",
        ward_store::redact(location)
    );
    store
        .create_organisation("bench", "central", "Central team", true)
        .await?;
    Ok(store
        .create_token("bench", "central", "bench", role)
        .await?
        .1)
}

pub(crate) async fn populate(
    store: &Store,
    location: &str,
    policy: &ward_priority::Policy,
    members: usize,
    assets: usize,
    components: usize,
) -> anyhow::Result<(String, String)> {
    // The bench is the operator's own tool: it holds the database.
    let operator = ward_store::Scope::operator();
    use ward_store::Role;
    let products = store.product_keys().await?;
    anyhow::ensure!(
        !products.is_empty(),
        "the database has no products: import the CVE 5 corpus first (`ward db import`)"
    );
    let actor = "bench";
    let central_token = central_team(store, location, Role::CentralAdmin).await?;
    let inventory = generate(
        &products,
        members * assets * components,
        components,
        cpe_component,
    );
    let mut member_token = String::new();
    let mut chunks = inventory.assets.chunks(assets);
    for m in 0..members {
        let slug = format!("trust-{m:04}");
        let org = store
            .create_organisation(actor, &slug, &format!("Trust {m}"), false)
            .await?;
        if m == 0 {
            member_token = store
                .create_token(actor, &slug, "bench", Role::MemberAnalyst)
                .await?
                .1;
        }
        for (i, a) in chunks.next().unwrap_or_default().iter().enumerate() {
            let row = store
                .create_asset(
                    actor,
                    operator
                        .within(org.id)
                        .expect("the operator reaches every member"),
                    &ward_store::NewAsset {
                        name: format!("asset-{i:03}"),
                        exposure: Some(ward_model::Exposure::Open),
                        criticality: Some(ward_model::Criticality::High),
                        tags: Vec::new(),
                    },
                )
                .await?;
            let keys = ward_matching::scan::inventory_keys(&ward_model::Inventory {
                assets: vec![a.clone()],
            });
            let upload = ward_store::InventoryUpload {
                format: "generated",
                file_name: "bench.csv",
                bytes: b"",
                components: &a.components,
                keys: &keys,
                findings: &[],
                knowledge_mark: store.knowledge_mark().await?,
                keep_versions: ward_priority::policy::DEFAULT_INVENTORY_VERSIONS,
            };
            store
                .upload_inventory(actor, &row, &upload, policy.alert_threshold)
                .await?;
        }
    }
    Ok((central_token, member_token))
}

/// `ward bench federation`.
async fn federation(
    location: &str,
    members: usize,
    assets: usize,
    components: usize,
    load_seconds: u64,
    servers: usize,
    no_kev: bool,
) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!((1..=16).contains(&servers), "--servers: 1 to 16");
    let store = Store::open(location).await?;
    let policy = ward_priority::Policy::load("ssvc-deployer")?;
    let started = Instant::now();
    let (central_token, member_token) =
        populate(&store, location, &policy, members, assets, components).await?;
    let setup = started.elapsed().as_secs_f64();
    let (actor, operator) = ("bench", ward_store::Scope::operator());
    let central = store
        .central()
        .await?
        .ok_or_else(|| anyhow::anyhow!("the federation has no central team"))?;
    store
        .add_channel(
            actor,
            operator
                .within(central.id)
                .expect("the operator reaches every organisation"),
            ward_model::ChannelKind::Webhook,
            "http://127.0.0.1:9/unreachable",
            Some("bench-secret-0123456789"),
        )
        .await?;

    let started = Instant::now();
    let (run, in_memory) = ward_server::match_all(&store, &policy).await?;
    let full = started.elapsed().as_secs_f64();
    let counts = store.outbox_counts().await?;

    // One new KEV entry for a vulnerability many members have.
    let kev = if no_kev {
        json!({"skipped": "--no-kev"})
    } else {
        kev_step(&store, &policy).await?
    };

    // The worklist under load.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let serving = tokio::spawn(ward_server::serve(
        store.clone(),
        policy.clone(),
        listener,
        ward_server::ServeOptions {
            feeds: None,
            bundle_dir: None,
            tick: std::time::Duration::from_secs(3600),
            delivery_hold: std::time::Duration::from_secs(30),
            mailer: None,
            targets: ward_server::outbound::Targets::default(),
            audit_key: None,
            tls: None,
            import_limits: ward_import::Limits::DEFAULT,
        },
    ));
    // One server, then (with --servers N) N side by side on the same database.
    let mut urls = vec![url];
    let load = worklist_load(&urls, &member_token, load_seconds, "").await;
    // The central team's worklist (every member's open findings): its first page, and a page
    // halfway down by cursor.
    let central_load = worklist_load(&urls, &central_token, load_seconds, "").await;
    let open = store
        .findings(&ward_store::FindingQuery::new(operator))
        .await?
        .1;
    let halfway = store
        .findings(&ward_store::FindingQuery {
            limit: 1,
            offset: open / 2,
            ..ward_store::FindingQuery::new(operator)
        })
        .await?
        .0;
    let central_deep = match halfway.first() {
        Some(row) => {
            let query = format!("?after={}", row.position);
            worklist_load(&urls, &central_token, load_seconds, &query).await
        }
        None => json!(null),
    };
    let mut others = Vec::new();
    for _ in 1..servers {
        let (child, url) = start_server(location).await?;
        others.push(child);
        urls.push(url);
    }
    let load_n = if servers > 1 {
        worklist_load(&urls, &member_token, load_seconds, "").await
    } else {
        json!(null)
    };
    for mut child in others {
        let _ = child.kill().await;
    }
    serving.abort();
    let _ = serving.await;
    let backend = store.backend().as_str();
    // Closed, so that SQLite folds its write-ahead log into the file: a copy of the file
    // alone (as the README's KEV bench makes) is then the whole database.
    store.close().await;
    Ok(json!({
        "bench": "federation",
        "members": members,
        "assets": members * assets,
        "components": members * assets * components,
        "setup_seconds": setup,
        "full_matching_seconds": full,
        "full_matching_in_memory_seconds": in_memory,
        "findings": run.new,
        "assets_with_changes": run.assets,
        "alerts": run.alerts,
        "notifications_queued": counts.pending,
        "kev": kev,
        "backend": backend,
        "servers": servers,
        "open_findings": open,
        "worklist": load,
        "worklist_central": central_load,
        "worklist_central_halfway": central_deep,
        "worklist_all_servers": load_n,
        "peak_rss_mib": peak_rss_mib(),
    }))
}

/// Lists in KEV a vulnerability many members have and KEV does not list yet, and measures
/// the time from before the import to the notifications queued by continuous matching.
async fn kev_step(
    store: &Store,
    policy: &ward_priority::Policy,
) -> anyhow::Result<serde_json::Value> {
    Ok(match store.unlisted_finding().await? {
        Some((cve, orgs)) => {
            let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let started = Instant::now();
            let mut tx = store.begin_import().await?;
            tx.upsert_kev(&ward_model::KevEntry {
                cve_id: cve.clone(),
                date_added: Some(chrono::Utc::now().date_naive()),
                due_date: Some(chrono::Utc::now().date_naive() + chrono::Duration::days(21)),
                ..ward_model::KevEntry::default()
            })
            .await?;
            tx.commit(&json!({"bench": "kev"})).await?;
            let run = ward_server::match_knowledge_changes(store, policy).await?;
            let latency = started.elapsed().as_secs_f64();
            let (queued, notified_orgs) = store.outbox_since(&since).await?;
            json!({"cve": cve, "members_with_findings": orgs, "assets_rematched": run.assets,
                   "notifications_queued": queued, "members_notified": notified_orgs, "latency_ms": latency * 1000.0})
        }
        None => json!(null),
    })
}

/// Another `ward serve` on the same database (this binary, a process of its own); killed
/// when dropped.
async fn start_server(location: &str) -> anyhow::Result<(tokio::process::Child, String)> {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tick",
            "3600",
            "--db",
            location,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| anyhow::anyhow!("ward serve said {line:?}"))?
        .to_owned();
    Ok((child, url))
}

/// wrk against `GET /api/v1/findings{query}` with a token, on each server at once (16
/// connections in all, shared out): requests/s summed, latency percentiles the worst server's.
async fn worklist_load(
    urls: &[String],
    token: &str,
    seconds: u64,
    query: &str,
) -> serde_json::Value {
    let runs: Vec<_> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let connections = 16 / urls.len() + usize::from(i < 16 % urls.len());
            let (url, token, query) = (url.clone(), token.to_owned(), query.to_owned());
            tokio::spawn(async move { wrk(&url, &token, seconds, connections, &query).await })
        })
        .collect();
    let mut results = Vec::with_capacity(runs.len());
    for run in runs {
        results.push(
            run.await
                .unwrap_or_else(|e| json!({"skipped": format!("wrk: {e}")})),
        );
    }
    if let Some(skipped) = results.iter().find(|r| r.get("skipped").is_some()) {
        return skipped.clone();
    }
    let rps: f64 = results
        .iter()
        .filter_map(|r| r["requests_per_second"].as_str()?.parse::<f64>().ok())
        .sum();
    let worst = |field: &str| {
        results
            .iter()
            .filter_map(|r| r[field].as_str().map(str::to_owned))
            .max_by(|a, b| latency_ms(a).total_cmp(&latency_ms(b)))
    };
    json!({
        "tool": format!("wrk -t1, 16 connections over {} server(s)", urls.len()),
        "requests_per_second": format!("{rps:.2}"),
        "p50": worst("p50"),
        "p99": worst("p99"),
        "per_server": results,
    })
}

/// wrk's latency ("312.45ms", "1.70s", "950.00us") in milliseconds.
fn latency_ms(text: &str) -> f64 {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("m") {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::INFINITY) * factor
}

async fn wrk(
    url: &str,
    token: &str,
    seconds: u64,
    connections: usize,
    query: &str,
) -> serde_json::Value {
    let target = format!("{url}/api/v1/findings{query}");
    let header = format!("Authorization: Bearer {token}");
    let duration = format!("{seconds}s");
    let connections = format!("-c{connections}");
    let args = [
        "-t1",
        connections.as_str(),
        "-d",
        duration.as_str(),
        "--latency",
        "-H",
        header.as_str(),
        target.as_str(),
    ];
    let output = tokio::process::Command::new("wrk")
        .args(args)
        .output()
        .await;
    let Ok(output) = output else {
        return json!({"skipped": "wrk is not installed (apt-get install wrk)"});
    };
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
    };
    json!({
        "requests_per_second": field("Requests/sec:"),
        "p50": field("50%"),
        "p99": field("99%"),
        "non_2xx": field("Non-2xx or 3xx responses:"),
    })
}
