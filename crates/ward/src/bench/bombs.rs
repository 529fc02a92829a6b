//! `ward bench bombs`: decompression bombs in each format Ward reads (`.gz`, `.xz`, `.zip`,
//! `.tar.gz`, `.tar.xz`), each imported by a child process so that its peak RSS is its own:
//! once within the default limits, and once with the limits lifted (how Ward read them before
//! the limits), for the ratio.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use ward_import::Limits;

/// Writes `expand` bytes of JSON-looking spaces through `encoder`, a MiB at a time.
fn fill(mut w: impl Write, expand: u64) -> std::io::Result<()> {
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..expand.div_ceil(1 << 20) {
        w.write_all(&chunk)?;
    }
    Ok(())
}

fn make_bombs(dir: &Path, expand: u64) -> anyhow::Result<Vec<PathBuf>> {
    let gz = dir.join("bomb.json.gz");
    let mut e =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz)?, flate2::Compression::best());
    fill(&mut e, expand)?;
    e.finish()?;
    let xz = dir.join("bomb.json.xz");
    let mut e = liblzma::write::XzEncoder::new(std::fs::File::create(&xz)?, 1);
    fill(&mut e, expand)?;
    e.finish()?;
    let zip_path = dir.join("bomb.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path)?);
    z.start_file(
        "bomb.json",
        zip::write::SimpleFileOptions::default()
            .compression_level(Some(9))
            .large_file(true),
    )?;
    fill(&mut z, expand)?;
    z.finish()?;
    let tgz = dir.join("bomb.tar.gz");
    let e =
        flate2::write::GzEncoder::new(std::fs::File::create(&tgz)?, flate2::Compression::best());
    let mut t = tar::Builder::new(e);
    let mut h = tar::Header::new_gnu();
    h.set_size(expand.div_ceil(1 << 20) << 20);
    h.set_mode(0o644);
    h.set_cksum();
    let (reader, writer) = std::io::pipe()?;
    let filler = std::thread::spawn(move || fill(writer, expand));
    t.append_data(&mut h, "bomb.json", reader)?;
    filler.join().expect("the filler thread")?;
    t.into_inner()?.finish()?;
    Ok(vec![gz, xz, zip_path, tgz])
}

/// The parent: makes the bombs and imports each in a child, bounded and unbounded.
pub(crate) fn bench(expand: u64, unbounded: bool) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let bombs = make_bombs(dir.path(), expand)?;
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    for bomb in &bombs {
        let size = std::fs::metadata(bomb)?.len();
        let mut row = json!({"file": bomb.file_name().map(|n| n.to_string_lossy().into_owned()),
                             "compressed_bytes": size, "expands_to_bytes": expand});
        let runs: &[(&str, bool)] = if unbounded {
            &[("bounded", false), ("unbounded", true)]
        } else {
            &[("bounded", false)]
        };
        for (label, lift) in runs {
            let db = dir.path().join(format!("{label}.db"));
            let out = std::process::Command::new(&exe)
                .args(["bench", "--format", "json", "bomb-one", "--db"])
                .arg(&db)
                .arg(bomb)
                .args(if *lift { &["--unbounded"][..] } else { &[][..] })
                .output()?;
            let child: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(
                |_| json!({"error": String::from_utf8_lossy(&out.stderr).trim().to_owned()}),
            );
            row[label] = child;
            let _ = std::fs::remove_file(&db);
        }
        rows.push(row);
    }
    Ok(
        json!({"bench": "bombs", "limits": {"document": Limits::DEFAULT.document, "archive": Limits::DEFAULT.archive}, "bombs": rows}),
    )
}

/// The child: one import, its error and its peak RSS.
pub(crate) async fn one(db: &str, path: PathBuf, unbounded: bool) -> anyhow::Result<Value> {
    let store = ward_store::Store::open(db).await?;
    let limits = if unbounded {
        Limits {
            document: u64::MAX / 2,
            archive: u64::MAX / 2,
        }
    } else {
        Limits::DEFAULT
    };
    let started = std::time::Instant::now();
    let mut warnings = Vec::new();
    let result = ward_import::import_paths(
        &store,
        vec![path],
        ward_import::Options {
            kev_catalogue: false,
            strict: false,
            limits,
            ..Default::default()
        },
        &|_| {},
        &mut warnings,
    )
    .await;
    store.close().await;
    Ok(json!({
        "seconds": started.elapsed().as_secs_f64(),
        "error": result.err().map(|e| e.to_string()),
        "peak_rss_mib": super::peak_rss_mib(),
    }))
}
