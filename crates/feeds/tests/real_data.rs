//! The real public data in `../shared/data` (or `$WARD_SHARED_DATA`): every record reads.
//! Where the data is absent, each test says so and passes without checking.

use std::collections::BTreeMap;

use ward_testdata::shared;

use ward_feeds::{Format, Parsed, Record, parse_document, walk};
use ward_model::{RecordState, SourceId};

fn parse_all(path: &std::path::Path) -> Vec<(String, Parsed)> {
    let mut out = Vec::new();
    walk(path, &mut |name, bytes| {
        let parsed = parse_document(name, bytes).map_err(|e| e.to_string())?;
        out.push((name.to_owned(), parsed));
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn whole_cve5_corpus_reads_without_errors() {
    let Some(path) = shared("cve5/vulnrichment-2024-10-24.tar.xz") else {
        return;
    };
    let docs = parse_all(&path);
    let mut errors = Vec::new();
    let mut warnings = BTreeMap::<String, usize>::new();
    let (mut cna, mut adp, mut rejected, mut ssvc) = (0, 0, 0, 0);
    for (_, p) in &docs {
        assert_eq!(p.format, Some(Format::Cve5));
        errors.extend(p.errors.iter().map(ToString::to_string));
        for w in &p.warnings {
            // The only tolerated problem: CPE strings that are not CPE names; the rest of the
            // record is imported and the bad string reported.
            assert!(w.message.contains("is not a CPE name"), "{w}");
            // Group by what was wrong, not by which value.
            let kind = w
                .message
                .split('(')
                .nth(1)
                .unwrap_or(&w.message)
                .split(')')
                .next()
                .unwrap_or("")
                .to_owned();
            *warnings.entry(kind).or_default() += 1;
        }
        for r in &p.records {
            let Record::Advisory(a) = r else {
                panic!("CVE 5 gives advisories")
            };
            match a.source {
                SourceId::Cna(_) => cna += 1,
                SourceId::Adp(_) => adp += 1,
                SourceId::Nvd | SourceId::Osv(_) | SourceId::Csaf(_) => {
                    panic!("no NVD, OSV or CSAF view in CVE 5")
                }
            }
            rejected += usize::from(a.state == RecordState::Rejected);
            ssvc += usize::from(a.ssvc.is_some());
        }
    }
    eprintln!(
        "{} documents, {cna} CNA views, {adp} ADP views, {rejected} rejected, {ssvc} with SSVC",
        docs.len()
    );
    eprintln!("warnings by kind: {warnings:#?}");
    assert!(docs.len() > 44_000, "{}", docs.len());
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(rejected, 104, "the corpus has 104 REJECTED records");
    assert!(
        ssvc > 20_000,
        "Vulnrichment gives SSVC options for most records: {ssvc}"
    );
}

#[test]
fn nvd_records_read_with_configurations() {
    let Some(path) = shared("nvd/records") else {
        return;
    };
    let docs = parse_all(&path);
    assert_eq!(docs.len(), 25);
    for (name, p) in &docs {
        assert_eq!(p.format, Some(Format::Nvd), "{name}");
        assert!(p.errors.is_empty(), "{name}: {:?}", p.errors);
        assert!(p.warnings.is_empty(), "{name}: {:?}", p.warnings);
        let [Record::Advisory(a)] = p.records.as_slice() else {
            panic!("{name}: one advisory")
        };
        if a.id == "CVE-2024-3400" {
            assert!(
                a.configurations.is_empty(),
                "awaiting analysis: no configurations"
            );
        } else {
            assert!(!a.configurations.is_empty(), "{name}");
        }
        if a.id == "CVE-2025-4427" {
            let kev = a.kev.as_ref().unwrap();
            assert_eq!(kev.date_added.unwrap().to_string(), "2025-05-19");
            assert_eq!(kev.due_date.unwrap().to_string(), "2025-06-09");
            let ranges: Vec<String> = a.configurations[0].nodes[0]
                .cpe_match
                .iter()
                .map(|m| m.range_text())
                .collect();
            assert_eq!(
                ranges,
                [
                    "< 11.12.0.5",
                    ">= 12.3.0.0, < 12.3.0.2",
                    ">= 12.4.0.0, < 12.4.0.2",
                    ""
                ]
            );
        }
    }
}

#[test]
fn kev_json_and_csv_agree() {
    let (Some(json), Some(csv)) = (
        shared("kev/known_exploited_vulnerabilities.json"),
        shared("kev/known_exploited_vulnerabilities.csv"),
    ) else {
        return;
    };
    let j = parse_document("kev.json", &std::fs::read(json).unwrap()).unwrap();
    let c = parse_document("kev.csv", &std::fs::read(csv).unwrap()).unwrap();
    assert_eq!(j.format, Some(Format::KevJson));
    assert_eq!(c.format, Some(Format::KevCsv));
    assert!(j.errors.is_empty(), "{:?}", j.errors);
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(j.records.len(), 1404);
    assert_eq!(
        j.records, c.records,
        "the JSON and CSV catalogues hold the same entries"
    );
    let epmm = j.records.iter().find_map(|r| match r {
        Record::Kev(k) if k.cve_id == "CVE-2025-4428" => Some(k),
        _ => None,
    });
    let epmm = epmm.expect("CVE-2025-4428 is in KEV");
    assert_eq!(epmm.date_added.unwrap().to_string(), "2025-05-19");
    assert_eq!(epmm.due_date.unwrap().to_string(), "2025-06-09");
}
