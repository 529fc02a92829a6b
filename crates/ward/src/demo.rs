//! `ward demo`: the README's main job, offline. Imports the dataset compiled into the binary
//! (`crates/ward/demo/`, real public records of the EPMM pair and five other CVEs) into a fresh
//! database and scans the sample inventory of a fictional hospital trust.

use std::path::PathBuf;

use clap::Args;
use ward_store::Store;

use crate::import::{import_paths, progress_bar};
use crate::scan::{ScanFormat, exit_code, print_report, read_inventories, scan_inventory};

/// The demo feeds and inventory, compiled in so that `ward demo` needs nothing else.
const FEEDS: &[(&str, &str)] = &[
    (
        "nvd-CVE-2025-4427.json",
        include_str!("../demo/feeds/nvd-CVE-2025-4427.json"),
    ),
    (
        "nvd-CVE-2025-4428.json",
        include_str!("../demo/feeds/nvd-CVE-2025-4428.json"),
    ),
    (
        "cve5-CVE-2025-4427.json",
        include_str!("../demo/feeds/cve5-CVE-2025-4427.json"),
    ),
    (
        "cve5-CVE-2025-4428.json",
        include_str!("../demo/feeds/cve5-CVE-2025-4428.json"),
    ),
    (
        "nvd-CVE-2023-4966.json",
        include_str!("../demo/feeds/nvd-CVE-2023-4966.json"),
    ),
    (
        "nvd-CVE-2021-44228.json",
        include_str!("../demo/feeds/nvd-CVE-2021-44228.json"),
    ),
    (
        "nvd-CVE-2024-6387.json",
        include_str!("../demo/feeds/nvd-CVE-2024-6387.json"),
    ),
    (
        "nvd-CVE-2014-0160.json",
        include_str!("../demo/feeds/nvd-CVE-2014-0160.json"),
    ),
    (
        "kev-subset.json",
        include_str!("../demo/feeds/kev-subset.json"),
    ),
];
const INVENTORY: (&str, &str) = (
    "st-elsewhere-trust.csv",
    include_str!("../demo/st-elsewhere-trust.csv"),
);

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Keep the demo database here (default: a temporary file, removed afterwards).
    /// An existing database is added to, never cleared.
    #[arg(long)]
    db: Option<String>,
    /// Output format of the scan.
    #[arg(long, value_enum, default_value = "table")]
    format: ScanFormat,
    #[command(flatten)]
    policy: crate::scan::PolicyArgs,
    /// Exit with 1 when a finding is at least this urgent (and/or `unchecked`, as `ward scan`).
    #[arg(long, value_parser = crate::scan::parse_fail_on)]
    fail_on: Option<crate::scan::FailOn>,
    #[command(flatten)]
    view: crate::scan::ViewArgs,
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let dir = tempfile::tempdir()?;
    let feeds = dir.path().join("feeds");
    std::fs::create_dir(&feeds)?;
    for (name, text) in FEEDS {
        std::fs::write(feeds.join(name), text)?;
    }
    let inventory_path = dir.path().join(INVENTORY.0);
    std::fs::write(&inventory_path, INVENTORY.1)?;
    let location = args
        .db
        .clone()
        .unwrap_or_else(|| dir.path().join("demo.db").display().to_string());

    let policy = args.policy.load()?;
    let store = Store::open(&location).await?;
    let bar = progress_bar("importing demo feeds");
    let mut warnings = Vec::new();
    let summary = import_paths(
        &store,
        vec![feeds],
        ward_import::Options {
            kev_catalogue: false,
            strict: true,
            ..Default::default()
        },
        &bar,
        &mut warnings,
    )
    .await;
    bar.finish_and_clear();
    let summary = summary?;
    let human = args.format == ScanFormat::Table;
    if human {
        println!(
            "Ward demo: imported {} records ({} CVE 5 and NVD views, KEV entries) into {}.",
            summary.records(),
            summary
                .formats
                .iter()
                .filter(|(f, _)| !f.contains("KEV"))
                .map(|(_, c)| c.records)
                .sum::<usize>(),
            if args.db.is_some() {
                location.as_str()
            } else {
                "a temporary database"
            }
        );
        println!("Scanning the inventory of St Elsewhere NHS Foundation Trust (fictional):\n");
    }
    let (inventory, mut sources) = read_inventories(&[PathBuf::from(&inventory_path)])?;
    sources.iter_mut().for_each(|s| *s = INVENTORY.0.to_owned());
    let report = scan_inventory(&store, &inventory, &policy).await?;
    store.close().await;
    print_report(
        &report,
        &inventory,
        &sources,
        args.format,
        args.view.layout(),
    )?;
    if human {
        println!(
            "\nNext: `ward db import` real feeds (CVE 5, NVD, KEV, EPSS; files, folders or archives), then `ward scan` your SBOMs."
        );
    }
    Ok(exit_code(&report, args.fail_on))
}
