//! OSV and purl matching through the `ward` binary: real SQLite files, fixtures written here
//! from public advisories, and the shared OSV data and SBOMs where present.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{json, p, run, stderr, write};
use serde_json::{Value, json};
use ward_testdata::shared;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/osv");
const PURL_SBOM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/purl-sbom.cdx.json"
);

/// An osv.dev `all.zip`-style archive: one JSON record per entry.
fn zip(path: &Path, files: &[(&str, &str)]) {
    let mut script = String::from("import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\n");
    for (name, body) in files {
        script.push_str(&format!("z.writestr({name:?}, {body:?})\n"));
    }
    script.push_str("z.close()\n");
    let ok = std::process::Command::new("python3")
        .args(["-c", &script, p(path)])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

/// The finding for `component` and `vulnerability` in a JSON scan report.
fn finding(report: &Value, component: &str, vulnerability: &str) -> Value {
    findings(report)
        .iter()
        .find(|f| f["component"]["name"] == component && f["vulnerability"] == vulnerability)
        .cloned()
        .unwrap_or_else(|| panic!("no {vulnerability} on {component}: {report:#}"))
}

/// One problem, one finding: no component has two findings whose ids are linked by aliases.
fn assert_one_finding_per_problem(report: &Value, context: &str) {
    let list = findings(report);
    for (i, a) in list.iter().enumerate() {
        for b in &list[i + 1..] {
            if a["asset"] != b["asset"] || a["component"] != b["component"] {
                continue;
            }
            assert_ne!(a["vulnerability"], b["vulnerability"], "{context}: {a} {b}");
            let aliases = |f: &Value| -> BTreeSet<String> {
                f["aliases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_owned())
                    .chain([f["vulnerability"].as_str().unwrap().to_owned()])
                    .collect()
            };
            assert!(
                aliases(a).is_disjoint(&aliases(b)),
                "{context}: one problem reported twice: {a} {b}"
            );
        }
    }
}

#[test]
fn osv_records_match_purls_and_aliases_merge() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let all = dir.path().join("all.zip");
    // Two linked npm records (fixtures): the GHSA aliases two CVEs, so it is filed under its own id.
    zip(
        &all,
        &[
            (
                "GHSA-fix0-0000-0001.json",
                r#"{"id": "GHSA-fix0-0000-0001", "modified": "2024-01-01T00:00:00Z", "summary": "fixture",
                   "aliases": ["CVE-2099-0101", "CVE-2099-0102"],
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
    // KEV lists the second CVE the GHSA aliases: the finding must find it through the alias.
    let kev = write(
        dir.path(),
        "kev.csv",
        "cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,requiredAction,dueDate,knownRansomwareCampaignUse,notes,cwes\n\
         CVE-2099-0102,Example,example-lib,Fixture entry,2099-01-02,test,Apply updates,2099-01-23,Unknown,,\n",
    );
    let o = run(
        &db,
        &[
            "db",
            "import",
            "--format",
            "json",
            FIXTURES,
            p(&all),
            p(&kev),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = json(&o);
    assert_eq!(summary["errors"], json!([]), "{summary}");
    assert_eq!(summary["documents"], 5, "{summary}");

    let o = run(&db, &["scan", "--format", "json", PURL_SBOM]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    let report = json(&o);
    let got: BTreeSet<(String, String)> = findings(&report)
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
    assert_one_finding_per_problem(&report, "fixture");
    let jinja = finding(&report, "Jinja2", "CVE-2024-22195");
    assert_eq!(jinja["explanation"]["source"], "osv:GHSA-h5c8-rqwp-cp95");
    assert_eq!(jinja["explanation"]["range"], "vers:pypi/<3.1.3");
    assert_eq!(jinja["fixed_versions"], json!(["3.1.3"]));
    assert_eq!(jinja["aliases"], json!(["GHSA-h5c8-rqwp-cp95"]));
    assert_eq!(jinja["cvss"][0]["base_score"], 5.4);
    assert_eq!(jinja["confidence"], "exact");
    assert_eq!(jinja["kev"], Value::Null);
    let lib = finding(&report, "example-lib", "GHSA-fix0-0000-0001");
    assert_eq!(
        lib["aliases"],
        json!(["CVE-2099-0101", "CVE-2099-0102", "OSV-FIXTURE-0002"])
    );
    assert_eq!(lib["kev"]["due_date"], "2099-01-23", "{lib:#}");
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
    assert!(o.status.success(), "{}", stderr(&o));
    let again = json(&o);
    assert!(
        again["formats"]
            .as_object()
            .unwrap()
            .values()
            .all(|f| f["new"] == 0 && f["updated"] == 0),
        "{again}"
    );
    let bad = write(
        dir.path(),
        "GHSA-bad.json",
        r#"{"id": "GHSA-bad0-0000-0001", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "PyPI", "name": "x"}, "ranges": [{"type": "ECOSYSTEM", "events": {"introduced": "0"}}]}]}"#,
    );
    let o = run(&db, &["db", "import", "--strict", p(&bad)]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
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
    let o = run(&db, &["db", "import", "--format", "json", p(&go), p(&pypa)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = json(&o);
    assert_eq!(s["errors"], json!([]), "{s}");
    assert_eq!(s["formats"]["OSV (JSON)"]["records"], 4291, "{s}");
    assert_eq!(s["formats"]["OSV (YAML)"]["records"], 2661, "{s}");

    let mut scanned = 0;
    for entry in walkdir::WalkDir::new(&sboms) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_lowercase();
        if !(entry.file_type().is_file() && (name.ends_with(".json") || name.ends_with(".xml"))) {
            continue;
        }
        let path = p(entry.path());
        let o = run(&db, &["scan", "--format", "json", path]);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{path}: {}",
            stderr(&o)
        );
        assert_one_finding_per_problem(&json(&o), path);
        scanned += 1;
    }
    assert!(scanned >= 60, "{scanned} SBOMs");

    // Hand-checked: Proton Bridge 1.8.0 (Go) against the Go vulndb.
    let bridge = sboms.join("SBOM/proton-bridge/proton-bridge-v1.8.0.bom.json");
    let report = json(&run(&db, &["scan", "--format", "json", p(&bridge)]));
    // GO-2020-0017: jwt-go, every version since 2015, never fixed in that module.
    let jwt = finding(&report, "github.com/dgrijalva/jwt-go", "CVE-2020-26160");
    assert_eq!(jwt["explanation"]["source"], "osv:GO-2020-0017");
    assert_eq!(jwt["fixed_versions"], json!([]));
    // GO-2021-0113: x/text before 0.3.7; the installed pseudo-version is 0.3.5-….
    let text = finding(&report, "golang.org/x/text", "CVE-2021-38561");
    assert_eq!(text["fixed_versions"], json!(["0.3.7"]));
    // gin 1.4.0: CVE-2020-28483 fixed in 1.7.7.
    let gin = finding(&report, "github.com/gin-gonic/gin", "CVE-2020-28483");
    assert_eq!(gin["fixed_versions"], json!(["1.7.7"]));
}
