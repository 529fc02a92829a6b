//! `ward db import`: feeds → knowledge base, in one transaction.
//!
//! Reading and parsing run on a blocking thread and hand parsed documents over a bounded
//! channel to the writer, so parsing and database writes overlap on two cores.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use ward_feeds::{Format, Parsed, Record, RecordError, parse_document, walk};
use ward_store::{ImportTx, Outcome, Store};

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
    /// Files, folders or archives to import.
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,
}

/// Counts for one format.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct FormatCounts {
    pub(crate) documents: usize,
    pub(crate) records: usize,
    pub(crate) new: usize,
    pub(crate) updated: usize,
    pub(crate) unchanged: usize,
    /// Records older than the stored view, which was kept (`dateUpdated`/`lastModified`/score date).
    pub(crate) skipped: usize,
    pub(crate) errors: usize,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Summary {
    pub(crate) formats: BTreeMap<String, FormatCounts>,
    pub(crate) documents: usize,
    /// Files passed over because they are not feed files (README.md and the like).
    pub(crate) skipped_files: usize,
    pub(crate) errors: Vec<String>,
    pub(crate) warnings: usize,
    pub(crate) committed: bool,
    pub(crate) seconds: f64,
}

impl Summary {
    pub(crate) fn records(&self) -> usize {
        self.formats.values().map(|c| c.records).sum()
    }
}

enum Message {
    Document(String, Result<Parsed, RecordError>),
    Skipped(usize),
}

/// Imports `paths` into `store`. `Err` means nothing was committed.
pub(crate) async fn import_paths(
    store: &Store,
    paths: Vec<PathBuf>,
    strict: bool,
    progress: &ProgressBar,
    warnings_out: &mut Vec<RecordError>,
) -> anyhow::Result<Summary> {
    let started = std::time::Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(64);
    let reader = tokio::task::spawn_blocking(move || -> Result<(), String> {
        for path in paths {
            let stats = walk(&path, &mut |name, bytes| {
                let parsed = parse_document(name, bytes);
                tx.blocking_send(Message::Document(name.to_owned(), parsed))
                    .map_err(|_| "import stopped".to_owned())
            })
            .map_err(|e| e.to_string())?;
            let _ = tx.blocking_send(Message::Skipped(stats.skipped.len()));
        }
        Ok(())
    });

    let mut summary = Summary::default();
    let mut db = store.begin_import().await?;
    let mut fatal: Option<String> = None;
    let mut pending: Vec<(String, Record)> = Vec::with_capacity(BATCH);
    while let Some(message) = rx.recv().await {
        let (name, parsed) = match message {
            Message::Skipped(n) => {
                summary.skipped_files += n;
                continue;
            }
            Message::Document(name, parsed) => (name, parsed),
        };
        summary.documents += 1;
        progress.inc(1);
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => {
                summary.errors.push(e.to_string());
                if strict {
                    fatal = Some(e.to_string());
                    break;
                }
                continue;
            }
        };
        let format_name = parsed.format.map_or("unknown", Format::as_str).to_owned();
        let counts = summary.formats.entry(format_name.clone()).or_default();
        counts.documents += 1;
        counts.errors += parsed.errors.len();
        summary
            .errors
            .extend(parsed.errors.iter().map(ToString::to_string));
        summary.warnings += parsed.warnings.len();
        warnings_out.extend(parsed.warnings);
        if strict && !parsed.errors.is_empty() {
            fatal = Some(parsed.errors[0].to_string());
            break;
        }
        for record in parsed.records {
            pending.push((format_name.clone(), record));
        }
        if pending.len() >= BATCH {
            flush(&mut db, &mut pending, &mut summary).await?;
        }
        if summary.documents.is_multiple_of(256) {
            progress.set_message(format!("{} records · {name}", summary.records()));
        }
    }
    drop(rx);
    let walked = reader.await?;
    if fatal.is_none() && walked.is_ok() {
        flush(&mut db, &mut pending, &mut summary).await?;
    }
    if let Some(message) = fatal {
        db.rollback().await?;
        anyhow::bail!("--strict: {message}\nnothing was imported: the database is unchanged");
    }
    if let Err(message) = walked {
        db.rollback().await?;
        anyhow::bail!("{message}\nnothing was imported: the database is unchanged");
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary.committed = true;
    db.commit(&serde_json::to_value(&summary.formats)?).await?;
    Ok(summary)
}

/// Records written per batch (the store turns a batch into multi-row statements).
const BATCH: usize = 2000;

/// Writes the pending records and counts what happened to each.
async fn flush(
    db: &mut ImportTx,
    pending: &mut Vec<(String, Record)>,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut advisories = Vec::new();
    let mut kev = Vec::new();
    let mut epss = Vec::new();
    let mut formats = (Vec::new(), Vec::new(), Vec::new());
    for (format, record) in pending.drain(..) {
        match record {
            Record::Advisory(a) => {
                advisories.push(*a);
                formats.0.push(format);
            }
            Record::Kev(k) => {
                kev.push(k);
                formats.1.push(format);
            }
            Record::Epss(e) => {
                epss.push(e);
                formats.2.push(format);
            }
        }
    }
    let outcomes = [
        (db.upsert_advisories(&advisories).await?, formats.0),
        (db.upsert_kevs(&kev).await?, formats.1),
        (db.upsert_epss_batch(&epss).await?, formats.2),
    ];
    for (outcomes, formats) in outcomes {
        for (outcome, format) in outcomes.into_iter().zip(formats) {
            let counts = summary.formats.entry(format).or_default();
            counts.records += 1;
            match outcome {
                Outcome::New => counts.new += 1,
                Outcome::Updated => counts.updated += 1,
                Outcome::Unchanged => counts.unchanged += 1,
                Outcome::Older => counts.skipped += 1,
            }
        }
    }
    Ok(())
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
    let location = args.db.location();
    let store = Store::open(&location).await?;
    let bar = progress_bar("importing");
    let mut warnings = Vec::new();
    let result = import_paths(&store, args.paths, args.strict, &bar, &mut warnings).await;
    bar.finish_and_clear();
    store.close().await;
    let summary = result?;
    match args.format {
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        TextOrJson::Text => print_summary(&summary, &location),
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
