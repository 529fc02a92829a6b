//! Feed sync: Ward follows the publishers itself — CISA KEV, FIRST EPSS, the NVD CVE API 2.0,
//! CVE List V5 and CISA Vulnrichment, OSV, CSAF providers — each through its official interface, incrementally
//! and resumably (`ward feeds sync`, `ward serve --feeds`).
//!
//! Every step is one import through `ward-import` (a failed or interrupted one changes
//! nothing); a source's cursor and HTTP validators are saved only after the step's import
//! committed, so a restart resumes after the last complete step and never skips one. What a
//! publisher sends is checked before it is imported: an HTML "Access Denied" page where KEV's
//! JSON should be is a failed sync, not an empty catalogue.

pub mod bundle;
pub mod config;
mod csaf;
mod http;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use url::Url;
use ward_feeds::Format;
use ward_store::{FeedOutcome, Store};

pub use config::{Config, ConfigError, Kind, Source};
pub use http::Http;
use http::{Fetched, Get};

/// Why a sync failed (nothing of the failing step was imported).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Fetch(String),
    /// The publisher sent something that is not what the source publishes.
    #[error("{0}")]
    Content(String),
    #[error("{0}")]
    Import(#[from] ward_import::ImportError),
    #[error("{0}")]
    Store(#[from] ward_store::StoreError),
}

/// What one source's sync did.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct SourceReport {
    pub name: String,
    pub kind: String,
    pub ok: bool,
    /// Something new or changed was imported.
    pub changed: bool,
    /// Records imported (new, updated, unchanged and older together).
    pub records: usize,
    pub new: usize,
    pub updated: usize,
    /// KEV entries CISA no longer lists, removed.
    pub removed: Vec<String>,
    /// Imports committed (one per step: a page, a file, a delta).
    pub imports: usize,
    pub requests: u64,
    pub bytes: u64,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One source being synced: its report so far, and where it is.
struct Run<'a> {
    store: &'a Store,
    http: &'a Http,
    source: &'a Source,
    report: SourceReport,
}

