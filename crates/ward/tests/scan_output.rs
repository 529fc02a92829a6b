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
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let o = ward(&db)
        .args(["db", "import", p(&demo.join("feeds"))])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
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
            "st-elsewhere-trust.csv",
        ])
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

#[test]
fn table() {
    insta::assert_snapshot!(scan("table"));
}

#[test]
fn json() {
    let report: serde_json::Value = serde_json::from_str(&scan("json")).unwrap();
    insta::assert_json_snapshot!(report);
}

#[test]
fn sarif() {
    let report: serde_json::Value = serde_json::from_str(&scan("sarif")).unwrap();
    insta::assert_json_snapshot!(report, {
        // The tool's version moves with every release.
        ".runs[].tool.driver.version" => "[version]",
    });
}
