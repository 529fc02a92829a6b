//! Prioritisation: a finding's facts (KEV, CVSS, EPSS) and its asset → a [`Priority`] and the
//! reason for it.
//!
//! [`Baseline`] is the first policy: KEV-listed first, then by CVSS and EPSS. It implements
//! the [`Prioritiser`] seam that matching calls, so the SSVC policy engine (decision tables,
//! deadlines, per-organisation overrides) replaces it without touching matching. Pure: no I/O.

pub mod cvss;

use ward_model::{Asset, Finding, Prioritiser, Priority};

/// KEV → immediate; CVSS ≥ 9.0 or EPSS ≥ 0.5 → out-of-cycle; CVSS ≥ 7.0 or EPSS ≥ 0.1 →
/// scheduled; everything else → defer. The highest base score of any source and version
/// counts, since sources rarely score lower than the truth on purpose.
#[derive(Debug, Clone, Copy, Default)]
pub struct Baseline;

impl Prioritiser for Baseline {
    fn prioritise(&self, f: &Finding, _asset: &Asset) -> (Priority, String) {
        let cvss = f
            .cvss
            .iter()
            .max_by(|a, b| a.base_score.total_cmp(&b.base_score))
            .map(|c| {
                (
                    c.base_score,
                    format!(
                        "CVSS {} {} from {}",
                        c.version.as_str(),
                        c.base_score,
                        c.source
                    ),
                )
            });
        let epss = f.epss.as_ref().map(|e| e.score);
        let facts = || {
            let mut parts = Vec::new();
            if let Some((_, text)) = &cvss {
                parts.push(text.clone());
            }
            if let Some(e) = &f.epss {
                parts.push(format!(
                    "EPSS {:.3} (percentile {:.3})",
                    e.score, e.percentile
                ));
            }
            if parts.is_empty() {
                "no CVSS score or EPSS".to_owned()
            } else {
                parts.join(", ")
            }
        };
        if let Some(kev) = &f.kev {
            let due = kev
                .due_date
                .map(|d| format!(", due {d}"))
                .unwrap_or_default();
            let added = kev
                .date_added
                .map(|d| format!(" (added {d}{due})"))
                .unwrap_or_default();
            return (
                Priority::Immediate,
                format!(
                    "listed in CISA KEV{added}: exploited in the wild; {}",
                    facts()
                ),
            );
        }
        let score = cvss.as_ref().map_or(0.0, |c| c.0);
        let e = epss.unwrap_or(0.0);
        let (p, rule) = if score >= 9.0 || e >= 0.5 {
            (Priority::OutOfCycle, "CVSS ≥ 9.0 or EPSS ≥ 0.5")
        } else if score >= 7.0 || e >= 0.1 {
            (Priority::Scheduled, "CVSS ≥ 7.0 or EPSS ≥ 0.1")
        } else {
            (Priority::Defer, "below CVSS 7.0 and EPSS 0.1")
        };
        (p, format!("not in KEV; {rule}: {}", facts()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::{
        ComponentRef, Confidence, Cvss, CvssVersion, Explanation, FindingEpss, FindingKev,
    };

    fn finding(kev: bool, score: Option<f64>, epss: Option<f64>) -> Finding {
        Finding {
            vulnerability: "CVE-0000-0001".into(),
            aliases: vec![],
            component: ComponentRef {
                name: "x".into(),
                version: None,
                cpe: None,
                purl: None,
            },
            asset: "a".into(),
            confidence: Confidence::Exact,
            kev: kev.then_some(FindingKev {
                date_added: None,
                due_date: None,
                ransomware: false,
            }),
            epss: epss.map(|score| FindingEpss {
                score,
                percentile: 0.5,
            }),
            cvss: score
                .map(|s| {
                    vec![Cvss {
                        version: CvssVersion::V31,
                        vector: String::new(),
                        base_score: s,
                        source: "nvd".into(),
                    }]
                })
                .unwrap_or_default(),
            fixed_versions: vec![],
            priority: Priority::Defer,
            explanation: Explanation {
                source: String::new(),
                criterion: String::new(),
                range: String::new(),
                sources: vec![],
                disagreements: vec![],
                priority: String::new(),
                notes: vec![],
            },
            title: None,
        }
    }

    #[test]
    fn kev_first_then_cvss_and_epss() {
        let asset = Asset::default();
        let p = |kev, s, e| Baseline.prioritise(&finding(kev, s, e), &asset).0;
        assert_eq!(p(true, Some(5.3), None), Priority::Immediate);
        assert_eq!(p(false, Some(9.8), None), Priority::OutOfCycle);
        assert_eq!(p(false, Some(4.0), Some(0.6)), Priority::OutOfCycle);
        assert_eq!(p(false, Some(7.5), None), Priority::Scheduled);
        assert_eq!(p(false, None, Some(0.2)), Priority::Scheduled);
        assert_eq!(p(false, Some(5.0), Some(0.01)), Priority::Defer);
        assert_eq!(p(false, None, None), Priority::Defer);
        let (_, why) = Baseline.prioritise(&finding(false, Some(9.8), None), &asset);
        assert!(why.contains("CVSS 3.1 9.8 from nvd"), "{why}");
    }
}
