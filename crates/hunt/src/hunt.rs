//! The hunt: every log read once, each record offered to the compiled rules and indicators;
//! files in parallel, each streamed line by line (memory does not grow with the log).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Datelike, Duration, Utc};
use flate2::read::MultiGzDecoder;
use serde::Serialize;

use crate::indicators::{IndicatorSet, LeafHit, Scratch};
use crate::logs::{Family, LogFormat, parse_line};
use crate::sigma::RuleSet;

/// A log to read.
#[derive(Debug, Clone)]
pub enum Input {
    Path(PathBuf),
    /// Standard input (`-`).
    Stdin,
    /// Lines already read, by name (what `ward hunt --follow` read of a log since last time).
    Memory {
        name: String,
        bytes: std::sync::Arc<Vec<u8>>,
    },
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Self::Path(p) => p.display().to_string(),
            Self::Stdin => "-".into(),
            Self::Memory { name, .. } => name.clone(),
        }
    }
}

/// A field a rule or indicator matched, with the log's value.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Matched {
    pub field: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SightingKind {
    Sigma,
    Indicator,
}

/// Something a rule or indicator found.
#[derive(Debug, Clone, Serialize)]
pub struct Sighting {
    #[serde(rename = "type")]
    pub kind: SightingKind,
    /// The rule's `id` (its title when it has none) or the indicator's STIX id
    /// (`file:line` for plain lists).
    pub id: String,
    pub title: String,
    pub level: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub file: String,
    pub line: u64,
    pub timestamp: Option<DateTime<Utc>>,
    pub matched: Vec<Matched>,
    #[serde(flatten)]
    pub evidence: Evidence,
}

/// What a sighted line says beyond the fields matched: the client's address, the line itself
/// (cut to [`EXCERPT_CHARS`]) and its SHA-256. The line stays with the member unless it
/// chooses to share it (`ward hunt --share-excerpts`); the hash can always be shared.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Evidence {
    /// The client address the record names (`c-ip`, `source.ip`, …), when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub excerpt: String,
    pub line_sha256: String,
}

/// The longest excerpt of a sighted line kept, in characters.
pub const EXCERPT_CHARS: usize = 512;

impl Evidence {
    pub(crate) fn of(line: &str, record: &crate::logs::Record) -> Self {
        use sha2::Digest as _;
        let line = line.trim_end_matches(['\r', '\n']);
        Self {
            source: record
                .get("c-ip")
                .map(|s| s.chars().take(100).collect::<String>())
                .filter(|s| !s.is_empty() && s != "-"),
            excerpt: line.chars().take(EXCERPT_CHARS).collect(),
            line_sha256: hex::encode(sha2::Sha256::digest(line.as_bytes())),
        }
    }
}

/// A line that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct LineProblem {
    pub file: String,
    pub line: u64,
    pub message: String,
}

/// What was read of one log.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub file: String,
    pub format: Option<String>,
    pub lines: u64,
    pub bytes: u64,
    /// Lines that were not in the log's format (the first few are in `problems`).
    pub unreadable: u64,
    /// Set when the file could not be read at all.
    pub error: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub sightings: Vec<Sighting>,
    pub files: Vec<FileSummary>,
    pub problems: Vec<LineProblem>,
}

/// Lines reported per file before only counting.
const PROBLEMS_PER_FILE: usize = 10;
/// Lines looked at to decide a log's format.
const SNIFF_LINES: usize = 20;

pub struct Hunter<'a> {
    pub rules: &'a RuleSet,
    pub indicators: &'a IndicatorSet,
    /// `--log-format`: read every input in this format instead of detecting it.
    pub format: Option<LogFormat>,
    pub threads: usize,
    pub now: DateTime<Utc>,
}

struct FileOutcome {
    summary: FileSummary,
    sightings: Vec<Sighting>,
    problems: Vec<LineProblem>,
    hits: Vec<LeafHit>,
}

impl FileOutcome {
    fn new(file: &str) -> Self {
        Self {
            summary: FileSummary {
                file: file.to_owned(),
                format: None,
                lines: 0,
                bytes: 0,
                unreadable: 0,
                error: None,
            },
            sightings: Vec::new(),
            problems: Vec::new(),
            hits: Vec::new(),
        }
    }
}

