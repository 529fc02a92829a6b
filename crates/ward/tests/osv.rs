//! OSV and purl matching through the `ward` binary: real SQLite files, fixtures written here
//! from public advisories, and the shared OSV data and SBOMs where present.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use ward_testdata::shared;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/osv");

fn run(db: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("ward")
        .unwrap()
        .env("WARD_DB", db)
        .env_remove("XDG_DATA_HOME")
        .args(args)
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// An osv.dev `all.zip`-style archive: one JSON record per entry.
fn zip(path: &Path, files: &[(&str, &str)]) {
    let mut script = String::from("import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\n");
    for (name, body) in files {
        script.push_str(&format!("z.writestr({name:?}, {body:?})\n"));
    }
    script.push_str("z.close()\n");
    let ok = std::process::Command::new("python3")
        .args(["-c", &script, path.to_str().unwrap()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn osv_records_match_purls_and_aliases_merge() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let all = dir.path().join("all.zip");
    zip(
        &all,
        &[
            (
                "GHSA-fix0-0000-0001.json",
                r#"{"id": "GHSA-fix0-0000-0001", "modified": "2024-01-01T00:00:00Z", "summary": "fixture",
                   "affected": [{"package": {"ecosystem": "npm", "name": "example-lib"},
                     "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.5.0"}]}]}]}"#,
            ),
            (
                "OSV-FIXTURE-0002.json",
                r#"{"id": "OSV-FIXTURE-0002", "modified": "2024-01-01T00:00:00Z", "aliases": ["GHSA-fix0-0000-0001"],
                   "affected": [{"package": {"ecosystem": "npm", "name": "example-lib"},
                     "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.4.1"}]}]}]}"#,
            ),
        ],
    );
    let o = run(
        &db,
        &[
            "db",
            "import",
            "--format",
            "json",
            FIXTURES,
            all.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = json(&o);
    assert_eq!(summary["errors"], serde_json::json!([]), "{summary}");
    assert_eq!(summary["documents"], 4, "{summary}");

    let sbom = format!("{FIXTURES}/../purl-sbom.cdx.json");
    let o = run(&db, &["scan", "--format", "json", &sbom]);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = json(&o);
    let findings = report["findings"].as_array().unwrap();
    let got: BTreeSet<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["component"]["name"].as_str().unwrap().to_owned(),
                f["vulnerability"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Jinja2 3.1.2 < 3.1.3: affected, filed under its CVE; the withdrawn record says nothing;
    // markupsafe has no advisory; the two linked npm records are one finding.
    assert_eq!(
        got,
        BTreeSet::from([
            ("Jinja2".to_owned(), "CVE-2024-22195".to_owned()),
            ("example-lib".to_owned(), "GHSA-fix0-0000-0001".to_owned()),
        ]),
        "{report:#}"
    );
    let jinja = findings
        .iter()
        .find(|f| f["component"]["name"] == "Jinja2")
        .unwrap();
    assert_eq!(jinja["explanation"]["source"], "osv:GHSA-h5c8-rqwp-cp95");
    assert_eq!(jinja["explanation"]["range"], "vers:pypi/<3.1.3");
    assert_eq!(jinja["fixed_versions"], serde_json::json!(["3.1.3"]));
    assert_eq!(jinja["aliases"], serde_json::json!(["GHSA-h5c8-rqwp-cp95"]));
    assert_eq!(jinja["cvss"][0]["base_score"], 5.4);
    assert_eq!(jinja["confidence"], "exact");
    let lib = findings
        .iter()
        .find(|f| f["component"]["name"] == "example-lib")
        .unwrap();
    assert_eq!(lib["aliases"], serde_json::json!(["OSV-FIXTURE-0002"]));
    assert!(
        lib["explanation"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n
                .as_str()
                .unwrap()
                .contains("also published as OSV-FIXTURE-0002")),
        "{lib:#}"
    );

    // Re-importing changes nothing; a malformed OSV record is named and changes nothing.
    let o = run(&db, &["db", "import", "--format", "json", FIXTURES]);
    let again = json(&o);
    assert!(
        again["formats"]
            .as_object()
            .unwrap()
            .values()
            .all(|f| f["new"] == 0 && f["updated"] == 0),
        "{again}"
    );
    let bad = dir.path().join("GHSA-bad.json");
    std::fs::write(
        &bad,
        r#"{"id": "GHSA-bad0-0000-0001", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "PyPI", "name": "x"}, "ranges": [{"type": "ECOSYSTEM", "events": {"introduced": "0"}}]}]}"#,
    )
    .unwrap();
    let o = run(&db, &["db", "import", "--strict", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("GHSA-bad0-0000-0001") && err.contains("affected[0].ranges[0].events"),
        "{err}"
    );
}

#[test]
fn shared_osv_data_and_every_cyclonedx_example() {
    let (Some(go), Some(pypa), Some(sboms)) = (
        shared("osv/golang-vulndb-2026-08-21.tar.xz"),
        shared("osv/pypa-advisory-database-2024-10-10.tar.xz"),
        shared("sbom/cyclonedx"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let o = run(
        &db,
        &[
            "db",
            "import",
            "--format",
            "json",
            go.to_str().unwrap(),
            pypa.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = json(&o);
    assert_eq!(s["errors"], serde_json::json!([]), "{s}");
    assert_eq!(s["formats"]["OSV (JSON)"]["records"], 4291, "{s}");
    assert_eq!(s["formats"]["OSV (YAML)"]["records"], 2661, "{s}");

    let mut scanned = 0;
    for entry in walkdir::WalkDir::new(&sboms) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_lowercase();
        if !(entry.file_type().is_file() && (name.ends_with(".json") || name.ends_with(".xml"))) {
            continue;
        }
        let path = entry.path().to_str().unwrap();
        let o = run(&db, &["scan", "--format", "json", path]);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{path}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let report = json(&o);
        // One problem, one finding per component.
        let mut seen = BTreeSet::new();
        for f in report["findings"].as_array().unwrap() {
            let key = (
                f["asset"].to_string(),
                f["component"].to_string(),
                f["vulnerability"].to_string(),
            );
            assert!(seen.insert(key), "{path}: duplicate finding {f}");
        }
        scanned += 1;
    }
    assert!(scanned >= 60, "{scanned} SBOMs");

    // Hand-checked: Proton Bridge 1.8.0 (Go) against the Go vulndb.
    let bridge = sboms.join("SBOM/proton-bridge/proton-bridge-v1.8.0.bom.json");
    let report = json(&run(
        &db,
        &["scan", "--format", "json", bridge.to_str().unwrap()],
    ));
    let find = |component: &str, vuln: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["component"]["name"] == component && f["vulnerability"] == vuln)
            .cloned()
            .unwrap_or_else(|| panic!("no {vuln} on {component}"))
    };
    // GO-2020-0017: jwt-go, every version since 2015, never fixed in that module.
    let jwt = find("github.com/dgrijalva/jwt-go", "CVE-2020-26160");
    assert_eq!(jwt["explanation"]["source"], "osv:GO-2020-0017");
    assert_eq!(jwt["fixed_versions"], serde_json::json!([]));
    // GO-2021-0113: x/text before 0.3.7; the installed pseudo-version is 0.3.5-….
    let text = find("golang.org/x/text", "CVE-2021-38561");
    assert_eq!(text["fixed_versions"], serde_json::json!(["0.3.7"]));
    // gin 1.4.0: CVE-2020-28483 fixed in 1.7.7.
    assert_eq!(
        find("github.com/gin-gonic/gin", "CVE-2020-28483")["fixed_versions"],
        serde_json::json!(["1.7.7"])
    );
}