fn millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Syncs each source of `config` (or only `only`), one after the other; each source's outcome
/// is recorded in the store. Returns the reports.
pub async fn sync(
    store: &Store,
    http: &Http,
    config: &Config,
    only: Option<&str>,
) -> Result<Vec<SourceReport>, SyncError> {
    if let Some(name) = only
        && !config.sources.iter().any(|s| s.name == name)
    {
        return Err(SyncError::Config(format!(
            "no source named {name:?} (the feeds file has {})",
            config
                .sources
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut reports = Vec::new();
    for source in config
        .sources
        .iter()
        .filter(|s| only.is_none_or(|n| n == s.name))
    {
        reports.push(sync_source(store, http, source).await?);
    }
    Ok(reports)
}

/// Syncs one source and records the outcome (a failure is recorded and reported, not
/// returned: the store's own errors are).
pub async fn sync_source(
    store: &Store,
    http: &Http,
    source: &Source,
) -> Result<SourceReport, SyncError> {
    let started = Instant::now();
    let requests = http.requests();
    let mut run = Run {
        store,
        http,
        source,
        report: SourceReport {
            name: source.name.clone(),
            kind: source.kind.as_str().to_owned(),
            ..SourceReport::default()
        },
    };
    let result = match source.kind {
        Kind::Kev => run.kev().await,
        Kind::Epss => run.epss().await,
        Kind::Nvd => run.nvd().await,
        Kind::Cve5 | Kind::Vulnrichment => run.cve5().await,
        Kind::Osv => run.osv().await,
        Kind::Csaf => run.csaf().await,
        Kind::Stix => run.stix().await,
    };
    let mut report = run.report;
    report.requests = http.requests() - requests;
    report.seconds = started.elapsed().as_secs_f64();
    let outcome = match result {
        Ok(()) => {
            report.ok = true;
            FeedOutcome::Succeeded {
                changed: report.changed,
                summary: serde_json::to_value(&report).expect("a report serialises"),
            }
        }
        Err(e @ (SyncError::Store(_) | SyncError::Import(ward_import::ImportError::Store(_)))) => {
            // The database itself failed: recording that would likely fail too.
            return Err(e);
        }
        Err(e) => {
            report.error = Some(e.to_string());
            FeedOutcome::Failed(e.to_string())
        }
    };
    tracing::info!(source = %source.name, ok = report.ok, changed = report.changed, records = report.records, "feed sync");
    store
        .record_feed_run(&source.name, source.kind.as_str(), &outcome)
        .await?;
    Ok(report)
}

impl Run<'_> {
    fn get<'g>(&self, etag: Option<&'g str>, last_modified: Option<&'g str>) -> Get<'g> {
        Get {
            etag,
            last_modified,
            headers: Vec::new(),
            max_bytes: self.source.max_bytes,
            pace: Duration::ZERO,
            timeout: self.source.timeout,
            attempts: self.source.attempts,
        }
    }

    /// Imports the files (one transaction) and counts what it did.
    async fn import(&mut self, paths: Vec<PathBuf>, kev_catalogue: bool) -> Result<(), SyncError> {
        let mut warnings = Vec::new();
        let summary = ward_import::import_paths(
            self.store,
            paths,
            ward_import::Options {
                kev_catalogue,
                ..ward_import::Options::default()
            },
            &|_| {},
            &mut warnings,
        )
        .await?;
        self.report.imports += 1;
        for counts in summary.formats.values() {
            self.report.records += counts.records;
            self.report.new += counts.new;
            self.report.updated += counts.updated;
        }
        self.report.changed |= summary.formats.values().any(|c| c.new + c.updated > 0)
            || !summary.kev_removed.is_empty();
        self.report.removed.extend(summary.kev_removed);
        if !summary.errors.is_empty() {
            tracing::warn!(source = %self.source.name, errors = summary.errors.len(), first = %summary.errors[0], "records refused");
        }
        Ok(())
    }

    /// GETs `url` (unconditionally) into `dir/name`, counting its bytes; `None` on a 304.
    async fn fetch_into(
        &mut self,
        url: &Url,
        dir: &Path,
        name: &str,
    ) -> Result<Option<PathBuf>, SyncError> {
        let Fetched::Body { file, bytes, .. } = self.http.get(url, &self.get(None, None)).await?
        else {
            return Ok(None);
        };
        self.report.bytes += bytes;
        let path = dir.join(name);
        std::fs::copy(file.path(), &path).map_err(|e| SyncError::Fetch(e.to_string()))?;
        Ok(Some(path))
    }

    /// GETs a small document (a delta log, a list of modified records) into memory.
    async fn fetch_bytes(&mut self, url: &Url) -> Result<Option<Vec<u8>>, SyncError> {
        let Fetched::Body { file, bytes, .. } = self.http.get(url, &self.get(None, None)).await?
        else {
            return Ok(None);
        };
        self.report.bytes += bytes;
        std::fs::read(file.path())
            .map(Some)
            .map_err(|e| SyncError::Fetch(e.to_string()))
    }

    async fn state(&self) -> Result<ward_store::FeedState, SyncError> {
        Ok(self
            .store
            .feed_state(&self.source.name, self.source.kind.as_str())
            .await?)
    }

    async fn save(
        &self,
        cursor: Option<&serde_json::Value>,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<(), SyncError> {
        Ok(self
            .store
            .save_feed_cursor(
                &self.source.name,
                self.source.kind.as_str(),
                cursor,
                etag,
                last_modified,
            )
            .await?)
    }

    /// A whole file that is the publisher's current state (KEV, EPSS): fetched if it changed
    /// (ETag / Last-Modified), checked to be what the source publishes, imported.
    async fn whole_file(&mut self, name: &str, expect: Format, kev: bool) -> Result<(), SyncError> {
        let state = self.state().await?;
        let get = self.get(state.etag.as_deref(), state.last_modified.as_deref());
        let fetched = self.http.get(&self.source.url, &get).await?;
        let Fetched::Body {
            file,
            bytes,
            etag,
            last_modified,
        } = fetched
        else {
            return Ok(());
        };
        self.report.bytes += bytes;
        let dir = tempfile::tempdir()
            .map_err(|e| SyncError::Fetch(format!("a temporary folder: {e}")))?;
        let path = dir.path().join(name);
        std::fs::rename(file.path(), &path)
            .or_else(|_| std::fs::copy(file.path(), &path).map(|_| ()))
            .map_err(|e| SyncError::Fetch(format!("a temporary file: {e}")))?;
        check(&path, expect, &self.source.url).await?;
        self.import(vec![path], kev).await?;
        self.save(None, etag.as_deref(), last_modified.as_deref())
            .await
    }

    /// A STIX 2.1 bundle: fetched when it changed (ETag, Last-Modified), checked (a bundle of
    /// STIX 2.1 objects, each with a type, an id and for SDOs a `modified`), and its objects
    /// added to the TAXII collection; an object already there in the same version is not
    /// added again.
    async fn stix(&mut self) -> Result<(), SyncError> {
        let collection = self
            .source
            .collection
            .clone()
            .ok_or_else(|| SyncError::Config("stix: no collection".into()))?;
        let state = self.state().await?;
        let get = self.get(state.etag.as_deref(), state.last_modified.as_deref());
        let Fetched::Body {
            file,
            bytes,
            etag,
            last_modified,
        } = self.http.get(&self.source.url, &get).await?
        else {
            return Ok(());
        };
        self.report.bytes += bytes;
        let url = self.source.url.clone();
        let text = std::fs::read(file.path()).map_err(|e| SyncError::Fetch(e.to_string()))?;
        let bundle: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| SyncError::Content(format!("{url}: not a STIX 2.1 bundle: {e}")))?;
        if bundle["type"] != "bundle" {
            return Err(SyncError::Content(format!(
                "{url}: not a STIX 2.1 bundle (`type` is not \"bundle\")"
            )));
        }
        let objects = bundle["objects"].as_array().ok_or_else(|| {
            SyncError::Content(format!("{url}: the bundle has no `objects` array"))
        })?;
        for (i, o) in objects.iter().enumerate() {
            if o.get("spec_version").is_some_and(|v| v != "2.1") {
                return Err(SyncError::Content(format!(
                    "{url}: objects[{i}].spec_version: STIX 2.1 only"
                )));
            }
        }
        let added = self
            .store
            .add_objects(
                &format!("ward:feed:{}", self.source.name),
                &collection,
                objects,
            )
            .await
            .map_err(|e| match e {
                // What the publisher sent, or the collection named: the source's failure.
                ward_store::StoreError::Invalid(m) | ward_store::StoreError::NotFound(m) => {
                    SyncError::Content(format!("{url}: {m}"))
                }
                other => SyncError::Store(other),
            })?;
        self.report.records += objects.len();
        self.report.new += added.added;
        self.report.changed |= added.added > 0;
        self.save(None, etag.as_deref(), last_modified.as_deref())
            .await
    }

    async fn kev(&mut self) -> Result<(), SyncError> {
        self.whole_file(
            "known_exploited_vulnerabilities.json",
            Format::KevJson,
            true,
        )
        .await
    }

    async fn epss(&mut self) -> Result<(), SyncError> {
        let name = match self.source.url.path().rsplit('/').next() {
            Some(n) if n.ends_with(".gz") => n.to_owned(),
            _ => "epss_scores-current.csv".to_owned(),
        };
        self.whole_file(&name, Format::EpssCsv, false).await
    }

    /// NVD CVE API 2.0: `lastModStartDate`/`lastModEndDate` windows of at most `window_days`,
    /// `startIndex` pages of 2,000; each page one import, the cursor saved after it.
    async fn nvd(&mut self) -> Result<(), SyncError> {
        let state = self.state().await?;
        let now = Utc::now();
        let cursor = state.cursor.unwrap_or_default();
        let time = |key: &str| {
            cursor[key]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let mut start = time("start")
            .or(self.source.since)
            .unwrap_or(now - chrono::Duration::days(i64::from(self.source.window_days)));
        // A window in progress keeps its end, so that its pages stay the same set.
        let mut end = time("end");
        let mut index = cursor["index"].as_u64().unwrap_or(0);
        // The window's total when its paging began: a record of the window modified again
        // meanwhile leaves it, the pages after shift, and one record would be skipped; the
        // total changing says so, and the window is paged again from the start (records
        // already imported come back unchanged).
        let mut window_total = cursor["total"].as_u64();
        let mut restarts = 0;
        let key = self
            .source
            .api_key_env
            .as_deref()
            .and_then(|v| std::env::var(v).ok())
            .filter(|k| !k.trim().is_empty());
        let per_30s = self
            .source
            .requests_per_30s
            .unwrap_or(if key.is_some() { 50 } else { 5 })
            .max(1);
        let pace = Duration::from_secs(30) / per_30s;
        let dir = tempfile::tempdir()
            .map_err(|e| SyncError::Fetch(format!("a temporary folder: {e}")))?;
        loop {
            let window_end = end.unwrap_or_else(|| {
                (start + chrono::Duration::days(i64::from(self.source.window_days))).min(now)
            });
            let mut url = self.source.url.clone();
            url.query_pairs_mut()
                .append_pair("lastModStartDate", &millis(start))
                .append_pair("lastModEndDate", &millis(window_end))
                .append_pair("startIndex", &index.to_string())
                .append_pair("resultsPerPage", "2000");
            let mut get = self.get(None, None);
            get.pace = pace;
            if let Some(k) = &key {
                get.headers.push(("apiKey", k.clone()));
            }
            let Fetched::Body { file, bytes, .. } = self.http.get(&url, &get).await? else {
                return Err(SyncError::Content(
                    "NVD answered 304 to an unconditional request".into(),
                ));
            };
            self.report.bytes += bytes;
            let text = std::fs::read(file.path()).map_err(|e| SyncError::Fetch(e.to_string()))?;
            let page: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
                SyncError::Content(format!("{}: not NVD API JSON: {e}", http::redacted(&url)))
            })?;
            let total = page["totalResults"].as_u64().ok_or_else(|| {
                SyncError::Content(format!(
                    "{}: no totalResults: not an NVD API 2.0 page",
                    http::redacted(&url)
                ))
            })?;
            let got = page["vulnerabilities"].as_array().map_or(0, Vec::len) as u64;
            if let Some(was) = window_total
                && was != total
                && index > 0
                && restarts < 5
            {
                restarts += 1;
                tracing::info!(source = %self.source.name, was, now = total, "the window changed while it was paged: paging it again");
                index = 0;
                window_total = None;
                end = Some(window_end);
                continue;
            }
            window_total = Some(total);
            if got > 0 {
                // Already read as an NVD API page (its total and records): imported as is,
                // without the format check whole files get.
                let path = dir.path().join(format!("nvd-page-{index}.json"));
                std::fs::write(&path, &text).map_err(|e| SyncError::Fetch(e.to_string()))?;
                self.import(vec![path.clone()], false).await?;
                let _ = std::fs::remove_file(&path);
            }
            index += got;
            let window_done = got == 0 || index >= total;
            let next = if window_done {
                serde_json::json!({"start": millis(window_end)})
            } else {
                serde_json::json!({"start": millis(start), "end": millis(window_end), "index": index, "total": total})
            };
            self.save(Some(&next), None, None).await?;
            if window_done {
                if window_end >= now {
                    return Ok(());
                }
                start = window_end;
                end = None;
                index = 0;
                window_total = None;
            } else {
                end = Some(window_end);
            }
        }
    }

    /// CVE List V5 (and Vulnrichment, in the same layout): a baseline archive on the first
    /// sync when one is configured, then the records `deltaLog.json` names since the cursor.
    async fn cve5(&mut self) -> Result<(), SyncError> {
        let state = self.state().await?;
        let dir = tempfile::tempdir()
            .map_err(|e| SyncError::Fetch(format!("a temporary folder: {e}")))?;
        let mut since = state
            .cursor
            .as_ref()
            .and_then(|c| c["since"].as_str().map(str::to_owned));
        if since.is_none() {
            let began = millis(Utc::now());
            if let Some(baseline) = self.source.baseline.clone() {
                let Fetched::Body {
                    file,
                    bytes,
                    last_modified,
                    ..
                } = self.http.get(&baseline, &self.get(None, None)).await?
                else {
                    return Err(SyncError::Content("the baseline answered 304".into()));
                };
                self.report.bytes += bytes;
                let name = baseline
                    .path()
                    .rsplit('/')
                    .next()
                    .filter(|n| !n.is_empty())
                    .unwrap_or("baseline.zip");
                let path = dir.path().join(name);
                std::fs::copy(file.path(), &path).map_err(|e| SyncError::Fetch(e.to_string()))?;
                // CVE List V5's releases wrap the records' zip in another zip.
                let path = unwrap_inner_zip(&path, self.source.max_bytes)?.unwrap_or(path);
                self.import(vec![path.clone()], false).await?;
                let _ = std::fs::remove_file(&path);
                // Changes from when the baseline was made onwards are taken from the delta log.
                let made = last_modified
                    .and_then(|m| httpdate::parse_http_date(&m).ok())
                    .map_or(began.clone(), |t| millis(DateTime::<Utc>::from(t)));
                self.save(Some(&serde_json::json!({"since": made})), None, None)
                    .await?;
                since = Some(made);
            } else {
                since = Some(began);
                self.save(Some(&serde_json::json!({"since": since})), None, None)
                    .await?;
            }
        }
        let since = since.expect("set above");
        let log_url = join(&self.source.url, "deltaLog.json")?;
        let Some(log) = self.fetch_bytes(&log_url).await? else {
            return Ok(());
        };
        let log: serde_json::Value = serde_json::from_slice(&log).map_err(|e| {
            SyncError::Content(format!(
                "{}: not a delta log: {e}",
                http::redacted(&log_url)
            ))
        })?;
        let entries = log.as_array().ok_or_else(|| {
            SyncError::Content(format!(
                "{}: a delta log is a JSON array",
                http::redacted(&log_url)
            ))
        })?;
        let mut newest = since.clone();
        let mut ids = std::collections::BTreeSet::new();
        for entry in entries {
            let Some(at) = entry["fetchTime"].as_str() else {
                continue;
            };
            let Ok(at) = DateTime::parse_from_rfc3339(at).map(|t| millis(t.with_timezone(&Utc)))
            else {
                continue;
            };
            if at <= since {
                continue;
            }
            if at > newest {
                newest = at;
            }
            for list in ["new", "updated"] {
                for change in entry[list].as_array().into_iter().flatten() {
                    if let Some(id) = change["cveId"].as_str() {
                        ids.insert(id.to_owned());
                    }
                }
            }
        }
        if ids.is_empty() {
            self.save(Some(&serde_json::json!({"since": newest})), None, None)
                .await?;
            return Ok(());
        }
        let mut paths = Vec::new();
        for id in &ids {
            let Some(rel) = cve_path(id) else {
                tracing::warn!(source = %self.source.name, "the delta log names {id:?}, not a CVE id");
                continue;
            };
            let url = join(&self.source.url, &rel)?;
            if let Some(path) = self
                .fetch_into(&url, dir.path(), &format!("{id}.json"))
                .await?
            {
                check(&path, Format::Cve5, &url).await?;
                paths.push(path);
            }
        }
        self.import(paths, false).await?;
        self.save(Some(&serde_json::json!({"since": newest})), None, None)
            .await
    }

    /// OSV per ecosystem: `all.zip` on the first sync (the cursor is the newest
    /// `modified_id.csv` time read before it), then the records `modified_id.csv` lists as
    /// modified since.
    async fn osv(&mut self) -> Result<(), SyncError> {
        let state = self.state().await?;
        let mut cursor = state
            .cursor
            .clone()
            .unwrap_or_else(|| serde_json::json!({}));
        let dir = tempfile::tempdir()
            .map_err(|e| SyncError::Fetch(format!("a temporary folder: {e}")))?;
        for ecosystem in &self.source.ecosystems.clone() {
            let base = join(&self.source.url, &format!("{}/", escape_segment(ecosystem)))?;
            let list_url = join(&base, "modified_id.csv")?;
            let Some(list) = self.fetch_bytes(&list_url).await? else {
                continue;
            };
            let list = String::from_utf8(list)
                .map_err(|e| SyncError::Content(format!("{}: {e}", http::redacted(&list_url))))?;
            let mut modified: Vec<(String, String)> = Vec::new();
            for (n, line) in list.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let (at, id) = line.split_once(',').ok_or_else(|| {
                    SyncError::Content(format!(
                        "{}, line {}: not \"time,id\"",
                        http::redacted(&list_url),
                        n + 1
                    ))
                })?;
                let at = DateTime::parse_from_rfc3339(at.trim())
                    .map(|t| millis(t.with_timezone(&Utc)))
                    .map_err(|e| {
                        SyncError::Content(format!(
                            "{}, line {}: {e}",
                            http::redacted(&list_url),
                            n + 1
                        ))
                    })?;
                modified.push((at, id.trim().to_owned()));
            }
            let newest = modified.iter().map(|(t, _)| t.clone()).max();
            match cursor[ecosystem.as_str()].as_str().map(str::to_owned) {
                None => {
                    let zip_url = join(&base, "all.zip")?;
                    let name = format!("osv-{ecosystem}-all.zip");
                    let Some(path) = self.fetch_into(&zip_url, dir.path(), &name).await? else {
                        continue;
                    };
                    self.import(vec![path.clone()], false).await?;
                    let _ = std::fs::remove_file(&path);
                }
                Some(since) => {
                    let mut paths = Vec::new();
                    let mut ids: Vec<&String> = modified
                        .iter()
                        .filter(|(t, _)| *t > since)
                        .map(|(_, id)| id)
                        .collect();
                    ids.sort();
                    ids.dedup();
                    for id in ids {
                        if id.contains(['/', '\\']) || id.starts_with('.') {
                            tracing::warn!(source = %self.source.name, "modified_id.csv names {id:?}, not an OSV id");
                            continue;
                        }
                        let url = join(&base, &format!("{}.json", escape_segment(id)))?;
                        let name = format!("{id}.json");
                        if let Some(path) = self.fetch_into(&url, dir.path(), &name).await? {
                            check(&path, Format::Osv, &url).await?;
                            paths.push(path);
                        }
                    }
                    if !paths.is_empty() {
                        self.import(paths, false).await?;
                    }
                }
            }
            if let Some(newest) = newest {
                cursor[ecosystem.as_str()] = serde_json::Value::String(newest);
            }
            self.save(Some(&cursor), None, None).await?;
        }
        Ok(())
    }
}

/// A zip whose only entry is another zip (`all_CVEs_at_midnight.zip` holds `cves.zip`): the
/// inner one, written beside it (at most `max_bytes`); `None` for any other file.
fn unwrap_inner_zip(path: &Path, max_bytes: u64) -> Result<Option<PathBuf>, SyncError> {
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(None);
    };
    let Ok(mut archive) = zip::ZipArchive::new(file) else {
        return Ok(None);
    };
    if archive.len() != 1 {
        return Ok(None);
    }
    let mut inner = archive
        .by_index(0)
        .map_err(|e| SyncError::Content(format!("{}: {e}", path.display())))?;
    if !inner
        .name()
        .is_ok_and(|n| n.to_ascii_lowercase().ends_with(".zip"))
    {
        return Ok(None);
    }
    let out = path.with_extension("inner.zip");
    let mut writer = std::fs::File::create(&out)
        .map_err(|e| SyncError::Fetch(format!("{}: {e}", out.display())))?;
    let copied = std::io::copy(&mut (&mut inner).take(max_bytes + 1), &mut writer)
        .map_err(|e| SyncError::Content(format!("{}: {e}", path.display())))?;
    if copied > max_bytes {
        return Err(SyncError::Content(format!(
            "{}: the inner archive expands past max_bytes ({max_bytes})",
            path.display()
        )));
    }
    Ok(Some(out))
}

