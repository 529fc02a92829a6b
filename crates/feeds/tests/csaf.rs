//! CSAF 2.0 in: the OASIS validator test cases of the mandatory tests Ward runs are the
//! conformance oracle (each failing case is reported under its test's number, each valid case
//! reads clean); the standard's own examples and real vendors' documents read without errors.

use std::collections::BTreeMap;

use ward_feeds::csaf::{CsafDocument, read};
use ward_feeds::walk;
use ward_testdata::shared;

/// Every message the reader gave for a document: its refusal, or its errors and warnings.
fn messages(result: &Result<CsafDocument, ward_feeds::RecordError>) -> Vec<String> {
    match result {
        Err(e) => vec![e.to_string()],
        Ok(d) => d
            .errors
            .iter()
            .chain(&d.warnings)
            .map(ToString::to_string)
            .collect(),
    }
}

#[test]
fn oasis_mandatory_test_cases_are_the_oracle() {
    let Some(archive) = shared("csaf/oasis-csaf-validator-testdata-2026-08-17.tar.xz") else {
        return;
    };
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    walk(&archive, &mut |name: &str, bytes: &[u8]| {
        if let Some(rest) = name.split("csaf_2.0/test/validator/data/").nth(1) {
            files.insert(rest.to_owned(), bytes.to_vec());
        }
        Ok(())
    })
    .unwrap();
    let cases: serde_json::Value =
        serde_json::from_slice(&files["testcases.json"]).expect("testcases.json");
    // The mandatory tests that decide what a product id means: Ward runs these.
    let ours = [
        "6.1.1", "6.1.2", "6.1.3", "6.1.4", "6.1.5", "6.1.6", "6.1.7",
    ];
    let mut checked = 0;
    for test in cases["tests"].as_array().unwrap() {
        let id = test["id"].as_str().unwrap();
        if !ours.contains(&id) {
            continue;
        }
        for case in test["failures"].as_array().into_iter().flatten() {
            let name = case["name"].as_str().unwrap();
            let result = read(name, &files[name]);
            let said = messages(&result);
            assert!(
                said.iter().any(|m| m.contains(&format!("{id}:"))),
                "{name} fails test {id}, Ward said {said:?}"
            );
            // The message names the document and a JSON path.
            assert!(said.iter().all(|m| m.starts_with(name)), "{said:?}");
            checked += 1;
        }
        for case in test["valid"].as_array().into_iter().flatten() {
            let name = case["name"].as_str().unwrap();
            let result = read(name, &files[name]);
            let said = messages(&result);
            assert!(
                result.as_ref().is_ok_and(|d| d.errors.is_empty())
                    && !said.iter().any(|m| m.contains(": 6.1.")),
                "{name} passes test {id}, Ward said {said:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 24, "only {checked} test cases found");
}

#[test]
fn the_standards_examples_and_real_documents_read_clean() {
    let (Some(examples), Some(siemens)) = (
        shared("csaf/oasis/csaf_2.0/examples/csaf"),
        shared("csaf/siemens/ssa-054046.json"),
    ) else {
        return;
    };
    let mut read_docs = 0;
    let mut advisories = 0;
    for path in [examples, siemens] {
        walk(&path, &mut |name: &str, bytes: &[u8]| {
            if !name.ends_with(".json") {
                return Ok(());
            }
            let doc = read(name, bytes).unwrap_or_else(|e| panic!("{e}"));
            assert!(doc.errors.is_empty(), "{name}: {:?}", doc.errors);
            assert!(
                doc.advisories
                    .iter()
                    .all(|a| a.source.key().starts_with("csaf:http")),
                "{name}"
            );
            read_docs += 1;
            advisories += doc.advisories.len();
            Ok(())
        })
        .unwrap();
    }
    assert!(read_docs >= 20, "{read_docs} documents");
    assert!(advisories >= read_docs, "{advisories} advisories");
}

#[test]
fn a_csaf_vex_document_says_what_it_says_per_product() {
    let Some(path) =
        shared("csaf/oasis/csaf_2.0/examples/csaf/csaf_vex/2022-evd-uc-01-na-001.json")
    else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let doc = read("2022-evd-uc-01-na-001.json", &bytes).unwrap();
    assert_eq!(doc.category, "csaf_vex");
    let raw: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let v = &raw["vulnerabilities"][0];
    let not_affected = v["product_status"]["known_not_affected"]
        .as_array()
        .unwrap();
    let mine: Vec<_> = doc
        .statements
        .iter()
        .filter(|s| s.status == ward_model::VexStatus::NotAffected)
        .collect();
    assert_eq!(mine.len(), not_affected.len());
    let flagged = v["flags"][0]["label"].as_str();
    for s in &mine {
        assert_eq!(s.vulnerability, v["cve"].as_str().unwrap());
        assert_eq!(s.justification.as_deref(), flagged);
        assert_eq!(
            s.author.as_deref(),
            raw["document"]["publisher"]["name"].as_str()
        );
        assert!(s.timestamp.is_some());
    }
}

#[test]
fn broken_documents_name_the_field() {
    let e = read("x.json", br#"{"document": {"csaf_version": "2.0"}}"#).unwrap_err();
    assert!(e.to_string().starts_with("x.json"), "{e}");
    assert!(e.to_string().contains("document"), "{e}");
    let e = read(
        "y.json",
        br#"{"document": {"category": "csaf_base", "csaf_version": "2.1", "title": "t",
            "publisher": {"category": "vendor", "name": "n", "namespace": "https://n.example"},
            "tracking": {"id": "T-1", "current_release_date": "2024-01-01T00:00:00Z",
              "initial_release_date": "2024-01-01T00:00:00Z", "status": "final", "version": "1",
              "revision_history": []}}}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("document.csaf_version"), "{e}");
}

/// A small CSAF VEX document (the OASIS example of "not affected") under every truncation and
/// random byte changes: statements or an error naming the file, never a panic (the
/// `vex_document` fuzz target in `fuzz/` goes further; this runs in every test run).
mod mutations {
    use proptest::prelude::*;

    fn example() -> Option<Vec<u8>> {
        let path = ward_testdata::shared(
            "csaf/oasis/csaf_2.0/examples/csaf/csaf_vex/2022-evd-uc-01-na-001.json",
        )?;
        Some(std::fs::read(path).unwrap())
    }

    #[test]
    fn every_truncation_is_an_answer() {
        let Some(doc) = example() else { return };
        for end in (0..doc.len()).step_by(7) {
            match ward_feeds::vex::parse_vex("cut.json", &doc[..end]) {
                Ok(_) => {}
                Err(e) => assert!(e.to_string().starts_with("cut.json"), "{e}"),
            }
            let _ = ward_feeds::csaf::read("cut.json", &doc[..end]);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn byte_changes_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
            let Some(mut doc) = example() else { return Ok(()) };
            for (at, byte) in edits {
                let i = at.index(doc.len());
                doc[i] = byte;
            }
            let _ = ward_feeds::csaf::read("m.json", &doc);
            if let Ok(v) = ward_feeds::vex::parse_vex("m.json", &doc) {
                let publisher = ward_feeds::vex_out::Publisher {
                    name: "p".into(),
                    namespace: "urn:p".into(),
                    category: "user",
                    timestamp: chrono::Utc::now(),
                };
                let _ = ward_feeds::vex_out::csaf(&v.statements, &publisher);
            }
        }
    }
}
