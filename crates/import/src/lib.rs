//! Importing feeds into the knowledge base, in one transaction: `ward db import`, `ward demo`,
//! the benchmarks and the server's import endpoint share this pipeline. It owns the step from
//! files to the store: `ward-feeds` parses (and knows no database), `ward-store` writes (and
//! knows no file format).
//!
//! Reading runs on a blocking thread that hands each document to parsing threads, one per
//! core, which parse it and make its views ready to write ([`ViewWrite`]: the stored JSON, its
//! hash, its keys); the documents come back to the writer in the order they were read, over a
//! bounded channel. The write transaction is opened late: parsed records are held until the
//! files are all read or [`Options::buffer`] bytes of documents were parsed, then written in
//! one go, so on SQLite — one writer at a time — the database's write lock is held for the
//! writing only, not for reading and decompressing the corpus (members' uploads and sign-ins
//! wait seconds, not the whole import). Readers never wait on either database.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc;

use serde::Serialize;
use tokio::sync::oneshot;
use ward_feeds::{Format, Parsed, Record, RecordError, parse_document, walk_owned};
use ward_model::{Epss, KevEntry};
use ward_store::{ImportTx, Outcome, Store, StoreError, ViewWrite};

/// Why an import committed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `--strict`: the first bad record or document stops it.
    #[error("--strict: {0}\nnothing was imported: the database is unchanged")]
    Strict(String),
    /// A file, folder or archive could not be read.
    #[error("{0}\nnothing was imported: the database is unchanged")]
    Unreadable(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The reading thread died (a panic in a parser: a bug).
    #[error("the reader stopped: {0}")]
    Reader(#[from] tokio::task::JoinError),
}

/// Where an import is, after each document.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub documents: usize,
    pub records: usize,
    /// The document just read.
    pub name: &'a str,
}

/// Counts for one format.
#[derive(Debug, Default, Clone, Serialize, schemars::JsonSchema)]
pub struct FormatCounts {
    pub documents: usize,
    pub records: usize,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Records older than the stored view, which was kept (`dateUpdated`/`lastModified`/score date).
    pub skipped: usize,
    pub errors: usize,
}

#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub formats: BTreeMap<String, FormatCounts>,
    pub documents: usize,
    /// Files passed over because they are not feed files (README.md and the like).
    pub skipped_files: usize,
    pub errors: Vec<String>,
    pub warnings: usize,
    pub committed: bool,
    pub seconds: f64,
    /// [`Options::kev_catalogue`]: KEV entries CISA no longer lists, deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kev_removed: Vec<String>,
}

impl Summary {
    pub fn records(&self) -> usize {
        self.formats.values().map(|c| c.records).sum()
    }
}

enum Message {
    /// A document, in the order read; parsed when the answer comes.
    Document(oneshot::Receiver<Read>),
    Skipped(usize),
}

/// A document parsed, its records ready to write (`parsed.records` is left empty).
struct Read {
    name: String,
    parsed: Result<(Parsed, Vec<Item>), RecordError>,
    size: usize,
}

/// A record ready to write.
enum Item {
    View(ViewWrite),
    Kev(KevEntry),
    Epss(Epss),
}

/// A document for a parsing thread, and where its answer goes.
struct Job {
    name: String,
    bytes: Vec<u8>,
    answer: oneshot::Sender<Read>,
}

/// The writer or the parsing threads have stopped (an error, `--strict`).
fn stopped<T>(_: T) -> String {
    "import stopped".to_owned()
}

/// What reads one document (`parse_document`; another in tests).
type Parse = dyn Fn(&str, &[u8]) -> Result<Parsed, RecordError> + Sync;

