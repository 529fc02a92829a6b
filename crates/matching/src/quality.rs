//! The knowledge base's data quality, for the central team (`ward db quality`): how many
//! records show each pattern that makes a literal reading wrong, with their ids, so that they
//! can be raised with the CNA or NVD. The patterns are the ones matching has to read around
//! (`evaluate`'s point-list inference, `scan`'s gap and ADP-inversion rules).

use std::collections::BTreeMap;

use serde::Serialize;
use ward_model::advisory::{Affected, Status};
use ward_model::{Advisory, SourceId};

use crate::evaluate::{branch, is_release};
use crate::version;

/// One pattern: what it is, and the records that show it.
#[derive(Debug, Clone, Serialize)]
pub struct Pattern {
    pub pattern: &'static str,
    pub description: &'static str,
    pub records: usize,
    /// Vulnerability ids, sorted.
    pub ids: Vec<String>,
}

/// The patterns over every record seen.
#[derive(Debug, Default, Serialize)]
pub struct Quality {
    /// Records (vulnerabilities) examined.
    pub records: usize,
    /// Source views examined.
    pub views: usize,
    #[serde(skip)]
    found: BTreeMap<&'static str, Vec<String>>,
}

const PATTERNS: [(&str, &str); 4] = [
    (
        "default-affected-point-list",
        "a CVE 5 `affected` block whose default is affected and whose only entries are single releases marked unaffected: the fixes, which read literally make every later release affected (Ward reads them as per-branch fixes)",
    ),
    (
        "unparseable-version",
        "a CVE 5 version entry that is neither a release of the product nor a range phrase Ward reads (`12.x.1.x RPM`, chipset names, words, placeholders): no installed version can be compared with it",
    ),
    (
        "nvd-description-vs-configuration",
        "NVD's description says every release up to a bound is affected (`12.5.0.0 and prior`, `before 2.4`), but its configuration's ranges leave releases below that bound uncovered",
    ),
    (
        "adp-inversion",
        "an ADP container that lists the CNA's fix releases as the only affected ones and defaults to unaffected: the CNA's record inverted",
    ),
];

impl Quality {
    /// Examines every view of one vulnerability.
    pub fn add(&mut self, views: &[Advisory]) {
        let Some(id) = views.first().map(|v| v.id.clone()) else {
            return;
        };
        self.records += 1;
        self.views += views.len();
        let mut mark = |pattern: &'static str| {
            let ids = self.found.entry(pattern).or_default();
            if ids.last() != Some(&id) {
                ids.push(id.clone());
            }
        };
        for view in views {
            if view.affected.iter().any(default_affected_point_list) {
                mark("default-affected-point-list");
            }
            if view.affected.iter().any(|a| {
                a.versions.iter().any(|e| {
                    e.version_type.as_deref() != Some("git")
                        && [
                            Some(&e.version),
                            e.less_than.as_ref(),
                            e.less_than_or_equal.as_ref(),
                        ]
                        .into_iter()
                        .flatten()
                        .any(|v| {
                            !is_release(v) && !open(v) && crate::evaluate::phrase_range(v).is_none()
                        })
                })
            }) {
                mark("unparseable-version");
            }
            if view.source == SourceId::Nvd && description_contradicts_configuration(view) {
                mark("nvd-description-vs-configuration");
            }
        }
        if !crate::scan::inverted_adps(views).is_empty() {
            mark("adp-inversion");
        }
    }

    /// Every pattern, in a fixed order, with its records.
    pub fn patterns(&self) -> Vec<Pattern> {
        PATTERNS
            .iter()
            .map(|(pattern, description)| {
                let mut ids = self.found.get(pattern).cloned().unwrap_or_default();
                ids.sort();
                ids.dedup();
                Pattern {
                    pattern,
                    description,
                    records: ids.len(),
                    ids,
                }
            })
            .collect()
    }
}

/// Versions that mean "from the first" or "every": not a release, but not a defect either.
fn open(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "0" | "*" | "" | "n/a" | "unspecified" | "all" | "all versions" | "-"
    ) || v.trim_start().starts_with(['<', '>', '='])
}

fn default_affected_point_list(a: &Affected) -> bool {
    a.default_status == Some(Status::Affected)
        && !a.versions.is_empty()
        && a.versions
            .iter()
            .all(|e| e.status == Status::Unaffected && !e.is_range() && is_release(&e.version))
}