impl Hunter<'_> {
    /// Hunts through the inputs. `progress` is told how many bytes each file read (as read).
    pub fn run(&self, inputs: &[Input], progress: &(dyn Fn(u64) + Sync)) -> Report {
        let next = AtomicUsize::new(0);
        let units = self.plan(inputs);
        let outcomes: Mutex<Vec<(usize, usize, FileOutcome)>> = Mutex::new(Vec::new());
        let threads = self.threads.clamp(1, units.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(unit) = units.get(i) else { break };
                        let outcome = self.one(unit, &inputs[unit.input], progress);
                        outcomes
                            .lock()
                            .expect("no worker panics holding it")
                            .push((unit.input, unit.chunk, outcome));
                    }
                });
            }
        });
        let mut outcomes = outcomes.into_inner().expect("workers done");
        outcomes.sort_by_key(|(i, c, _)| (*i, *c));
        let mut report = Report::default();
        let mut hits = Vec::new();
        // A file read in pieces: each piece counted its own lines from 1; shift them.
        let mut offset = 0;
        for (_, chunk, mut o) in outcomes {
            if chunk == 0 {
                offset = 0;
                report.files.push(o.summary.clone());
            } else {
                let file = report.files.last_mut().expect("chunk 0 first");
                file.lines += o.summary.lines;
                file.bytes += o.summary.bytes;
                file.unreadable += o.summary.unreadable;
                if file.error.is_none() {
                    file.error = o.summary.error.take();
                }
                let shown = report
                    .problems
                    .iter()
                    .filter(|p| p.file == file.file)
                    .count();
                o.problems.truncate(PROBLEMS_PER_FILE.saturating_sub(shown));
            }
            for s in &mut o.sightings {
                s.line += offset;
            }
            for p in &mut o.problems {
                p.line += offset;
            }
            for h in &mut o.hits {
                h.line += offset;
            }
            offset += o.summary.lines;
            report.sightings.extend(o.sightings);
            report.problems.extend(o.problems);
            hits.extend(o.hits);
        }
        // Patterns of several observations, decided over every file's hits.
        for (ind, found) in self.indicators.decide(&hits) {
            let info = &self.indicators.indicators[ind as usize];
            for h in found {
                report.sightings.push(Sighting {
                    kind: SightingKind::Indicator,
                    id: info.id.clone(),
                    title: info.title.clone(),
                    level: None,
                    tags: Vec::new(),
                    file: inputs[h.file].name(),
                    line: h.line,
                    timestamp: h.timestamp,
                    matched: to_matched(h.matched),
                    evidence: h.evidence,
                });
            }
        }
        let order: std::collections::HashMap<String, usize> = inputs
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name(), i))
            .collect();
        report.sightings.sort_by(|a, b| {
            (order.get(&a.file), a.line, &a.id).cmp(&(order.get(&b.file), b.line, &b.id))
        });
        report
    }

    /// The work: one unit a log, except that a large plain file is cut into as many pieces as
    /// there are threads, at line boundaries, so that one big log also uses every core.
    fn plan(&self, inputs: &[Input]) -> Vec<Unit> {
        let mut units = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            let whole = Unit {
                input: i,
                chunk: 0,
                range: None,
                format: self.format,
                fan_out: false,
            };
            // A plain file, or lines already in memory (`--follow`), can be cut at line
            // boundaries; a compressed file or standard input cannot.
            let (len, cuttable) = match input {
                Input::Path(path) if self.threads > 1 => {
                    (std::fs::metadata(path).map_or(0, |m| m.len()), !gzip(path))
                }
                Input::Memory { bytes, .. } if self.threads > 1 => (bytes.len() as u64, true),
                _ => (0, false),
            };
            let pieces = (len / CHUNK_MIN).min(self.threads as u64);
            // Opened only to be cut: opening standard input would consume what it holds.
            let format = if pieces > 1 && cuttable {
                match open(input) {
                    Ok(mut r) => self.format.or_else(|| sniff(&mut r).ok()?.0),
                    Err(_) => None,
                }
            } else {
                None
            };
            let Some(format) = format else {
                units.push(whole);
                continue;
            };
            let step = len / pieces;
            for c in 0..pieces {
                let end = if c + 1 == pieces { len } else { (c + 1) * step };
                units.push(Unit {
                    input: i,
                    chunk: c as usize,
                    range: Some((c * step, end)),
                    format: Some(format),
                    fan_out: false,
                });
            }
        }
        if units.len() < self.threads {
            for unit in units.iter_mut().filter(|u| u.range.is_none()) {
                unit.fan_out = true;
            }
        }
        units
    }

    fn one(&self, unit: &Unit, input: &Input, progress: &(dyn Fn(u64) + Sync)) -> FileOutcome {
        let index = unit.input;
        let name = input.name();
        let mut outcome = FileOutcome::new(&name);
        let result = match (unit.range, input) {
            (Some((start, end)), Input::Path(_) | Input::Memory { .. }) => self.read_range(
                index,
                input,
                (start, end),
                unit.format.expect("planned with a format"),
                &mut outcome,
                progress,
            ),
            _ => match open(input) {
                Ok(reader) => {
                    let workers = if unit.fan_out { self.threads } else { 1 };
                    self.read(index, reader, unit.format, workers, &mut outcome, progress)
                }
                Err(e) => {
                    outcome.summary.error = Some(format!("{name}: {e}"));
                    return outcome;
                }
            },
        };
        if let Err(e) = result {
            outcome.summary.error =
                Some(format!("{name}: line {}: {e}", outcome.summary.lines + 1));
        }
        outcome
    }

    /// Lines starting in `[start, end)` of a plain file (or lines in memory), in a known format.
    fn read_range(
        &self,
        index: usize,
        input: &Input,
        (start, end): (u64, u64),
        format: LogFormat,
        outcome: &mut FileOutcome,
        progress: &(dyn Fn(u64) + Sync),
    ) -> io::Result<()> {
        use std::io::{Seek, SeekFrom};
        let mut pos = start.saturating_sub(1);
        let source: Box<dyn Read + Send> = match input {
            Input::Path(path) => {
                let mut file = File::open(path)?;
                file.seek(SeekFrom::Start(pos))?;
                Box::new(file)
            }
            Input::Memory { bytes, .. } => {
                let mut cursor = io::Cursor::new(MemoryBytes(bytes.clone()));
                cursor.set_position(pos);
                Box::new(cursor)
            }
            Input::Stdin => return Err(io::Error::other("standard input is not cut")),
        };
        let mut lines = Lines::new(source);
        if start > 0 {
            // The line that began before `start` belongs to the previous piece (reading from
            // start - 1 also consumes a newline that ends exactly there).
            pos += lines.next()?.map_or(0, |l| l.len() as u64);
        }
        outcome.summary.format = Some(format.name().into());
        let mut state = self.state(format, index);
        let mut pending = 0u64;
        while pos < end {
            let Some(buf) = lines.next()? else { break };
            let n = buf.len();
            pos += n as u64;
            outcome.summary.bytes += n as u64;
            pending += n as u64;
            if pending >= 1 << 20 {
                progress(pending);
                pending = 0;
            }
            self.line_bytes(buf, &mut state, outcome);
        }
        progress(pending);
        Ok(())
    }

    fn state(&self, format: LogFormat, index: usize) -> LineState {
        LineState {
            format,
            family: format.family(),
            year: self.now.year(),
            index,
            scratch: Scratch::default(),
        }
    }

    fn read(
        &self,
        index: usize,
        mut reader: Box<dyn BufRead + Send>,
        forced: Option<LogFormat>,
        workers: usize,
        outcome: &mut FileOutcome,
        progress: &(dyn Fn(u64) + Sync),
    ) -> io::Result<()> {
        // Read the first lines to decide the format, then go on streaming.
        let (detected, head, ended) = sniff(&mut reader)?;
        for line in &head {
            progress(line.len() as u64);
            outcome.summary.bytes += line.len() as u64;
        }
        let format = forced.or(detected);
        let Some(format) = format else {
            if !head.iter().all(|l| l.trim().is_empty()) {
                outcome.summary.error = Some(format!(
                    "{}: not a log format Ward reads (access log, JSON lines, syslog); name one with --log-format",
                    outcome.summary.file
                ));
            }
            return Ok(());
        };
        outcome.summary.format = Some(format.name().into());
        let mut state = self.state(format, index);
        for line in &head {
            self.line(line, &mut state, outcome);
        }
        if ended {
            return Ok(());
        }
        if workers > 1 {
            return self.read_blocks(index, format, reader, workers, outcome, progress);
        }
        let mut pending = 0u64;
        let mut lines = Lines::new(reader);
        while let Some(buf) = lines.next()? {
            let n = buf.len();
            outcome.summary.bytes += n as u64;
            pending += n as u64;
            if pending >= 1 << 20 {
                progress(pending);
                pending = 0;
            }
            self.line_bytes(buf, &mut state, outcome);
        }
        progress(pending);
        Ok(())
    }

    /// The rest of a log, read here in blocks of whole lines that `workers` threads hunt
    /// through; their findings are put back in the log's order.
    fn read_blocks(
        &self,
        index: usize,
        format: LogFormat,
        mut reader: Box<dyn BufRead + Send>,
        workers: usize,
        outcome: &mut FileOutcome,
        progress: &(dyn Fn(u64) + Sync),
    ) -> io::Result<()> {
        let (send, blocks) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(workers * 2);
        let blocks = Mutex::new(blocks);
        let done: Mutex<Vec<(usize, FileOutcome)>> = Mutex::new(Vec::new());
        let name = outcome.summary.file.clone();
        let result = std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    let mut state = self.state(format, index);
                    loop {
                        let next = blocks.lock().expect("no worker panics holding it").recv();
                        let Ok((seq, block)) = next else { break };
                        let mut part = FileOutcome::new(&name);
                        let lines = block
                            .split_inclusive(|&b| b == b'\n')
                            .flat_map(|l| l.chunks(MAX_LINE));
                        for line in lines {
                            part.summary.bytes += line.len() as u64;
                            self.line_bytes(line, &mut state, &mut part);
                        }
                        progress(block.len() as u64);
                        done.lock()
                            .expect("no worker panics holding it")
                            .push((seq, part));
                    }
                });
            }
            let result = blocks_of_lines(&mut reader, &mut |seq, block| {
                send.send((seq, block)).is_ok()
            });
            drop(send);
            result
        });
        let mut parts = done.into_inner().expect("workers done");
        parts.sort_by_key(|(seq, _)| *seq);
        for (_, mut part) in parts {
            let offset = outcome.summary.lines;
            part.sightings.iter_mut().for_each(|s| s.line += offset);
            part.hits.iter_mut().for_each(|h| h.line += offset);
            for mut p in part.problems {
                if outcome.problems.len() < PROBLEMS_PER_FILE {
                    p.line += offset;
                    outcome.problems.push(p);
                }
            }
            outcome.summary.lines += part.summary.lines;
            outcome.summary.bytes += part.summary.bytes;
            outcome.summary.unreadable += part.summary.unreadable;
            outcome.sightings.extend(part.sightings);
            outcome.hits.extend(part.hits);
        }
        result
    }

    /// A line as read: not valid UTF-8, it is read with replacement characters.
    fn line_bytes(&self, line: &[u8], state: &mut LineState, outcome: &mut FileOutcome) {
        match std::str::from_utf8(line) {
            Ok(s) => self.line(s, state, outcome),
            Err(_) => self.line(&String::from_utf8_lossy(line), state, outcome),
        }
    }

    fn line(&self, line: &str, state: &mut LineState, outcome: &mut FileOutcome) {
        outcome.summary.lines += 1;
        let line_no = outcome.summary.lines;
        if line.trim().is_empty() {
            return;
        }
        let record = match parse_line(state.format, line, state.year) {
            Ok(r)
                if r.timestamp
                    .is_some_and(|t| t > self.now + Duration::days(2))
                    && state.format == LogFormat::Syslog3164 =>
            {
                // RFC 3164 has no year: a December line read in January belongs to last year.
                parse_line(state.format, line, state.year - 1)
            }
            other => other,
        };
        let record = match record {
            Ok(r) => r,
            Err(message) => {
                outcome.summary.unreadable += 1;
                if outcome.problems.len() < PROBLEMS_PER_FILE {
                    outcome.problems.push(LineProblem {
                        file: outcome.summary.file.clone(),
                        line: line_no,
                        message: format!("not a {} line: {message}", state.format),
                    });
                }
                return;
            }
        };
        let family = if record.proxy_request && state.family == Family::Webserver {
            Family::Proxy
        } else {
            state.family
        };
        for m in self.rules.evaluate(family, &record, line) {
            let matched = m
                .as_detection()
                .map(|d| {
                    d.matched_fields
                        .iter()
                        .map(|f| Matched {
                            field: f.field.clone(),
                            value: match &f.value {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            },
                        })
                        .fold(Vec::new(), |mut acc: Vec<Matched>, m| {
                            if !acc.contains(&m) {
                                acc.push(m);
                            }
                            acc
                        })
                })
                .unwrap_or_default();
            outcome.sightings.push(Sighting {
                kind: SightingKind::Sigma,
                id: m
                    .header
                    .rule_id
                    .clone()
                    .unwrap_or_else(|| m.header.rule_title.clone()),
                title: m.header.rule_title.clone(),
                level: m.header.level.map(|l| l.as_str().to_owned()),
                tags: m.header.tags.clone(),
                file: outcome.summary.file.clone(),
                line: line_no,
                timestamp: record.timestamp,
                matched,
                evidence: Evidence::of(line, &record),
            });
        }
        for (leaf, matched) in self.indicators.leaves_hit(&record, &mut state.scratch) {
            let (ind, simple) = self.indicators.leaf_indicator(leaf);
            if simple {
                let info = &self.indicators.indicators[ind as usize];
                outcome.sightings.push(Sighting {
                    kind: SightingKind::Indicator,
                    id: info.id.clone(),
                    title: info.title.clone(),
                    level: None,
                    tags: Vec::new(),
                    file: outcome.summary.file.clone(),
                    line: line_no,
                    timestamp: record.timestamp,
                    matched: to_matched(matched),
                    evidence: Evidence::of(line, &record),
                });
            } else {
                outcome.hits.push(LeafHit {
                    leaf,
                    file: state.index,
                    line: line_no,
                    timestamp: record.timestamp,
                    matched,
                    evidence: Evidence::of(line, &record),
                });
            }
        }
    }
}

