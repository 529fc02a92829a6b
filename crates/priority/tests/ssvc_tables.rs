//! Ward's compiled-in decision tables, row by row against CERT/CC's published CSV and JSON
//! forms in `../shared/data/ssvc`. Absent data is reported and skipped.

use std::path::PathBuf;

use ward_testdata::shared;

use ward_priority::ssvc::{BOD_26_04, DEPLOYER, DecisionTable, normalise_value};

/// CERT/CC's CSV: `row,<point> v<version>,…,<outcome>` with quoted names.
fn cert_csv(path: &PathBuf) -> Vec<(Vec<String>, String)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let mut values: Vec<String> = r.iter().skip(1).map(normalise_value).collect();
            let outcome = values.pop().unwrap();
            (values, outcome)
        })
        .collect()
}

fn check(ours: &DecisionTable, csv: &str, json: &str) {
    let (Some(csv), Some(json)) = (shared(csv), shared(json)) else {
        return;
    };
    let theirs = cert_csv(&csv);
    assert_eq!(theirs.len(), ours.rows.len());
    for (values, outcome) in &theirs {
        let v: Vec<&str> = values.iter().map(String::as_str).collect();
        assert_eq!(
            ours.decide(&v),
            Some(outcome.as_str()),
            "CSV row {values:?}"
        );
    }
    let from_json = DecisionTable::from_ssvc_json(&std::fs::read_to_string(json).unwrap()).unwrap();
    let mut inputs = from_json.inputs.clone();
    inputs.sort();
    let mut want = ours.inputs.clone();
    want.sort();
    assert_eq!(inputs, want, "the same decision points");
    assert_eq!(from_json.rows.len(), ours.rows.len());
    for (values, outcome) in &from_json.rows {
        let named: Vec<(&str, &str)> = from_json
            .inputs
            .iter()
            .map(String::as_str)
            .zip(values.iter().map(String::as_str))
            .collect();
        assert_eq!(
            ours.decide_by_name(&named),
            Some(outcome.as_str()),
            "JSON row {named:?}"
        );
    }
}

#[test]
fn deployer_table_matches_cert_cc_row_by_row() {
    check(
        &DEPLOYER,
        "ssvc/csv/ssvc/deployer_patch_application_priority_1_0_0.csv",
        "ssvc/json/decision_tables/ssvc/deployer_patch_application_priority_1_0_0.json",
    );
}

#[test]
fn bod_26_04_table_matches_cert_cc_row_by_row() {
    check(
        &BOD_26_04,
        "ssvc/csv/cisa/cisa_bod_26_04_1_0_0.csv",
        "ssvc/json/decision_tables/cisa/cisa_bod_26_04_1_0_0.json",
    );
}
