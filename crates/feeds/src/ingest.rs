//! Walks files, folders and archives, handing each document's bytes to a callback.
//!
//! Archives (`.zip`, `.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`) are read as streams, entry by
//! entry, never unpacked to disk; single compressed files (`.gz`, `.xz`) are decompressed in
//! memory. Names in messages join archive and entry with `!`: `feed.tar.xz!2024/CVE-….json`.
//!
//! Everything is read through [`Limits`]: a document (a plain file, a decompressed file, an
//! archive entry) may hold at most `document` bytes once expanded, and an archive may expand to
//! at most `archive` bytes in all (entries passed over included), so a decompression bomb stops
//! at the limit with an error naming the file and the limit instead of filling memory.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Why a path could not be read (as opposed to a record in it being bad).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path}: the archive is damaged or truncated: {message}")]
    Archive { path: String, message: String },
    #[error("{path}: {message}")]
    Callback { path: String, message: String },
    #[error(
        "{path}: expands beyond the {what} limit of {} ({flag}); nothing of it was used",
        human(*limit)
    )]
    TooLarge {
        path: String,
        what: &'static str,
        limit: u64,
        flag: &'static str,
    },
}

/// How much a walk may expand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes one document may hold once decompressed.
    pub document: u64,
    /// Bytes one archive or compressed file may expand to in all.
    pub archive: u64,
}

impl Limits {
    /// 256 MiB a document (the largest real feed document, an NVD API page or a KEV file, is
    /// tens of MiB; a document is held in memory while it is parsed), 16 GiB an archive (the
    /// whole cvelistV5 corpus expands to about 5 GiB).
    pub const DEFAULT: Self = Self {
        document: 256 << 20,
        archive: 16 << 30,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// `256 MiB`, `16 GiB`, `1000 bytes`.
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// Parses `256MiB`, `2GiB`, `512KiB`, `1000000` (bytes), `1G`, `300M`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 256MiB, 2GiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        _ => return Err(format!("{text:?}: unit {unit:?} is not B, KiB, MiB or GiB")),
    };
    n.checked_mul(1 << shift)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("{text:?} is not a size above zero"))
}

/// A reader that fails once more than `limit` bytes came through it.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::other(BeyondLimit));
        }
        Ok(n)
    }
}

/// The marker error of [`Bounded`].
#[derive(Debug)]
struct BeyondLimit;

impl std::fmt::Display for BeyondLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("beyond the limit")
    }
}

impl std::error::Error for BeyondLimit {}

fn is_beyond_limit(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<BeyondLimit>())
}

/// What the callback returns: go on, or stop with a message (e.g. `--strict` after an error).
pub type Visit<'a> = dyn FnMut(&str, &[u8]) -> Result<(), String> + 'a;

/// [`Visit`], handed each document's bytes to keep (to parse on another thread, say).
pub type VisitOwned<'a> = dyn FnMut(&str, Vec<u8>) -> Result<(), String> + 'a;

/// Counts of what the walk saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WalkStats {
    pub documents: usize,
    /// Files in folders or archives that are not feed files (README.md, schemas' .md …).
    pub skipped: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Zip,
    Tar,
    TarGz,
    TarXz,
    Gz,
    Xz,
    Plain,
}

fn kind(name: &str) -> Kind {
    let n = name.to_ascii_lowercase();
    if n.ends_with(".zip") {
        Kind::Zip
    } else if n.ends_with(".tar") {
        Kind::Tar
    } else if n.ends_with(".tar.gz") || n.ends_with(".tgz") {
        Kind::TarGz
    } else if n.ends_with(".tar.xz") || n.ends_with(".txz") {
        Kind::TarXz
    } else if n.ends_with(".gz") {
        Kind::Gz
    } else if n.ends_with(".xz") {
        Kind::Xz
    } else {
        Kind::Plain
    }
}

/// Feed files inside folders and archives are JSON or CSV (possibly compressed); anything else
/// there is passed over and listed as skipped.
fn is_feed_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let n = n
        .strip_suffix(".gz")
        .or_else(|| n.strip_suffix(".xz"))
        .unwrap_or(&n);
    n.ends_with(".json")
        || n.ends_with(".csv")
        || n.ends_with(".yaml")
        || n.ends_with(".yml")
        || kind(n) != Kind::Plain
}

/// Walks `path` (a file, folder or archive) and calls `visit` with each document, within the
/// default [`Limits`].
pub fn walk(path: &Path, visit: &mut Visit<'_>) -> Result<WalkStats, IngestError> {
    walk_limited(path, Limits::DEFAULT, visit)
}