/// The lines of a log, each with its newline (the last may have none). std's `read_until`
/// looks for the newline a word at a time; this uses `memchr`'s vector search, which the hunt
/// felt (a line is ~200 bytes, searched once to be found and once more in pieces).
struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

/// A longer line is handed on in pieces of this size (a log without newlines does not grow
/// memory without end).
const MAX_LINE: usize = 1 << 20;

impl<R: Read> Lines<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
            eof: false,
        }
    }

    fn next(&mut self) -> io::Result<Option<&[u8]>> {
        loop {
            let pending = &self.buf[self.start..self.end];
            let cut = match memchr::memchr(b'\n', pending) {
                Some(i) => Some(i + 1),
                None if self.eof && !pending.is_empty() => Some(pending.len()),
                None if pending.len() >= MAX_LINE => Some(MAX_LINE),
                None if self.eof => return Ok(None),
                None => None,
            };
            if let Some(len) = cut {
                let line = self.start..self.start + len;
                self.start += len;
                return Ok(Some(&self.buf[line]));
            }
            // Keep the unfinished line, at the front, and read more after it.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Bytes read at a time for [`Hunter::read_blocks`].
const BLOCK: usize = 1 << 20;

/// Cuts what `reader` gives into blocks of whole lines (lines longer than [`MAX_LINE`] in
/// pieces of that size, as [`Lines`] gives them), numbered from 0, handing each to `block`
/// until it returns false.
fn blocks_of_lines(
    reader: &mut dyn Read,
    block: &mut dyn FnMut(usize, Vec<u8>) -> bool,
) -> io::Result<()> {
    let mut seq = 0;
    let mut carry = Vec::new();
    loop {
        let mut buf = std::mem::take(&mut carry);
        let start = buf.len();
        buf.resize(start + BLOCK, 0);
        let mut filled = start;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let ended = filled < buf.len();
        buf.truncate(filled);
        if ended {
            // The rest, its last line perhaps without a newline.
            if !buf.is_empty() {
                let _ = block(seq, buf);
            }
            return Ok(());
        }
        match memchr::memrchr(b'\n', &buf) {
            Some(i) => carry = buf.split_off(i + 1),
            None if buf.len() >= MAX_LINE => carry = buf.split_off(MAX_LINE),
            None => {
                carry = buf;
                continue;
            }
        }
        if !block(seq, buf) {
            return Ok(());
        }
        seq += 1;
    }
}

/// A piece of work: a log, or a byte range of one.
struct Unit {
    input: usize,
    chunk: usize,
    range: Option<(u64, u64)>,
    format: Option<LogFormat>,
    /// A whole log read by one thread while others would have nothing to do (a compressed log,
    /// standard input, fewer logs than threads): its lines are handed out in blocks to
    /// every thread.
    fan_out: bool,
}

/// Files smaller than this are read whole.
const CHUNK_MIN: u64 = 16 << 20;

/// The first lines of a log and the format they show; whether the log ended within them.
fn sniff(reader: &mut dyn BufRead) -> io::Result<(Option<LogFormat>, Vec<String>, bool)> {
    let mut head = Vec::new();
    let mut buf = Vec::with_capacity(4096);
    let mut ended = false;
    while head.len() < SNIFF_LINES {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            ended = true;
            break;
        }
        head.push(String::from_utf8_lossy(&buf).into_owned());
    }
    let format = LogFormat::detect(head.iter().map(String::as_str));
    Ok((format, head, ended))
}

fn gzip(path: &std::path::Path) -> bool {
    let mut magic = [0u8; 2];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == [0x1f, 0x8b])
}