/// The bound NVD's description gives for "every release up to it": `12.5.0.0 and prior`,
/// `12.5.0.0 and earlier`, `through 12.5`, `before 2.4.1`, `prior to 2.4.1`.
fn described_bound(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let clean = |w: &str| {
        w.trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .trim_start_matches(['v', 'V'])
            .to_owned()
    };
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).map(|n| n.to_ascii_lowercase());
        let after = words.get(i + 2).map(|n| n.to_ascii_lowercase());
        // `X and prior` / `X and earlier`
        if next.as_deref() == Some("and")
            && after.as_deref().is_some_and(|a| {
                a.starts_with("prior") || a.starts_with("earlier") || a.starts_with("below")
            })
        {
            let v = clean(w);
            if is_release(&v) && v.contains('.') {
                return Some(v);
            }
        }
        // `before X` / `prior to X` / `through X`, unless a release precedes it (`1.0.1
        // before 1.0.1g` is one branch, not every release).
        let lower = w.to_ascii_lowercase();
        let preceded_by_release = |k: usize| {
            k > 0 && {
                let p = clean(words[k - 1]);
                p.starts_with(|c: char| c.is_ascii_digit()) && p.contains('.')
            }
        };
        let starts = match lower.as_str() {
            "before" | "through" => Some(i),
            "to" if i > 0 && words[i - 1].eq_ignore_ascii_case("prior") => Some(i - 1),
            _ => None,
        };
        if let Some(k) = starts
            && !preceded_by_release(k)
            && let Some(n) = words.get(i + 1)
        {
            let v = clean(n);
            if is_release(&v) && v.contains('.') {
                return Some(v);
            }
        }
    }
    None
}

/// A vulnerable range: (start, end); `None` start = from the first release, `None` end = no end.
type Interval = (Option<String>, Option<String>);

/// The description claims every release up to a bound; the vulnerable ranges below that bound
/// leave a hole (a range starting above where the ranges before it end).
fn description_contradicts_configuration(view: &Advisory) -> bool {
    let Some(bound) = view.description.as_deref().and_then(described_bound) else {
        return false;
    };
    // Per product: intervals (start, end) in the vendor order; `None` start = from the first.
    let mut by_product: BTreeMap<String, Vec<Interval>> = BTreeMap::new();
    for m in view
        .configurations
        .iter()
        .flat_map(|c| &c.nodes)
        .flat_map(|n| &n.cpe_match)
        .filter(|m| m.vulnerable)
    {
        let key = format!("{}:{}", m.criteria.vendor, m.criteria.product);
        let interval = match m.criteria.version.literal() {
            Some(v) => (Some(v.to_owned()), Some(v.to_owned())),
            None if m.has_range() => (
                m.start_including.clone().or(m.start_excluding.clone()),
                m.end_excluding.clone().or(m.end_including.clone()),
            ),
            None => (None, None),
        };
        by_product.entry(key).or_default().push(interval);
    }
    by_product.values().any(|intervals| {
        let mut list: Vec<_> = intervals
            .iter()
            .filter(|(start, _)| {
                start
                    .as_deref()
                    .is_none_or(|s| version::compare(s, &bound).is_le())
            })
            .cloned()
            .collect();
        if list.iter().any(|(s, e)| s.is_none() && e.is_none()) {
            return false; // every version
        }
        list.sort_by(|a, b| match (&a.0, &b.0) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, _) => std::cmp::Ordering::Less,
            (_, None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => version::compare(x, y),
        });
        // Holes between ranges only: where the first range starts is NVD's call (a
        // description's "before 7.58" rarely means the 6.x branch).
        let Some((_, mut covered)) = list.first().cloned() else {
            return false;
        };
        for (start, end) in list.iter().skip(1) {
            let (Some(start), Some(cov)) = (start, &covered) else {
                continue;
            };
            // A new branch starting above where coverage ends: a hole (a release of the
            // same branch right after a fix is the fix itself, not a hole).
            if version::compare(start, cov).is_gt() && branch(start) != branch(cov) {
                return true;
            }
            if end.as_deref().is_some_and(|e| {
                covered
                    .as_deref()
                    .is_none_or(|c| version::compare(e, c).is_gt())
            }) {
                covered = end.clone();
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn described_bounds() {
        assert_eq!(
            described_bound("in Ivanti Endpoint Manager Mobile 12.5.0.0 and prior allows")
                .as_deref(),
            Some("12.5.0.0")
        );
        assert_eq!(
            described_bound("OpenSSH before 9.8, a race").as_deref(),
            Some("9.8")
        );
        assert_eq!(
            described_bound("versions prior to 2.4.1.").as_deref(),
            Some("2.4.1")
        );
        assert_eq!(described_bound("nothing to see"), None);
        assert_eq!(
            described_bound("OpenSSL 1.0.1 before 1.0.1g does not"),
            None
        );
    }

    #[test]
    fn range_phrases_cnas_write() {
        use crate::evaluate::phrase_range;
        assert_eq!(phrase_range("All versions < V3.1"), Some((false, "3.1")));
        assert_eq!(phrase_range("12.5.0.0 and prior"), Some((true, "12.5.0.0")));
        assert_eq!(phrase_range("v2.4 and earlier"), Some((true, "2.4")));
        assert_eq!(phrase_range("prior to 3.1"), Some((false, "3.1")));
        assert_eq!(phrase_range("QCA6390"), None);
        assert_eq!(phrase_range("Snapdragon 8 Gen 1 and prior"), None);
    }
}