/// Walks `path` within `limits`.
pub fn walk_limited(
    path: &Path,
    limits: Limits,
    visit: &mut Visit<'_>,
) -> Result<WalkStats, IngestError> {
    walk_owned(path, limits, &mut |name, bytes| visit(name, &bytes))
}

/// [`walk_limited`], each document's bytes handed over rather than lent.
pub fn walk_owned(
    path: &Path,
    limits: Limits,
    visit: &mut VisitOwned<'_>,
) -> Result<WalkStats, IngestError> {
    let mut stats = WalkStats::default();
    let display = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| IngestError::Io {
        path: display.clone(),
        source,
    })?;
    if meta.is_dir() {
        let mut entries: Vec<_> = walkdir::WalkDir::new(path)
            .sort_by_file_name()
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| IngestError::Io {
                path: e
                    .path()
                    .map_or(display.clone(), |p| p.display().to_string()),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| io::Error::other("filesystem loop")),
            })?;
        entries.retain(|e| e.file_type().is_file());
        for entry in entries {
            let name = entry.path().display().to_string();
            if is_feed_name(&name) {
                walk_file(entry.path(), &name, limits, visit, &mut stats)?;
            } else {
                stats.skipped.push(name);
            }
        }
    } else {
        walk_file(path, &display, limits, visit, &mut stats)?;
    }
    Ok(stats)
}

fn io_err(path: &str) -> impl FnOnce(io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_owned(),
        source,
    }
}

fn call(
    visit: &mut VisitOwned<'_>,
    name: &str,
    bytes: Vec<u8>,
    stats: &mut WalkStats,
) -> Result<(), IngestError> {
    stats.documents += 1;
    visit(name, bytes).map_err(|message| IngestError::Callback {
        path: name.to_owned(),
        message,
    })
}

fn walk_file(
    path: &Path,
    name: &str,
    limits: Limits,
    visit: &mut VisitOwned<'_>,
    stats: &mut WalkStats,
) -> Result<(), IngestError> {
    let open = || File::open(path).map(BufReader::new).map_err(io_err(name));
    // Everything a compressed archive expands to, entries passed over included.
    fn expanding<R: Read>(inner: R, limit: u64) -> Bounded<R> {
        Bounded {
            inner,
            read: 0,
            limit,
        }
    }
    match kind(name) {
        Kind::Zip => walk_zip(
            File::open(path).map_err(io_err(name))?,
            name,
            limits,
            visit,
            stats,
        ),
        Kind::Tar => walk_tar(
            expanding(open()?, limits.archive),
            name,
            limits,
            visit,
            stats,
        ),
        Kind::TarGz => walk_tar(
            expanding(flate2::read::MultiGzDecoder::new(open()?), limits.archive),
            name,
            limits,
            visit,
            stats,
        ),
        Kind::TarXz => walk_tar(
            expanding(
                liblzma::read::XzDecoder::new_multi_decoder(open()?),
                limits.archive,
            ),
            name,
            limits,
            visit,
            stats,
        ),
        Kind::Gz => {
            let bytes = read_document(flate2::read::MultiGzDecoder::new(open()?), name, limits)?;
            call(visit, name, bytes, stats)
        }
        Kind::Xz => {
            let bytes = read_document(
                liblzma::read::XzDecoder::new_multi_decoder(open()?),
                name,
                limits,
            )?;
            call(visit, name, bytes, stats)
        }
        Kind::Plain => {
            let bytes = read_document(open()?, name, limits)?;
            call(visit, name, bytes, stats)
        }
    }
}

fn too_large(path: &str, limits: Limits, whole_archive: bool) -> IngestError {
    if whole_archive {
        IngestError::TooLarge {
            path: path.to_owned(),
            what: "per-archive",
            limit: limits.archive,
            flag: "--max-archive",
        }
    } else {
        IngestError::TooLarge {
            path: path.to_owned(),
            what: "per-document",
            limit: limits.document,
            flag: "--max-document",
        }
    }
}

/// Reads one document, at most `limits.document` bytes of it.
fn read_document(r: impl Read, name: &str, limits: Limits) -> Result<Vec<u8>, IngestError> {
    let mut bytes = Vec::new();
    let mut bounded = r.take(limits.document + 1);
    match bounded.read_to_end(&mut bytes) {
        Ok(_) if bytes.len() as u64 > limits.document => Err(too_large(name, limits, false)),
        Ok(_) => Ok(bytes),
        Err(e) if is_beyond_limit(&e) => Err(too_large(name, limits, true)),
        Err(e) => Err(IngestError::Archive {
            path: name.to_owned(),
            message: e.to_string(),
        }),
    }
}

