//! `ward hunt --follow`: logs read as they grow, across rotation, so that a restart neither
//! misses nor repeats a line.
//!
//! Each log given, and its rotated siblings beside it (`access.log.1`, `access.log.1.gz`,
//! `access.log-20250515.gz`), is known by its first line (a SHA-256 of it) and, while it is a
//! plain file, its inode: a log renamed by `logrotate` keeps its inode, and its compressed copy
//! keeps its first line, so either way the offset already read is found again. Only complete
//! lines are read (a line being written waits for its newline); what was read, per log, is
//! saved after each poll in the state file.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ward_hunt::{Hunter, Input, Sighting};

use crate::hunt::Loaded;

/// At most this much of one log is read per poll (the rest at the next).
const MAX_CHUNK: u64 = 64 << 20;

/// What has been read of one log.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// SHA-256 of the first line: the log's identity across renames and compression.
    first: String,
    /// The inode while it was (or is) a plain file.
    inode: Option<u64>,
    /// Bytes (uncompressed) read, always at a line's end.
    offset: u64,
    /// Lines read.
    lines: u64,
    path: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    logs: Vec<Entry>,
}

impl State {
    fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not Ward's follow state", path.display())),
            Err(_) => Ok(Self::default()),
        }
    }

    fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self)?)
            .with_context(|| tmp.display().to_string())?;
        std::fs::rename(&tmp, path).with_context(|| path.display().to_string())
    }

    /// The entry of a log: a plain file by inode (and first line), a compressed one by first line.
    fn find(&mut self, first: &str, inode: Option<u64>) -> Option<&mut Entry> {
        let at = self.logs.iter().position(|e| {
            e.first == first && (inode.is_none() || e.inode.is_none() || e.inode == inode)
        })?;
        Some(&mut self.logs[at])
    }
}

fn gzip(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == [0x1f, 0x8b])
}

fn reader(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let file = std::fs::File::open(path)?;
    if gzip(path) {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            file,
        ))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

/// The hash of a log's first complete line; `None` while it has none.
fn first_line(path: &Path) -> Option<String> {
    let mut line = Vec::new();
    reader(path)
        .ok()?
        .take(1 << 20)
        .read_until(b'\n', &mut line)
        .ok()?;
    line.ends_with(b"\n")
        .then(|| hex::encode(Sha256::digest(&line)))
}

/// The logs to watch: each given one and its rotated siblings.
fn candidates(given: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in given {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut siblings: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.len() > name.len()
                        && n.starts_with(&name)
                        && matches!(n.as_bytes()[name.len()], b'.' | b'-')
                        && !n.ends_with(".tmp")
                })
                .map(|e| e.path())
                .collect();
            // Oldest rotation first (`.2.gz` before `.1`), then the live log.
            siblings.sort();
            siblings.reverse();
            out.extend(siblings);
        }
        out.push(path.clone());
    }
    out.dedup();
    out
}

/// New complete lines of one log since its entry's offset: (bytes, lines in them).
fn read_new(path: &Path, offset: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if gzip(path) {
        let mut r = reader(path)?;
        std::io::copy(&mut (&mut r).take(offset), &mut std::io::sink())?;
        r.take(MAX_CHUNK).read_to_end(&mut buf)?;
    } else {
        let mut f = std::fs::File::open(path)?;
        f.seek(SeekFrom::Start(offset))?;
        f.take(MAX_CHUNK).read_to_end(&mut buf)?;
    }
    // Only whole lines: a line still being written waits for its newline.
    match buf.iter().rposition(|b| *b == b'\n') {
        Some(end) => buf.truncate(end + 1),
        None => buf.clear(),
    }
    Ok(buf)
}

/// What `--follow` was asked to do.
pub(crate) struct Follow {
    pub(crate) logs: Vec<PathBuf>,
    pub(crate) state: PathBuf,
    pub(crate) interval: Duration,
    pub(crate) stop_after: Option<Duration>,
    pub(crate) threads: usize,
    pub(crate) format: Option<ward_hunt::LogFormat>,
    pub(crate) loaded: Loaded,
}

/// A TAXII collection followed beside the logs: pulled every `every`; what it newly publishes
/// is hunted for in what was already read (within `retro`), then in every new line.
pub(crate) struct Refresh<'a> {
    pub(crate) source: crate::taxii::Source,
    pub(crate) every: Duration,
    pub(crate) retro: Duration,
    /// Everything to hunt with, from all the objects kept (the files given on the command
    /// line and the collection's objects).
    pub(crate) rebuild: &'a dyn Fn(&[serde_json::Value]) -> anyhow::Result<Loaded>,
}