struct LineState {
    format: LogFormat,
    family: Family,
    year: i32,
    index: usize,
    scratch: Scratch,
}

fn to_matched(pairs: Vec<(String, String)>) -> Vec<Matched> {
    pairs
        .into_iter()
        .map(|(field, value)| Matched { field, value })
        .collect()
}

/// Shared bytes as a reader's buffer.
struct MemoryBytes(std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for MemoryBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Opens a log, decompressing gzip (judged by its magic bytes, so rotated `.1.gz` and renamed
/// files both work; multi-member archives as `logrotate` and `cat a.gz b.gz` make them).
fn open(input: &Input) -> io::Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = match input {
        Input::Path(p) => Box::new(File::open(p)?),
        Input::Stdin => Box::new(io::stdin()),
        Input::Memory { bytes, .. } => Box::new(io::Cursor::new(MemoryBytes(bytes.clone()))),
    };
    let mut reader = BufReader::with_capacity(256 * 1024, raw);
    let magic = reader.fill_buf()?;
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            256 * 1024,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most `step` bytes a read, as pipes and decompressors do.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn all_lines(data: &[u8], step: usize) -> Vec<Vec<u8>> {
        let mut lines = Lines::new(Trickle { data, step });
        let mut out = Vec::new();
        while let Some(l) = lines.next().unwrap() {
            out.push(l.to_vec());
        }
        out
    }

    #[test]
    fn lines_come_out_as_written_across_buffer_ends() {
        // ~700 KB of lines of every length up to 1,000 bytes: many cross the 256 KiB buffer's
        // end; the last has no newline.
        let mut data = Vec::new();
        for i in 0..1400usize {
            data.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, i * 7 % 1000));
            data.push(b'\n');
        }
        data.extend_from_slice(b"no newline");
        let expected: Vec<Vec<u8>> = data
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        for step in [usize::MAX, 4096, 1] {
            assert_eq!(all_lines(&data, step), expected, "reads of {step} bytes");
        }
        assert!(all_lines(b"", 10).is_empty());
        assert_eq!(all_lines(b"\n\n", 10), vec![b"\n".to_vec(), b"\n".to_vec()]);
    }

    #[test]
    fn a_line_longer_than_the_bound_comes_in_pieces() {
        let mut data = vec![b'x'; MAX_LINE * 2 + 5];
        data.push(b'\n');
        data.extend_from_slice(b"next\n");
        let lines = all_lines(&data, usize::MAX);
        let lens: Vec<usize> = lines.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![MAX_LINE, MAX_LINE, 6, 5]);
        assert_eq!(lines.concat(), data, "nothing lost");
    }

    /// The lines blocks hold, as the workers of `read_blocks` cut them.
    fn block_lines(data: &[u8], step: usize) -> Vec<Vec<u8>> {
        let mut blocks = Vec::new();
        blocks_of_lines(&mut Trickle { data, step }, &mut |seq, block| {
            assert_eq!(seq, blocks.len(), "numbered in order");
            blocks.push(block);
            true
        })
        .unwrap();
        blocks
            .iter()
            .flat_map(|b| {
                b.split_inclusive(|&c| c == b'\n')
                    .flat_map(|l| l.chunks(MAX_LINE))
            })
            .map(<[u8]>::to_vec)
            .collect()
    }

    #[test]
    fn blocks_hold_the_lines_the_reader_reads() {
        // Short lines across block ends, a line longer than the bound starting mid-block, and
        // a last line without a newline.
        let mut data = Vec::new();
        for i in 0..30_000usize {
            data.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, i * 13 % 200));
            data.push(b'\n');
        }
        data.extend(vec![b'y'; MAX_LINE + MAX_LINE / 2]);
        data.push(b'\n');
        data.extend(vec![b'z'; 3 * MAX_LINE]);
        data.push(b'\n');
        data.extend_from_slice(b"last");
        let expected = all_lines(&data, usize::MAX);
        for step in [usize::MAX, 100_000] {
            assert_eq!(block_lines(&data, step), expected, "reads of {step} bytes");
        }
        assert!(block_lines(b"", 10).is_empty());
    }
}

