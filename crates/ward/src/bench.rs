//! `ward bench`: measured speed and memory, for the closing notes and for comparing commits.
//!
//! Each run measures one thing in its own process, so that peak RSS (VmHWM from
//! `/proc/self/status`) belongs to that thing alone:
//! - `ward bench import PATH…`: import into a fresh database; records/s and peak RSS.
//! - `ward bench scan --components N`: scan a generated N-component inventory (real product
//!   names drawn from the database) after the database is open; milliseconds and peak RSS.
//! - `ward bench hunt --rules PATH`: hunt through a generated access log (1 GB by default, in
//!   rotated files with --files) with the rules and 10,000 generated indicators; MB/s and peak RSS.

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
    /// Scan a generated inventory against an existing database.
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
    },
    /// Hunt through a generated access log with Sigma rules and generated indicators.
    Hunt {
        /// Sigma rules (files or folders); repeat for more.
        #[arg(long)]
        rules: Vec<PathBuf>,
        /// Generated STIX indicators (IPs, CIDRs, domains, URLs, hashes, LIKE and MATCHES).
        #[arg(long, default_value_t = 10_000)]
        indicators: usize,
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
            let summary = import_paths(&store, paths, false, &bar, &mut warnings).await;
            bar.finish_and_clear();
            let summary = summary?;
            let seconds = started.elapsed().as_secs_f64();
            store.close().await;
            let db_bytes = std::fs::metadata(&location).map(|m| m.len()).unwrap_or(0);
            json!({
                "bench": "import",
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
            let mut times = Vec::new();
            let mut load = Vec::new();
            let mut matching = Vec::new();
            let mut findings = 0;
            let mut advisories = 0;
            for _ in 0..runs.max(1) {
                let started = Instant::now();
                let knowledge = load_knowledge(&store, &inventory).await?;
                let loaded = started.elapsed();
                let report = ward_matching::scan(&knowledge, &inventory, &policy);
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
            })
        }
        BenchCommand::Hunt {
            rules,
            indicators,
            size_mb,
            files,
            threads,
            keep,
        } => crate::hunt::bench(&rules, indicators, size_mb, files.max(1), threads, keep)?,
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