/// One poll: reads what every log added, hunts through it, saves the state. Returns the
/// sightings with their lines counted from each log's start.
fn poll(f: &Follow, state: &mut State) -> anyhow::Result<Vec<Sighting>> {
    let mut inputs = Vec::new();
    let mut base: HashMap<String, u64> = HashMap::new();
    for path in candidates(&f.logs) {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let Some(first) = first_line(&path) else {
            continue;
        };
        let inode = (!gzip(&path)).then(|| meta.ino());
        let (offset, lines) = match state.find(&first, inode) {
            Some(e) => (e.offset, e.lines),
            None => {
                state.logs.push(Entry {
                    first: first.clone(),
                    inode,
                    offset: 0,
                    lines: 0,
                    path: path.clone(),
                });
                (0, 0)
            }
        };
        let bytes = read_new(&path, offset).with_context(|| path.display().to_string())?;
        let entry = state.find(&first, inode).expect("just found or added");
        entry.path = path.clone();
        if inode.is_some() {
            entry.inode = inode;
        }
        if bytes.is_empty() {
            continue;
        }
        entry.offset += bytes.len() as u64;
        entry.lines += bytes.iter().filter(|b| **b == b'\n').count() as u64;
        let name = path.display().to_string();
        base.insert(name.clone(), lines);
        inputs.push(Input::Memory {
            name,
            bytes: Arc::new(bytes),
        });
    }
    let mut sightings = Vec::new();
    if !inputs.is_empty() {
        let hunter = Hunter {
            rules: &f.loaded.rules,
            indicators: &f.loaded.indicators,
            format: f.format,
            threads: f.threads,
            now: chrono::Utc::now(),
        };
        let report = hunter.run(&inputs, &|_| {});
        for mut s in report.sightings {
            s.line += base.get(&s.file).copied().unwrap_or(0);
            sightings.push(s);
        }
    }
    // Logs gone for a week are forgotten; the rest kept.
    if state.logs.len() > 1_000 {
        let keep = state.logs.len() - 1_000;
        state.logs.drain(..keep);
    }
    state.save(&f.state)?;
    Ok(sightings)
}

/// The retro-hunt: what was already read of every log (and rotated log) written within
/// `retro`, hunted with what a pull newly brought. Lines are counted from each log's start, as
/// the follow counts them, so a sighting found both ways is the same sighting.
fn retro_hunt(f: &Follow, state: &State, with: &Loaded, retro: Duration) -> Vec<Sighting> {
    let since = std::time::SystemTime::now()
        .checked_sub(retro)
        .unwrap_or(std::time::UNIX_EPOCH);
    let mut inputs = Vec::new();
    for e in &state.logs {
        let Ok(meta) = std::fs::metadata(&e.path) else {
            continue;
        };
        if e.offset == 0 || meta.modified().is_ok_and(|m| m < since) {
            continue;
        }
        // A live log larger than this is read whole, not copied: the lines after the offset
        // may then be sighted twice (here and by the follow), which the server counts once
        // (a sighting's id is its rule, file and line).
        const COPY_AT_MOST: u64 = 256 << 20;
        if gzip(&e.path) || meta.len() == e.offset || e.offset > COPY_AT_MOST {
            inputs.push(Input::Path(e.path.clone()));
        } else {
            // The live log: what was read of it (the rest is read by the follow, with every
            // rule and indicator).
            let mut bytes = Vec::new();
            let read = std::fs::File::open(&e.path)
                .and_then(|file| file.take(e.offset).read_to_end(&mut bytes));
            if read.is_ok() {
                inputs.push(Input::Memory {
                    name: e.path.display().to_string(),
                    bytes: Arc::new(bytes),
                });
            }
        }
    }
    if inputs.is_empty() {
        return Vec::new();
    }
    let hunter = Hunter {
        rules: &with.rules,
        indicators: &with.indicators,
        format: f.format,
        threads: f.threads,
        now: chrono::Utc::now(),
    };
    hunter.run(&inputs, &|_| {}).sightings
}

/// What `run` hands each poll's sightings to: `Break` ends the following.
pub(crate) type Found<'a> =
    dyn FnMut(Vec<Sighting>, &Loaded) -> anyhow::Result<ControlFlow<()>> + 'a;

/// Polls until stopped (or `stop_after`, or `found` breaks), handing each poll's sightings to
/// `found` with what was hunted with. With `refresh`, the TAXII collection is pulled again
/// every so often and what it newly publishes is hunted for over the logs already read.
pub(crate) async fn run(
    mut f: Follow,
    refresh: Option<Refresh<'_>>,
    found: &mut Found<'_>,
) -> anyhow::Result<()> {
    let mut state = State::load(&f.state)?;
    let started = Instant::now();
    let mut pulled_at = Instant::now();
    loop {
        let sightings = tokio::task::block_in_place(|| poll(&f, &mut state))?;
        if !sightings.is_empty() && found(sightings, &f.loaded)?.is_break() {
            return Ok(());
        }
        if let Some(r) = &refresh
            && pulled_at.elapsed() >= r.every
        {
            pulled_at = Instant::now();
            match crate::taxii::pull_from(&r.source).await {
                Ok(pulled) if !pulled.new.is_empty() => {
                    let mut new = Loaded::empty();
                    crate::taxii::load_into(&pulled.new, &r.source.collection, &mut new);
                    let retro =
                        tokio::task::block_in_place(|| retro_hunt(&f, &state, &new, r.retro));
                    eprintln!(
                        "retro-hunt with {} new rules and {} new indicators: {} sightings",
                        new.rules.loaded,
                        new.indicators.len(),
                        retro.len()
                    );
                    f.loaded = (r.rebuild)(&pulled.all)?;
                    if !retro.is_empty() && found(retro, &f.loaded)?.is_break() {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                // The logs are still followed with what was pulled before.
                Err(e) => eprintln!("warning: pulling from TAXII: {e:#}"),
            }
        }
        if f.stop_after.is_some_and(|d| started.elapsed() >= d) {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(f.interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
