//! `ward scan`'s outputs as snapshots (table, JSON, SARIF): the demo's knowledge base and the
//! demo trust's inventory, at a fixed time, so that a change to what a user or a pipeline reads
//! shows in review as a diff of `tests/snapshots/scan_output__*.snap`. Accept a deliberate
//! change with `INSTA_UPDATE=always cargo test -p ward --test scan_output`.

mod common;

use std::path::PathBuf;

use common::{p, ward};

/// The demo's feeds imported into a fresh database, and `ward scan` run on the demo trust's
/// inventory (by its file name, from its folder: no machine's path in the output).
fn scan(format: &str) -> String {
    scan_with(format, &[])
}

/// The demo's folder, and a fresh database in `dir` with the demo's feeds imported.
fn demo_db(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo");
    let db = dir.join("ward.db");
    let o = ward(&db)
        .args(["db", "import", p(&demo.join("feeds"))])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (demo, db)
}

fn scan_with(format: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (demo, db) = demo_db(dir.path());
    let o = ward(&db)
        .current_dir(&demo)
        .args([
            "scan",
            "--as-of",
            "2025-05-20T09:00:00Z",
            "--fail-on",
            "immediate",
            "--format",
            format,
        ])
        .args(extra)
        .arg("st-elsewhere-trust.csv")
        .output()
        .unwrap();
    // Immediate findings with `--fail-on immediate`: exit 1, as a pipeline sees it.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The day the knowledge was imported (today) is no part of the snapshot.
fn without_import_dates(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("updated ") {
        let (head, tail) = rest.split_at(i + "updated ".len());
        out.push_str(head);
        if tail.len() >= 10 && tail.as_bytes()[4] == b'-' && tail.as_bytes()[7] == b'-' {
            out.push_str("[date]");
            rest = &tail[10..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// The table at a terminal's 80 columns: ids and priorities whole, every line within 80.
#[test]
fn table_80() {
    let text = without_import_dates(&scan_with("table", &["--width", "80"]));
    for line in text.lines() {
        assert!(
            console::measure_text_width(line) <= 80,
            "{} columns: {line}",
            console::measure_text_width(line)
        );
    }
    insta::assert_snapshot!(text);
}

#[test]
fn table_120() {
    let text = without_import_dates(&scan_with("table", &["--width", "120"]));
    for line in text.lines() {
        assert!(console::measure_text_width(line) <= 120, "{line}");
    }
    insta::assert_snapshot!(text);
}

/// `--wide`: every column, nothing shortened.
#[test]
fn table_wide() {
    let text = without_import_dates(&scan_with("table", &["--wide"]));
    assert!(!text.contains('…'), "{text}");
    insta::assert_snapshot!(text);
}

/// Not a terminal and no `--width`: 100 columns.
#[test]
fn table_default_width_off_a_terminal() {
    let text = without_import_dates(&scan("table"));
    assert_eq!(
        text,
        without_import_dates(&scan_with("table", &["--width", "100"]))
    );
}

#[test]
fn csv() {
    insta::assert_snapshot!(scan("csv"));
}

#[test]
fn json() {
    let report: serde_json::Value = serde_json::from_str(&scan("json")).unwrap();
    insta::assert_json_snapshot!(report, {
        // When the knowledge was imported: today.
        ".coverage[].updated" => insta::dynamic_redaction(|value, _| {
            if value.as_str().is_some() { "[date]".into() } else { value }
        }),
    });
}

#[test]
fn sarif() {
    let report: serde_json::Value = serde_json::from_str(&scan("sarif")).unwrap();
    insta::assert_json_snapshot!(report, {
        // The tool's version moves with every release.
        ".runs[].tool.driver.version" => "[version]",
    });
}

/// A reader that goes away before the report is written (`ward scan … | head -0`) is no
/// failure of the scan: no panic, no error, and the exit code still says what was found.
#[test]
fn a_reader_that_stops_early_leaves_the_exit_code_to_the_findings() {
    let dir = tempfile::tempdir().unwrap();
    let (demo, db) = demo_db(dir.path());
    for format in ["table", "json", "csv", "sarif", "openvex"] {
        // The read end closed before the scan has matched anything: its first write fails.
        let code = common::exit_code_with_reader_gone(
            std::process::Command::new(env!("CARGO_BIN_EXE_ward"))
                .env("WARD_DB", &db)
                .env_remove("XDG_DATA_HOME")
                .current_dir(&demo)
                .args(["scan", "--fail-on", "immediate", "--format", format])
                .arg("st-elsewhere-trust.csv"),
        );
        assert_eq!(code, Some(1), "{format}");
    }
}
