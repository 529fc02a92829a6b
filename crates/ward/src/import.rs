//! `ward db import`: feeds → knowledge base, in one transaction (the pipeline is
//! `ward_import`, shared with the server's import endpoint).

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ward_feeds::RecordError;
pub(crate) use ward_import::Summary;
use ward_store::Store;

use crate::{DbArgs, TextOrJson, exit};

#[derive(Args)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// Stop at the first bad record and leave the database exactly as it was.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Summary format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: TextOrJson,
    /// Print every warning, not only the first ten.
    #[arg(long)]
    pub(crate) show_warnings: bool,
    /// The most one document may hold once decompressed (e.g. 256MiB, 1GiB); a bigger one
    /// stops the import, naming it.
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = ward_feeds::parse_size)]
    pub(crate) max_document: u64,
    /// The most one archive or compressed file may expand to in all (e.g. 16GiB).
    #[arg(long, value_name = "SIZE", default_value = "16GiB", value_parser = ward_feeds::parse_size)]
    pub(crate) max_archive: u64,
    /// Documents parsed before the database's write lock is taken (e.g. 384MiB): up to this
    /// much, the import holds the lock only while writing, so a server on the same SQLite
    /// file keeps taking uploads and sign-ins; more is written as it is parsed.
    #[arg(long, value_name = "SIZE", default_value = "384MiB", value_parser = ward_feeds::parse_size)]
    pub(crate) buffer: u64,
    /// Each path is an offline bundle (`ward feeds bundle`) to check against this public key
    /// (PEM) first: a bundle whose signature or file hashes do not match is refused and
    /// nothing is imported.
    #[arg(long, value_name = "KEY")]
    pub(crate) verify_key: Option<PathBuf>,
    /// Files, folders or archives to import.
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,
}

/// Imports `paths` with a progress bar. `Err` means nothing was committed.
pub(crate) async fn import_paths(
    store: &Store,
    paths: Vec<PathBuf>,
    options: ward_import::Options,
    bar: &ProgressBar,
    warnings_out: &mut Vec<RecordError>,
) -> anyhow::Result<Summary> {
    let progress = |p: ward_import::Progress<'_>| {
        bar.inc(1);
        if p.documents.is_multiple_of(256) {
            bar.set_message(format!("{} records · {}", p.records, p.name));
        }
    };
    Ok(ward_import::import_paths(store, paths, options, &progress, warnings_out).await?)
}

pub(crate) fn progress_bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {pos} documents ({per_sec}) {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(label.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

pub(crate) async fn run(args: ImportArgs) -> anyhow::Result<u8> {
    if let Some(key) = &args.verify_key {
        let pem = std::fs::read_to_string(key)
            .map_err(|e| anyhow::anyhow!("--verify-key {}: {e}", key.display()))?;
        let key = ward_store::checkpoint::verifying_key(&pem).map_err(anyhow::Error::msg)?;
        for path in &args.paths {
            let manifest =
                ward_sync::bundle::verify_file(path, &key).map_err(anyhow::Error::msg)?;
            eprintln!(
                "{}: signed by {}, made {}, knowledge since {}: {} views, {} KEV entries, {} EPSS scores",
                path.display(),
                manifest.key_id,
                manifest.created_at,
                manifest.since,
                manifest.views,
                manifest.kev,
                manifest.epss
            );
        }
    }
    let location = args.db.location();
    let store = Store::open(&location).await?;
    let bar = progress_bar("importing");
    let mut warnings = Vec::new();
    let options = ward_import::Options {
        kev_catalogue: false,
        strict: args.strict,
        limits: ward_import::Limits {
            document: args.max_document,
            archive: args.max_archive,
        },
        buffer: args.buffer,
    };
    let result = import_paths(&store, args.paths, options, &bar, &mut warnings).await;
    bar.finish_and_clear();
    store.close().await;
    let summary = result?;
    match args.format {
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        TextOrJson::Text => print_summary(&summary, &ward_store::redact(&location)),
    }
    for e in &summary.errors {
        eprintln!("error: {e}");
    }
    let shown = if args.show_warnings {
        warnings.len()
    } else {
        warnings.len().min(10)
    };
    for w in &warnings[..shown] {
        eprintln!("warning: {w}");
    }
    if shown < warnings.len() {
        eprintln!(
            "… and {} more warnings (--show-warnings lists them all)",
            warnings.len() - shown
        );
    }
    Ok(if summary.errors.is_empty() {
        exit::OK
    } else {
        exit::FOUND
    })
}

fn print_summary(s: &Summary, location: &str) {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header([
        "format",
        "documents",
        "records",
        "new",
        "updated",
        "unchanged",
        "skipped (stored is newer)",
        "errors",
    ]);
    for (format, c) in &s.formats {
        table.add_row([
            format.clone(),
            c.documents.to_string(),
            c.records.to_string(),
            c.new.to_string(),
            c.updated.to_string(),
            c.unchanged.to_string(),
            c.skipped.to_string(),
            c.errors.to_string(),
        ]);
    }
    println!("{table}");
    let rate = if s.seconds > 0.0 {
        s.records() as f64 / s.seconds
    } else {
        0.0
    };
    println!(
        "imported {} records from {} documents into {location} in {:.1} s ({rate:.0} records/s); {} errors, {} warnings, {} non-feed files skipped",
        s.records(),
        s.documents,
        s.seconds,
        s.errors.len(),
        s.warnings,
        s.skipped_files
    );
}