fn walk_tar(
    reader: impl Read,
    name: &str,
    limits: Limits,
    visit: &mut VisitOwned<'_>,
    stats: &mut WalkStats,
) -> Result<(), IngestError> {
    let archive_err = |e: io::Error| {
        if is_beyond_limit(&e) {
            too_large(name, limits, true)
        } else {
            IngestError::Archive {
                path: name.to_owned(),
                message: e.to_string(),
            }
        }
    };
    let mut archive = tar::Archive::new(reader);
    let mut saw_entry = false;
    for entry in archive.entries().map_err(archive_err)? {
        let mut entry = entry.map_err(archive_err)?;
        saw_entry = true;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let inner = entry.path().map_err(archive_err)?.display().to_string();
        let full = format!("{name}!{inner}");
        if !is_feed_name(&inner) {
            stats.skipped.push(full);
            continue;
        }
        let bytes = match read_document(&mut entry, &full, limits) {
            // The archive's stream ran past the archive's limit: name the archive.
            Err(IngestError::TooLarge {
                what: "per-archive",
                ..
            }) => {
                return Err(too_large(name, limits, true));
            }
            other => other?,
        };
        let bytes = decompress_entry(&inner, bytes, &full, limits)?;
        call(visit, &full, bytes, stats)?;
    }
    if !saw_entry {
        return Err(IngestError::Archive {
            path: name.to_owned(),
            message: "no entries (empty or not a tar archive)".into(),
        });
    }
    Ok(())
}

/// Entries inside archives may themselves be `.gz`/`.xz` (a nested archive is not walked).
fn decompress_entry(
    inner: &str,
    bytes: Vec<u8>,
    full: &str,
    limits: Limits,
) -> Result<Vec<u8>, IngestError> {
    match kind(inner) {
        Kind::Gz => read_document(flate2::read::MultiGzDecoder::new(&bytes[..]), full, limits),
        Kind::Xz => read_document(
            liblzma::read::XzDecoder::new_multi_decoder(&bytes[..]),
            full,
            limits,
        ),
        Kind::Plain => Ok(bytes),
        _ => Err(IngestError::Archive {
            path: full.to_owned(),
            message: "archives inside archives are not read".into(),
        }),
    }
}

