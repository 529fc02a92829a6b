//! CSAF 2.0 in (#21): Red Hat's own VEX is the expected answer for Red Hat's image SBOMs
//! (trustify's ds3 dataset: 6 SBOMs, the CSAF VEX documents of the CVEs that hit them), read by
//! an independent oracle; the Siemens advisory matched by product name, order number and
//! firmware range, with the vendor's remediation on the finding; the 23 MB Red Hat document.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{json, p, run, stderr, write};
use serde_json::Value;
use ward_testdata::shared;

const ORACLE: &str = include_str!("reference/redhat_vex_oracle.py");

fn untar(archive: &Path, into: &Path) {
    let ok = std::process::Command::new("tar")
        .args(["-xJf", p(archive), "-C", p(into)])
        .status()
        .expect("tar runs");
    assert!(ok.success());
}

#[test]
fn red_hat_vex_is_the_answer_for_red_hat_images() {
    let Some(archive) = shared("sbom/trustify-datasets-ds3-ds5-2025-09-04.tar.xz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    untar(&archive, dir.path());
    let ds3 = dir.path().join("ds3");
    let db = dir.path().join("ward.db");
    let o = run(&db, &["db", "import", p(&ds3.join("csaf"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut sboms: Vec<_> = std::fs::read_dir(ds3.join("spdx"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    sboms.sort();
    assert_eq!(sboms.len(), 6);

    let input = serde_json::json!({
        "csaf": ds3.join("csaf"),
        "sboms": sboms,
    });
    let Some((ok, out, err)) = ward_testdata::python(
        &["univers", "packageurl"],
        ORACLE,
        input.to_string().as_bytes(),
    ) else {
        return;
    };
    assert!(ok, "the oracle failed: {err}");
    let expected: BTreeSet<(String, String, String)> = serde_json::from_str(&out).unwrap();

    let mut found = BTreeSet::new();
    for sbom in &sboms {
        // The SBOMs are read as Red Hat publishes them: SPDX JSON compressed with bzip2.
        let report = json(&run(&db, &["scan", "--format", "json", p(sbom)]));
        let name = sbom.file_name().unwrap().to_string_lossy().into_owned();
        for f in report["findings"].as_array().unwrap() {
            assert!(
                f["explanation"]["source"]
                    .as_str()
                    .unwrap()
                    .starts_with("csaf:https://www.redhat.com#"),
                "{f}"
            );
            found.insert((
                name.clone(),
                f["component"]["purl"].as_str().unwrap().to_owned(),
                f["vulnerability"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let missed: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "missed {missed:?}\nnot in Red Hat's answer {extra:?}"
    );
    // Both families are in the answer: RPMs per RHEL release, and Maven artefacts.
    assert!(
        expected
            .iter()
            .any(|(_, purl, _)| purl.starts_with("pkg:rpm/redhat/"))
    );
    assert!(
        expected
            .iter()
            .any(|(_, purl, _)| purl.starts_with("pkg:maven/"))
    );
    assert!(expected.len() >= 20, "{expected:?}");

    // gnutls in UBI 9.3 is older than RHEL 9's fix; the finding carries Red Hat's remediation.
    let ubi9 = sboms
        .iter()
        .find(|s| s.to_string_lossy().contains("ubi9-9.3"))
        .unwrap();
    let report = json(&run(&db, &["scan", "--format", "json", p(ubi9)]));
    let gnutls = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["vulnerability"] == "CVE-2024-28834")
        .expect("gnutls finding");
    let notes: Vec<&str> = gnutls["explanation"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("Red Hat Product Security: vendor_fix:")),
        "{notes:?}"
    );
    assert!(
        gnutls["fixed_versions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.as_str().unwrap().contains(".el9")),
        "only RHEL 9's fixes apply to a RHEL 9 package: {gnutls}"
    );
}

#[test]
fn a_siemens_advisory_matches_by_name_order_number_and_firmware() {
    let Some(ssa) = shared("csaf/siemens/ssa-054046.json") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let o = run(&db, &["db", "import", p(&ssa)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = write(
        dir.path(),
        "plant.csv",
        "asset,vendor,product,version\n\
         line-3-plc,Siemens,SIMATIC S7-1500 CPU 1511-1 PN (6ES7511-1AL03-0AB0),V3.1.0\n\
         line-4-plc,Siemens,SIMATIC S7-1500 CPU 1511-1 PN (6ES7511-1AL03-0AB0),V3.1.4\n\
         line-5-plc,Siemens,6ES7511-1AL03-0AB0,V3.1.2\n\
         line-6-plc,Siemens,SIMATIC S7-PLCSIM Advanced,V6.0\n\
         line-7-plc,Siemens,SIMATIC S7-PLCSIM Advanced,V7.0\n\
         line-8-plc,Siemens,6ES7511-1AK01-0AB0,V9.9\n",
    );
    let report = json(&run(&db, &["scan", "--format", "json", p(&csv)]));
    let hit: BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["asset"].as_str().unwrap())
        .collect();
    // Below V3.1.4 (by name and by order number), PLCSIM below V7.0, and the order number
    // whose every version is affected; not the fixed firmware.
    assert_eq!(
        hit,
        BTreeSet::from(["line-3-plc", "line-5-plc", "line-6-plc", "line-8-plc"]),
        "{report}"
    );
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["vulnerability"], "CVE-2024-46887");
        assert_eq!(
            f["explanation"]["source"],
            "csaf:https://www.siemens.com#SSA-054046"
        );
        assert!(
            f["title"].as_str().unwrap().starts_with("SSA-054046:"),
            "{f}"
        );
        let notes = f["explanation"]["notes"].to_string();
        let expected = match f["asset"].as_str().unwrap() {
            "line-6-plc" => "Siemens ProductCERT: vendor_fix: Update to V7.0 or later version",
            "line-8-plc" => "Siemens ProductCERT: none_available: Currently no fix is available",
            _ => "Siemens ProductCERT: vendor_fix: Update to V3.1.4 or later version",
        };
        assert!(notes.contains(expected), "{notes}");
    }
}

#[test]
fn the_largest_red_hat_document_imports() {
    let Some(archive) = shared("csaf/redhat-csaf-trustify-testdata-2025-09-04.tar.xz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    // The archive as it is: 29 documents, one of 23 MB, straight from the .tar.xz.
    let o = run(&db, &["db", "import", "--format", "json", p(&archive)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = summary.to_string();
    assert!(text.contains("CSAF 2.0"), "{text}");
    let o = run(&db, &["db", "status", "--format", "json"]);
    let status = json(&o);
    assert!(status.to_string().contains("csaf"), "{status}");
}
