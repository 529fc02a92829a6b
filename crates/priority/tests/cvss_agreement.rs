//! Every CVSS vector/score pair in the shared CVE 5 corpus and NVD records, scored by Ward and
//! compared with the score the source published. Absent data is reported and skipped.

use std::collections::BTreeMap;

use ward_testdata::shared;

use ward_feeds::{Record, parse_document, walk};
use ward_model::CvssVersion;
use ward_priority::cvss::{check, temporal_score};

#[derive(Default, Debug)]
struct Tally {
    pairs: usize,
    agree: usize,
    invalid: Vec<String>,
    /// The published score is the vector's temporal score, not its base score.
    temporal: usize,
    differ: Vec<String>,
    /// (vector, Ward's score) for each difference, for the reference check.
    differ_pairs: Vec<(String, f64)>,
}

#[test]
fn published_scores_agree_with_their_vectors() {
    let (Some(corpus), Some(nvd)) = (
        shared("cve5/vulnrichment-2024-10-24.tar.xz"),
        shared("nvd/records"),
    ) else {
        return;
    };
    let mut tally: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for path in [corpus, nvd] {
        walk(&path, &mut |name, bytes| {
            let parsed = parse_document(name, bytes).map_err(|e| e.to_string())?;
            for r in parsed.records {
                let Record::Advisory(a) = r else { continue };
                for c in &a.cvss {
                    let t = tally.entry(c.version.as_str()).or_default();
                    t.pairs += 1;
                    match check(c) {
                        Ok(checked) if checked.agrees() => t.agree += 1,
                        Ok(checked)
                            if temporal_score(c)
                                .is_some_and(|s| (s - checked.published).abs() < 0.05) =>
                        {
                            t.temporal += 1
                        }
                        Ok(checked) => {
                            t.differ_pairs.push((c.vector.clone(), checked.computed));
                            t.differ.push(format!(
                                "{} ({}): {} published {} computed {}",
                                a.id, c.source, c.vector, checked.published, checked.computed
                            ))
                        }
                        Err(e) => t
                            .invalid
                            .push(format!("{} ({}): `{}`: {e}", a.id, c.source, c.vector)),
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    }
    for (version, t) in &tally {
        eprintln!(
            "CVSS {version}: {} of {} pairs agree ({:.2}%); {} published the temporal score as base; \
             {} contradict their vector; {} invalid vectors",
            t.agree,
            t.pairs,
            100.0 * t.agree as f64 / t.pairs.max(1) as f64,
            t.temporal,
            t.differ.len(),
            t.invalid.len()
        );
        for d in t.differ.iter().chain(&t.invalid) {
            eprintln!("  {d}");
        }
    }
    // Every pair is accounted for: it agrees, it carries the temporal score, or the published
    // score contradicts the vector (a source's error: Ward trusts the vector, and the finding
    // lists both). The last kind must stay rare; the test prints each one.
    for (version, t) in &tally {
        assert_eq!(
            t.pairs,
            t.agree + t.temporal + t.differ.len() + t.invalid.len()
        );
        assert!(t.invalid.is_empty(), "CVSS {version}: {:?}", t.invalid);
        assert!(
            t.differ.len() * 200 < t.pairs,
            "CVSS {version}: {} of {} contradict",
            t.differ.len(),
            t.pairs
        );
    }
    assert_eq!(
        tally[CvssVersion::V2.as_str()].agree,
        tally[CvssVersion::V2.as_str()].pairs,
        "v2 agrees fully"
    );

    // Where a publisher and Ward differ, an independent implementation (Red Hat's `cvss` from
    // PyPI, installed by .ci/run) decides: it must compute Ward's score.
    let pairs: Vec<(String, f64)> = tally
        .values()
        .flat_map(|t| t.differ_pairs.clone())
        .collect();
    reference_agrees(&pairs);
}

fn reference_agrees(pairs: &[(String, f64)]) {
    let script = r#"
import sys
from cvss import CVSS2, CVSS3, CVSS4
for line in sys.stdin:
    v = line.strip()
    if v.startswith("CVSS:4.0/"):
        print(CVSS4(v).base_score)
    elif v.startswith("CVSS:3"):
        print(CVSS3(v).scores()[0])
    else:
        print(CVSS2(v).scores()[0])
"#;
    let input: String = pairs.iter().map(|(v, _)| format!("{v}\n")).collect();
    let Some((ok, out, err)) = ward_testdata::python(&["cvss"], script, input.as_bytes()) else {
        return;
    };
    assert!(ok, "{err}");
    let scores: Vec<f64> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(scores.len(), pairs.len());
    let mut disagree = Vec::new();
    for ((vector, ours), theirs) in pairs.iter().zip(&scores) {
        if (ours - theirs).abs() > 0.05 {
            disagree.push(format!("{vector}: Ward {ours}, reference {theirs}"));
        }
    }
    eprintln!(
        "reference check: {} of {} differing pairs scored as Ward scores them",
        pairs.len() - disagree.len(),
        pairs.len()
    );
    assert!(disagree.is_empty(), "{disagree:#?}");
}
