//! Walks files, folders and archives, handing each document's bytes to a callback.
//!
//! Archives (`.zip`, `.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`) are read as streams, entry by
//! entry, never unpacked to disk; single compressed files (`.gz`, `.xz`) are decompressed in
//! memory. Names in messages join archive and entry with `!`: `feed.tar.xz!2024/CVE-….json`.

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
}

/// What the callback returns: go on, or stop with a message (e.g. `--strict` after an error).
pub type Visit<'a> = dyn FnMut(&str, &[u8]) -> Result<(), String> + 'a;

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

/// Walks `path` (a file, folder or archive) and calls `visit` with each document.
pub fn walk(path: &Path, visit: &mut Visit<'_>) -> Result<WalkStats, IngestError> {
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
                walk_file(entry.path(), &name, visit, &mut stats)?;
            } else {
                stats.skipped.push(name);
            }
        }
    } else {
        walk_file(path, &display, visit, &mut stats)?;
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
    visit: &mut Visit<'_>,
    name: &str,
    bytes: &[u8],
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
    visit: &mut Visit<'_>,
    stats: &mut WalkStats,
) -> Result<(), IngestError> {
    let open = || File::open(path).map(BufReader::new).map_err(io_err(name));
    match kind(name) {
        Kind::Zip => walk_zip(File::open(path).map_err(io_err(name))?, name, visit, stats),
        Kind::Tar => walk_tar(open()?, name, visit, stats),
        Kind::TarGz => walk_tar(
            flate2::read::MultiGzDecoder::new(open()?),
            name,
            visit,
            stats,
        ),
        Kind::TarXz => walk_tar(
            liblzma::read::XzDecoder::new_multi_decoder(open()?),
            name,
            visit,
            stats,
        ),
        Kind::Gz => {
            let bytes = read_all(flate2::read::MultiGzDecoder::new(open()?), name)?;
            call(visit, name, &bytes, stats)
        }
        Kind::Xz => {
            let bytes = read_all(liblzma::read::XzDecoder::new_multi_decoder(open()?), name)?;
            call(visit, name, &bytes, stats)
        }
        Kind::Plain => {
            let bytes = std::fs::read(path).map_err(io_err(name))?;
            call(visit, name, &bytes, stats)
        }
    }
}

fn read_all(mut r: impl Read, name: &str) -> Result<Vec<u8>, IngestError> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)
        .map_err(|e| IngestError::Archive {
            path: name.to_owned(),
            message: e.to_string(),
        })?;
    Ok(bytes)
}

fn walk_tar(
    reader: impl Read,
    name: &str,
    visit: &mut Visit<'_>,
    stats: &mut WalkStats,
) -> Result<(), IngestError> {
    let archive_err = |e: io::Error| IngestError::Archive {
        path: name.to_owned(),
        message: e.to_string(),
    };
    let mut archive = tar::Archive::new(reader);
    let mut buf = Vec::new();
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
        buf.clear();
        entry.read_to_end(&mut buf).map_err(archive_err)?;
        let bytes = decompress_entry(&inner, &buf, &full)?;
        call(visit, &full, &bytes, stats)?;
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
fn decompress_entry(inner: &str, bytes: &[u8], full: &str) -> Result<Vec<u8>, IngestError> {
    match kind(inner) {
        Kind::Gz => read_all(flate2::read::MultiGzDecoder::new(bytes), full),
        Kind::Xz => read_all(liblzma::read::XzDecoder::new_multi_decoder(bytes), full),
        Kind::Plain => Ok(bytes.to_vec()),
        _ => Err(IngestError::Archive {
            path: full.to_owned(),
            message: "archives inside archives are not read".into(),
        }),
    }
}

fn walk_zip(
    file: File,
    name: &str,
    visit: &mut Visit<'_>,
    stats: &mut WalkStats,
) -> Result<(), IngestError> {
    let zip_err = |e: zip::result::ZipError| IngestError::Archive {
        path: name.to_owned(),
        message: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_err)?;
    let mut buf = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(zip_err)?;
        if !entry.is_file() {
            continue;
        }
        let inner = entry.name().map_err(zip_err)?.into_owned();
        let full = format!("{name}!{inner}");
        if !is_feed_name(&inner) {
            stats.skipped.push(full);
            continue;
        }
        buf.clear();
        entry
            .read_to_end(&mut buf)
            .map_err(|e| IngestError::Archive {
                path: full.clone(),
                message: e.to_string(),
            })?;
        let bytes = decompress_entry(&inner, &buf, &full)?;
        call(visit, &full, &bytes, stats)?;
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