/// Parses documents with `parse` until the reader has no more.
///
/// A parser that panics (a bug) fails its document, named, and the thread goes on: were the
/// parsing threads to die, the reader would wait for them forever with a full queue.
fn parse_jobs(jobs: &Mutex<mpsc::Receiver<Job>>, parse: &Parse) {
    loop {
        // Held while waiting, so that one thread waits at the queue and the others at the lock.
        let next = jobs.lock().map(|jobs| jobs.recv());
        let Ok(Ok(job)) = next else {
            return;
        };
        let size = job.bytes.len();
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            parse(&job.name, &job.bytes).map(|mut parsed| {
                let items = std::mem::take(&mut parsed.records)
                    .into_iter()
                    .map(|record| match record {
                        Record::Advisory(a) => Item::View(ViewWrite::new(&a)),
                        Record::Kev(k) => Item::Kev(k),
                        Record::Epss(e) => Item::Epss(e),
                    })
                    .collect();
                (parsed, items)
            })
        }))
        .unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(RecordError {
                file: job.name.clone(),
                record: "-".into(),
                field: String::new(),
                message: format!("Ward's parser failed on this document (a bug): {why}"),
            })
        });
        drop(job.bytes);
        // The writer has stopped (an error, `--strict`): nothing waits for this answer.
        let _ = job.answer.send(Read {
            name: job.name,
            parsed,
            size,
        });
    }
}

pub use ward_feeds::Limits;

/// How an import goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Stop at the first bad record and commit nothing.
    pub strict: bool,
    /// How much a document and an archive may expand.
    pub limits: ward_feeds::Limits,
    /// Bytes of parsed documents held before the write transaction opens
    /// ([`DEFAULT_BUFFER`] when 0); past it, the rest is written as it is parsed.
    pub buffer: u64,
    /// The KEV records imported are CISA's whole catalogue (feed sync of KEV): stored entries
    /// absent from it were removed from KEV and are deleted. Ignored when the import holds
    /// no KEV record (an empty or failed download never empties the catalogue).
    pub kev_catalogue: bool,
}

/// Documents parsed before the write transaction opens, by default. Parsed records take about
/// 1.6 times their documents' bytes: the CVE 5 corpus (44,130 documents, 305 MiB) fits, at a
/// peak RSS of 542 MiB (68 MiB when the lock was taken at once); the most any import holds is
/// about 650 MiB.
pub const DEFAULT_BUFFER: u64 = 384 << 20;