/// `base` + `rel` (`base` is taken as a folder).
fn join(base: &Url, rel: &str) -> Result<Url, SyncError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(rel)
        .map_err(|e| SyncError::Config(format!("{base} + {rel}: {e}")))
}

/// One path segment, percent-encoded.
fn escape_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Where CVE List V5 keeps a record: `2025/4xxx/CVE-2025-4427.json`.
fn cve_path(id: &str) -> Option<String> {
    let mut parts = id.split('-');
    let (Some("CVE"), Some(year), Some(number), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if year.len() != 4
        || !year.bytes().all(|b| b.is_ascii_digit())
        || number.len() < 4
        || !number.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let n: u64 = number.parse().ok()?;
    Some(format!("{year}/{}xxx/{id}.json", n / 1000))
}

/// Checks that every document in `path` is what the source publishes (`expect`) and holds
/// records: an HTML error page, an empty or truncated file, or another feed is refused
/// before anything is imported.
async fn check(path: &Path, expect: Format, url: &Url) -> Result<(), SyncError> {
    let path = path.to_owned();
    let shown = http::redacted(url);
    tokio::task::spawn_blocking(move || {
        let mut problem: Option<String> = None;
        let mut records = 0usize;
        let walked =
            ward_feeds::walk_limited(&path, ward_feeds::Limits::default(), &mut |name, bytes| {
                match ward_feeds::parse_document(name, bytes) {
                    Ok(parsed) if parsed.format == Some(expect) => records += parsed.records.len(),
                    Ok(parsed) => {
                        problem.get_or_insert_with(|| {
                            format!(
                                "{shown}: expected {}, got {} ({})",
                                expect.as_str(),
                                parsed.format.map_or("an unknown document", Format::as_str),
                                start_of(bytes)
                            )
                        });
                    }
                    Err(e) => {
                        problem.get_or_insert_with(|| {
                            format!(
                                "{shown}: expected {}, got what cannot be read: {e} ({})",
                                expect.as_str(),
                                start_of(bytes)
                            )
                        });
                    }
                }
                Ok::<(), String>(())
            });
        if let Err(e) = walked {
            return Err(SyncError::Content(format!("{shown}: {e}")));
        }
        if let Some(p) = problem {
            return Err(SyncError::Content(p));
        }
        if records == 0 {
            return Err(SyncError::Content(format!("{shown}: no records")));
        }
        Ok(())
    })
    .await
    .map_err(|e| SyncError::Content(format!("checking the download: {e}")))?
}

/// The first words of a document, for an error ("<!DOCTYPE html> <html><head><title>Access Denied").
fn start_of(bytes: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let short: String = text.chars().take(80).collect();
    format!("begins {short:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cve_records_are_where_cvelistv5_keeps_them() {
        assert_eq!(
            cve_path("CVE-2025-4427").as_deref(),
            Some("2025/4xxx/CVE-2025-4427.json")
        );
        assert_eq!(
            cve_path("CVE-2021-44228").as_deref(),
            Some("2021/44xxx/CVE-2021-44228.json")
        );
        assert_eq!(
            cve_path("CVE-2024-0001").as_deref(),
            Some("2024/0xxx/CVE-2024-0001.json")
        );
        for bad in [
            "CVE-2025-4427/../x",
            "GHSA-xxxx",
            "CVE-25-1234",
            "CVE-2025-12",
        ] {
            assert_eq!(cve_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn joins_keep_the_base_folder() {
        let base = Url::parse("https://mirror.example/osv").unwrap();
        assert_eq!(
            join(&base, "PyPI/all.zip").unwrap().as_str(),
            "https://mirror.example/osv/PyPI/all.zip"
        );
        assert_eq!(escape_segment("Debian:12"), "Debian%3A12");
    }
}
