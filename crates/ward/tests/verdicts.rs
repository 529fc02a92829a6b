//! Honest verdicts from messy vendor records (#24), on the real records: Ivanti's CVE 5 records
//! and NVD's ranges for the EPMM family, and CVE-2024-7612 from the shared CVE 5 corpus (whose
//! CISA ADP container inverts the CNA's). Through the `ward` binary, real SQLite files.

mod common;

use std::collections::BTreeMap;
use std::io::Read;

use common::{json, p, run, stderr, write};
use serde_json::Value;
use ward_testdata::shared;

/// One record out of the shared CVE 5 corpus (a tar.xz), by file name.
fn corpus_record(name: &str) -> Option<String> {
    let path = shared("cve5/vulnrichment-2024-10-24.tar.xz")?;
    let xz = liblzma::read::XzDecoder::new(std::fs::File::open(path).unwrap());
    let mut tar = tar::Archive::new(xz);
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().ends_with(name) {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            return Some(text);
        }
    }
    panic!("{name} is not in the corpus");
}

fn estate(releases: &[&str]) -> String {
    let mut csv = String::from("asset,vendor,product,version,cpe,purl,exposure,criticality\n");
    for v in releases {
        csv.push_str(&format!(
            "epmm-{v},,,,cpe:2.3:a:ivanti:endpoint_manager_mobile:{v}:*:*:*:*:*:*:*,,open,high\n"
        ));
    }
    csv
}