/// Imports `paths` into `store`. `Err` means nothing was committed.
pub async fn import_paths(
    store: &Store,
    paths: Vec<PathBuf>,
    options: Options,
    progress: &(dyn Fn(Progress<'_>) + Sync),
    warnings_out: &mut Vec<RecordError>,
) -> Result<Summary, ImportError> {
    let started = std::time::Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(64);
    let reader = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let parsers = std::thread::available_parallelism().map_or(2, usize::from);
        let (jobs, queue) = mpsc::sync_channel::<Job>(parsers * 2);
        let queue = Mutex::new(queue);
        std::thread::scope(|scope| {
            for _ in 0..parsers {
                scope.spawn(|| parse_jobs(&queue, &parse_document));
            }
            let walked = paths.iter().try_for_each(|path| {
                let stats = walk_owned(path, options.limits, &mut |name, bytes| {
                    let (answer, read) = oneshot::channel();
                    tx.blocking_send(Message::Document(read)).map_err(stopped)?;
                    let name = name.to_owned();
                    jobs.send(Job {
                        name,
                        bytes,
                        answer,
                    })
                    .map_err(stopped)
                })
                .map_err(|e| e.to_string())?;
                let _ = tx.blocking_send(Message::Skipped(stats.skipped.len()));
                Ok(())
            });
            // The parsing threads finish what is queued and stop.
            drop(jobs);
            walked
        })
    });

    let mut summary = Summary::default();
    let buffer = if options.buffer == 0 {
        DEFAULT_BUFFER
    } else {
        options.buffer
    };
    let mut buffered = 0u64;
    // Opened when the buffer is full or everything is read.
    let mut db: Option<ImportTx> = None;
    let mut fatal: Option<String> = None;
    let mut pending: Vec<(String, Item)> = Vec::with_capacity(BATCH);
    let mut kev_seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    while let Some(message) = rx.recv().await {
        let Read { name, parsed, size } = match message {
            Message::Skipped(n) => {
                summary.skipped_files += n;
                continue;
            }
            Message::Document(read) => match read.await {
                Ok(read) => read,
                // A parsing thread died without answering; the reader's result says why below.
                Err(_) => break,
            },
        };
        buffered += size as u64;
        summary.documents += 1;
        progress(Progress {
            documents: summary.documents,
            records: summary.records(),
            name: &name,
        });
        let (parsed, items) = match parsed {
            Ok(p) => p,
            Err(e) => {
                summary.errors.push(e.to_string());
                if options.strict {
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
        if options.strict && !parsed.errors.is_empty() {
            fatal = Some(parsed.errors[0].to_string());
            break;
        }
        for item in items {
            if let (true, Item::Kev(k)) = (options.kev_catalogue, &item) {
                kev_seen.insert(k.cve_id.clone());
            }
            pending.push((format_name.clone(), item));
        }
        if db.is_none() && buffered >= buffer {
            db = Some(store.begin_import().await?);
        }
        if let Some(db) = db.as_mut()
            && pending.len() >= BATCH
        {
            flush(db, &mut pending, &mut summary).await?;
        }
    }
    drop(rx);
    let walked = reader.await?;
    if let Some(message) = fatal {
        if let Some(db) = db {
            db.rollback().await?;
        }
        return Err(ImportError::Strict(message));
    }
    if let Err(message) = walked {
        if let Some(db) = db {
            db.rollback().await?;
        }
        return Err(ImportError::Unreadable(message));
    }
    let mut db = match db {
        Some(db) => db,
        None => store.begin_import().await?,
    };
    while !pending.is_empty() {
        let mut batch: Vec<_> = pending.drain(..pending.len().min(BATCH)).collect();
        flush(&mut db, &mut batch, &mut summary).await?;
    }
    if options.kev_catalogue && !kev_seen.is_empty() {
        summary.kev_removed = db.remove_kev_absent(&kev_seen).await?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary.committed = true;
    db.commit(&serde_json::to_value(&summary.formats).expect("counts serialise"))
        .await?;
    Ok(summary)
}

/// Records written per batch (the store turns a batch into multi-row statements).
const BATCH: usize = 2000;

/// Writes the pending records and counts what happened to each.
async fn flush(
    db: &mut ImportTx,
    pending: &mut Vec<(String, Item)>,
    summary: &mut Summary,
) -> Result<(), ImportError> {
    let mut views = Vec::new();
    let mut kev = Vec::new();
    let mut epss = Vec::new();
    let mut formats = (Vec::new(), Vec::new(), Vec::new());
    for (format, item) in pending.drain(..) {
        match item {
            Item::View(v) => {
                views.push(v);
                formats.0.push(format);
            }
            Item::Kev(k) => {
                kev.push(k);
                formats.1.push(format);
            }
            Item::Epss(e) => {
                epss.push(e);
                formats.2.push(format);
            }
        }
    }
    let outcomes = [
        (db.upsert_views(&views).await?, formats.0),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A parser that panics on one document fails that document, named, and the thread goes on
    /// to the next.
    #[test]
    fn a_parser_that_panics_fails_its_document_and_goes_on() {
        let (jobs, queue) = mpsc::sync_channel::<Job>(4);
        let mut answers = Vec::new();
        for name in ["a.json", "boom.json", "c.json"] {
            let (answer, read) = oneshot::channel();
            jobs.send(Job {
                name: name.into(),
                bytes: b"{}".to_vec(),
                answer,
            })
            .unwrap();
            answers.push(read);
        }
        drop(jobs);
        let parse = |name: &str, _: &[u8]| -> Result<Parsed, RecordError> {
            assert!(name != "boom.json", "a bug in a parser");
            Ok(Parsed::default())
        };
        parse_jobs(&Mutex::new(queue), &parse);
        let results: Vec<Result<(), String>> = answers
            .into_iter()
            .map(|read| {
                let read = read.blocking_recv().expect("every document is answered");
                read.parsed.map(drop).map_err(|e| e.to_string())
            })
            .collect();
        assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
        let failed = results[1].as_ref().unwrap_err();
        assert!(
            failed.contains("boom.json") && failed.contains("a bug in a parser"),
            "{failed}"
        );
    }
}