#[cfg(test)]
mod compressed {
    use std::io::Write;

    use super::*;
    use crate::{IndicatorSet, RuleSet};

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn hunt(bytes: Vec<u8>, threads: usize) -> Report {
        let (rules, mut indicators) = (RuleSet::new(), IndicatorSet::new());
        indicators.add_list("ips.txt", "203.0.113.66\n", false);
        indicators.finish();
        Hunter {
            rules: &rules,
            indicators: &indicators,
            format: None,
            threads,
            now: chrono::Utc::now(),
        }
        .run(
            &[Input::Memory {
                name: "access.log.gz".into(),
                bytes: std::sync::Arc::new(bytes),
            }],
            &|_| {},
        )
    }

    /// Access-log lines, every 1,000th from the indicator's address; ~2.5 blocks.
    fn log() -> (Vec<u8>, Vec<u64>) {
        let (mut data, mut hits) = (Vec::new(), Vec::new());
        let mut n = 0u64;
        while data.len() < BLOCK * 5 / 2 {
            n += 1;
            let ip = if n.is_multiple_of(1000) {
                hits.push(n);
                "203.0.113.66"
            } else {
                "10.0.0.1"
            };
            writeln!(
                data,
                r#"{ip} - - [15/May/2025:10:00:00 +0000] "GET /{n} HTTP/1.1" 200 5 "-" "a""#
            )
            .unwrap();
        }
        (data, hits)
    }

    #[test]
    fn a_compressed_log_in_two_members_is_hunted_whole_by_every_thread() {
        let (data, hits) = log();
        let (a, b) = data.split_at(BLOCK + 7);
        let mut both = gz(a);
        both.extend(gz(b));
        for threads in [1, 3] {
            let report = hunt(both.clone(), threads);
            let lines: Vec<u64> = report.sightings.iter().map(|s| s.line).collect();
            assert_eq!(lines, hits, "{threads} threads");
            assert_eq!(report.files[0].bytes, data.len() as u64);
            assert_eq!(report.files[0].error, None);
        }
    }

    #[test]
    fn a_broken_compressed_log_is_an_error_not_an_end() {
        let (data, _) = log();
        let mut bytes = gz(&data);
        bytes.truncate(bytes.len() / 2);
        for threads in [1, 3] {
            let report = hunt(bytes.clone(), threads);
            let file = &report.files[0];
            assert!(file.error.is_some(), "{threads} threads: {file:?}");
            assert!(file.lines > 0, "what was read before is hunted");
        }
    }
}