/// (asset, vulnerability) → confidence.
fn confidences(report: &Value) -> BTreeMap<(String, String), String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                (
                    f["asset"].as_str().unwrap().to_owned(),
                    f["vulnerability"].as_str().unwrap().to_owned(),
                ),
                f["confidence"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn suppressed(report: &Value) -> BTreeMap<(String, String), String> {
    report["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                (
                    s["asset"].as_str().unwrap().to_owned(),
                    s["vulnerability"].as_str().unwrap().to_owned(),
                ),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// CVE-2025-4427/4428 on the unsupported 12.0 and 12.1 branches: Ivanti's record (default
/// affected) and NVD's description ("12.5.0.0 and prior") call them affected; NVD's ranges skip
/// their branches and no source names them fixed. Disputed, not suppressed.
#[test]
fn releases_between_nvd_ranges_are_disputed_not_dropped() {
    let (Some(cve5), Some(nvd)) = (shared("cve5/records"), shared("nvd/records")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let o = run(&db, &["db", "import", p(&cve5), p(&nvd)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inv = write(
        dir.path(),
        "estate.csv",
        &estate(&[
            "12.0.0.0",
            "12.1.0.0",
            "12.2.0.0",
            "11.12.0.5",
            "12.3.0.2",
            "12.4.0.1",
        ]),
    );
    let report = json(&run(&db, &["scan", "--format", "json", p(&inv)]));
    let c = confidences(&report);
    for v in ["12.0.0.0", "12.1.0.0", "12.2.0.0"] {
        for cve in ["CVE-2025-4427", "CVE-2025-4428"] {
            let key = (format!("epmm-{v}"), cve.to_owned());
            assert_eq!(
                c.get(&key).map(String::as_str),
                Some("disputed"),
                "{key:?}: {c:?}"
            );
        }
    }
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["asset"] == "epmm-12.1.0.0")
        .unwrap();
    let said = f["explanation"]["disagreements"].to_string();
    assert!(
        said.contains("cna:ivanti") && said.contains("nvd") && said.contains("12.1 branch"),
        "{said}"
    );
    // Fixed releases in branches NVD names stay suppressed; 12.4.0.1 stays an exact finding.
    let s = suppressed(&report);
    assert!(s.contains_key(&("epmm-11.12.0.5".into(), "CVE-2025-4427".into())));
    assert!(s.contains_key(&("epmm-12.3.0.2".into(), "CVE-2025-4428".into())));
    assert_eq!(
        c.get(&("epmm-12.4.0.1".into(), "CVE-2025-4427".into()))
            .map(String::as_str),
        Some("exact")
    );
    // Disputed findings are in the table in words.
    let o = run(&db, &["scan", "--wide", p(&inv)]);
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .contains("disputed: confirm")
    );
}

/// CVE-2024-7612: Ivanti lists 12.0.0.5 and 12.1.0.4 as unaffected with default affected (the
/// fixes, "before 12.1.0.4" in its description); CISA's ADP container says the opposite.
#[test]
fn point_lists_are_read_as_fix_releases() {
    let Some(record) = corpus_record("CVE-2024-7612.json") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let file = write(dir.path(), "CVE-2024-7612.json", &record);
    let o = run(&db, &["db", "import", p(&file)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inv = write(
        dir.path(),
        "estate.csv",
        &estate(&[
            "11.12.0.0",
            "12.0.0.4",
            "12.0.0.5",
            "12.1.0.3",
            "12.1.0.4",
            "12.2.0.0",
            "12.5.0.0",
        ]),
    );
    let report = json(&run(&db, &["scan", "--format", "json", p(&inv)]));
    let c = confidences(&report);
    let cve = "CVE-2024-7612".to_owned();
    let at = |v: &str| {
        c.get(&(format!("epmm-{v}"), cve.clone()))
            .map(String::as_str)
    };
    assert_eq!(at("12.0.0.4"), Some("inferred-fix"));
    assert_eq!(at("12.1.0.3"), Some("inferred-fix"));
    assert_eq!(at("11.12.0.0"), Some("default-status"));
    for fixed in ["12.0.0.5", "12.1.0.4", "12.2.0.0", "12.5.0.0"] {
        assert_eq!(at(fixed), None, "{fixed}: {c:?}");
    }
    // Newer than both fixes: listed with the inference, never silently dropped.
    let s = suppressed(&report);
    let why = &s[&("epmm-12.5.0.0".to_owned(), cve.clone())];
    assert!(why.contains("newer than every fix"), "{why}");
    // The inverted ADP container is named.
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["asset"] == "epmm-12.1.0.3")
        .unwrap();
    assert!(
        f["explanation"]["notes"]
            .to_string()
            .contains("adp:CISA-ADP inverts"),
        "{}",
        f["explanation"]
    );
}

/// A fix that is not a release (a hot-fix package named where a version belongs): the finding
/// says it cannot be told from the version. Synthetic record, shaped as Ivanti writes its
/// hot-fix entries.
#[test]
fn fixes_that_are_not_versions_cannot_be_told_from_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let record = serde_json::json!({
        "dataType": "CVE_RECORD", "dataVersion": "5.1",
        "cveMetadata": {"cveId": "CVE-2099-0001", "state": "PUBLISHED", "assignerShortName": "example",
                        "datePublished": "2099-01-01T00:00:00Z", "dateUpdated": "2099-01-01T00:00:00Z"},
        "containers": {"cna": {
            "providerMetadata": {"orgId": "00000000-0000-0000-0000-000000000000", "shortName": "example"},
            "title": "synthetic: a hot-fix package as the fix",
            "descriptions": [{"lang": "en", "value": "synthetic"}],
            "affected": [{"vendor": "Ivanti", "product": "Endpoint Manager Mobile",
                          "defaultStatus": "affected",
                          "versions": [{"version": "12.x.1.x RPM", "status": "unaffected", "versionType": "custom"}]}]
        }}
    });
    let file = write(dir.path(), "CVE-2099-0001.json", &record.to_string());
    let o = run(&db, &["db", "import", p(&file)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inv = write(dir.path(), "estate.csv", &estate(&["12.5.1.0"]));
    let report = json(&run(&db, &["scan", "--format", "json", p(&inv)]));
    let f = &report["findings"][0];
    assert_eq!(f["confidence"], "fix-unverifiable");
    assert!(
        f["explanation"]["notes"]
            .to_string()
            .contains("12.x.1.x RPM")
    );
    assert_eq!(f["fixed_versions"], serde_json::json!([]));
}

/// `ward db quality` on the real records: the EPMM pair's CNA record is a default-affected
/// point list and NVD's description ("12.5.0.0 and prior") contradicts NVD's ranges;
/// CVE-2024-7612's CISA ADP container inverts the CNA's.
#[test]
fn data_quality_report_names_the_records() {
    let (Some(cve5), Some(nvd), Some(record)) = (
        shared("cve5/records"),
        shared("nvd/records"),
        corpus_record("CVE-2024-7612.json"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let file = write(dir.path(), "CVE-2024-7612.json", &record);
    let o = run(&db, &["db", "import", p(&cve5), p(&nvd), p(&file)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&db, &["db", "quality", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let q = json(&o);
    let ids = |pattern: &str| -> Vec<String> {
        q["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pattern"] == pattern)
            .unwrap()["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap().to_owned())
            .collect()
    };
    let point = ids("default-affected-point-list");
    assert!(
        point.contains(&"CVE-2025-4427".to_owned()) && point.contains(&"CVE-2024-7612".to_owned()),
        "{point:?}"
    );
    let nvd = ids("nvd-description-vs-configuration");
    assert!(
        nvd.contains(&"CVE-2025-4427".to_owned()) && nvd.contains(&"CVE-2025-4428".to_owned()),
        "{nvd:?}"
    );
    // Heartbleed's "1.0.1 before 1.0.1g" is one branch, not every release: no contradiction.
    assert!(!nvd.contains(&"CVE-2014-0160".to_owned()), "{nvd:?}");
    assert_eq!(ids("adp-inversion"), ["CVE-2024-7612"]);
    assert_eq!(
        q["records"], 26,
        "25 NVD records (two also as CVE 5) and CVE-2024-7612"
    );
    let text = String::from_utf8(run(&db, &["db", "quality"]).stdout).unwrap();
    assert!(text.contains("adp-inversion: 1 record\n"), "{text}");
}