fn walk_zip(
    file: File,
    name: &str,
    limits: Limits,
    visit: &mut VisitOwned<'_>,
    stats: &mut WalkStats,
) -> Result<(), IngestError> {
    let zip_err = |e: zip::result::ZipError| IngestError::Archive {
        path: name.to_owned(),
        message: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_err)?;
    let mut expanded: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(zip_err)?;
        if !entry.is_file() {
            continue;
        }
        let inner = entry.name().map_err(zip_err)?.into_owned();
        let full = format!("{name}!{inner}");
        if !is_feed_name(&inner) {
            stats.skipped.push(full);
            continue;
        }
        // Entries passed over are not expanded; those read count against the archive's limit
        // (by what they really expand to, not what their headers claim).
        let left = limits.archive.saturating_sub(expanded);
        let bounded = Bounded {
            inner: entry,
            read: 0,
            limit: left,
        };
        let bytes = read_document(bounded, &full, limits).map_err(|e| match e {
            IngestError::TooLarge {
                what: "per-archive",
                ..
            } => too_large(name, limits, true),
            e => e,
        })?;
        expanded += bytes.len() as u64;
        let bytes = decompress_entry(&inner, bytes, &full, limits)?;
        call(visit, &full, bytes, stats)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    type Seen = Vec<(String, Vec<u8>)>;

    fn collect(path: &Path) -> Result<(Seen, WalkStats), IngestError> {
        let mut seen = Vec::new();
        let stats = walk(path, &mut |n, b| {
            seen.push((n.to_owned(), b.to_vec()));
            Ok(())
        })?;
        Ok((seen, stats))
    }

    fn tar_gz(path: &Path, files: &[(&str, &[u8])]) {
        let f = File::create(path).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        let mut t = tar::Builder::new(gz);
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, name, *data).unwrap();
        }
        t.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn walks_folders_and_archives_skipping_other_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("README.md"), b"hi").unwrap();
        tar_gz(
            &dir.path().join("b.tar.gz"),
            &[("x/1.json", b"{\"a\":1}"), ("x/notes.txt", b"n")],
        );
        let mut xz =
            liblzma::write::XzEncoder::new(File::create(dir.path().join("c.csv.xz")).unwrap(), 6);
        xz.write_all(b"cve,epss,percentile\n").unwrap();
        xz.finish().unwrap();
        let zip_path = dir.path().join("d.zip");
        let mut z = zip::ZipWriter::new(File::create(&zip_path).unwrap());
        z.start_file("GHSA-1.json", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"[]").unwrap();
        z.finish().unwrap();

        let (seen, stats) = collect(dir.path()).unwrap();
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names[0].ends_with("/a.json"), "{names:?}");
        assert!(names[1].ends_with("/b.tar.gz!x/1.json"), "{names:?}");
        assert!(names[2].ends_with("/c.csv.xz"), "{names:?}");
        assert!(names[3].ends_with("/d.zip!GHSA-1.json"), "{names:?}");
        assert_eq!(seen[2].1, b"cve,epss,percentile\n");
        assert_eq!(stats.documents, 4);
        assert_eq!(stats.skipped.len(), 2, "{:?}", stats.skipped);
    }

    /// Zeros compress about a thousandfold: each format's bomb stops at the limit, named.
    #[test]
    fn bombs_in_every_format_stop_at_the_limit_naming_file_and_limit() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            document: 1 << 20,
            archive: 4 << 20,
        };
        let zeros = vec![b' '; 3 << 20];
        let gz = dir.path().join("bomb.json.gz");
        let mut e = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        e.write_all(&zeros).unwrap();
        e.finish().unwrap();
        let xz = dir.path().join("bomb.json.xz");
        let mut e = liblzma::write::XzEncoder::new(File::create(&xz).unwrap(), 6);
        e.write_all(&zeros).unwrap();
        e.finish().unwrap();
        let tgz = dir.path().join("bomb.tar.gz");
        tar_gz(&tgz, &[("big.json", &zeros)]);
        // An archive of entries each under the document limit, over the archive's in all.
        let many = dir.path().join("many.tar.gz");
        let small = vec![b' '; 900 << 10];
        let entries: Vec<(String, &[u8])> =
            (0..6).map(|i| (format!("{i}.json"), &small[..])).collect();
        let borrowed: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        tar_gz(&many, &borrowed);
        let zip_path = dir.path().join("bomb.zip");
        let mut z = zip::ZipWriter::new(File::create(&zip_path).unwrap());
        z.start_file("big.json", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(&zeros).unwrap();
        z.finish().unwrap();
        let nested = dir.path().join("nested.zip");
        let gz_bytes = std::fs::read(&gz).unwrap();
        let mut z = zip::ZipWriter::new(File::create(&nested).unwrap());
        z.start_file("inner.json.gz", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(&gz_bytes).unwrap();
        z.finish().unwrap();
        let plain = dir.path().join("plain.json");
        std::fs::write(&plain, &zeros).unwrap();

        for (path, named, what) in [
            (
                &gz,
                "bomb.json.gz",
                "per-document limit of 1 MiB (--max-document)",
            ),
            (&xz, "bomb.json.xz", "per-document limit of 1 MiB"),
            (&tgz, "bomb.tar.gz!big.json", "per-document limit of 1 MiB"),
            (
                &many,
                "many.tar.gz",
                "per-archive limit of 4 MiB (--max-archive)",
            ),
            (
                &zip_path,
                "bomb.zip!big.json",
                "per-document limit of 1 MiB",
            ),
            (&nested, "nested.zip!inner.json.gz", "per-document limit"),
            (&plain, "plain.json", "per-document limit"),
        ] {
            let mut documents = 0;
            let err = walk_limited(path, limits, &mut |_, _| {
                documents += 1;
                Ok(())
            })
            .unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, IngestError::TooLarge { .. }), "{text}");
            assert!(text.contains(named) && text.contains(what), "{text}");
            if named == "many.tar.gz" {
                assert!(documents < 6, "every entry was read");
            }
        }
        // Within the limits, the same documents are read.
        let roomy = Limits {
            document: 4 << 20,
            archive: 8 << 20,
        };
        for path in [&gz, &xz, &tgz, &many, &zip_path, &nested, &plain] {
            walk_limited(path, roomy, &mut |_, b| {
                assert!(b.len() >= 900 << 10);
                Ok(())
            })
            .unwrap();
        }
    }

    #[test]
    fn sizes_read_and_print() {
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("2 G").unwrap(), 2 << 30);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").unwrap_err().contains("parsecs"));
        assert_eq!(human(256 << 20), "256 MiB");
        assert_eq!(human(16 << 30), "16 GiB");
        assert_eq!(human(1000), "1000 bytes");
    }

    #[test]
    fn truncated_archive_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.tar.gz");
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        tar_gz(&path, &[("a.json", &big), ("b.json", b"{}")]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = collect(&path).unwrap_err();
        assert!(matches!(err, IngestError::Archive { .. }), "{err}");
        assert!(err.to_string().contains("feed.tar.gz"), "{err}");
    }

    #[test]
    fn missing_path_names_it() {
        let err = collect(Path::new("/nonexistent/ward-feed.json")).unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/ward-feed.json:"),
            "{err}"
        );
    }
}
