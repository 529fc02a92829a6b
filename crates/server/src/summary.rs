//! A vulnerability as people read it: one summary of every source's view — what it is
//! (title, description, CWE, references), how severe (the newest CVSS version's highest
//! score), and which products and versions each source calls affected and fixed. Alerts and
//! findings show it, so that a member asked "do you run this?" is told what "this" is.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::Serialize;
use ward_model::advisory::{Affected, AffectedVersion, RangeEvent, RecordState, Status};
use ward_model::{Advisory, SourceId};

/// Severity from a CVSS base score, in CVSS v3's and v4's qualitative words.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Severity {
    /// `critical`, `high`, `medium`, `low` or `none`.
    pub rating: &'static str,
    pub score: f64,
    /// The CVSS version scored (`4.0`, `3.1`, …) and who scored it.
    pub version: &'static str,
    pub source: String,
}

pub use ward_model::advisory::severity_rating as rating;

/// The severity of a set of scores: the newest CVSS version present, its highest score.
pub fn severity<'a>(
    scores: impl IntoIterator<Item = &'a ward_model::advisory::Cvss>,
) -> Option<Severity> {
    ward_model::advisory::headline_score(scores).map(|c| Severity {
        rating: rating(c.base_score),
        score: c.base_score,
        version: c.version.as_str(),
        source: c.source.clone(),
    })
}

/// One source's word on one product: the versions it calls affected and fixed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProductStatus {
    /// `cna:ivanti`, `nvd`, `osv:GHSA-…`.
    pub source: String,
    pub vendor: String,
    pub product: String,
    /// Affected versions and ranges as the source gives them (`>= 12.3.0.0, < 12.3.0.2`;
    /// `every version not listed` for a CVE record's default status).
    pub affected: Vec<String>,
    /// Versions the source names as fixed or not affected.
    pub fixed: Vec<String>,
}

/// Everything Ward knows of one vulnerability, summarised.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VulnerabilitySummary {
    pub id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub cwes: Vec<String>,
    pub references: Vec<String>,
    pub severity: Option<Severity>,
    pub products: Vec<ProductStatus>,
    /// Listed in CISA's Known Exploited Vulnerabilities catalogue.
    pub kev: bool,
    /// The first publication by any source.
    #[schemars(with = "Option<String>")]
    pub published: Option<chrono::DateTime<chrono::Utc>>,
    /// CISA's KEV entry: when listed, the federal due date, and the action CISA requires
    /// (the mitigation to apply, in CISA's words).
    #[schemars(with = "Option<String>")]
    pub kev_added: Option<chrono::NaiveDate>,
    #[schemars(with = "Option<String>")]
    pub kev_due: Option<chrono::NaiveDate>,
    pub kev_required_action: Option<String>,
}

impl VulnerabilitySummary {
    /// The KEV facts as a finding carries them (what policies count clocks from).
    pub fn finding_kev(&self) -> Option<ward_model::FindingKev> {
        self.kev.then_some(ward_model::FindingKev {
            date_added: self.kev_added,
            due_date: self.kev_due,
            ransomware: false,
        })
    }
}

impl VulnerabilitySummary {
    /// "Ivanti Endpoint Manager Mobile", the products named, for a sentence.
    /// Each product once, as the first source (the CNA's words before NVD's CPE names) spells
    /// it: "Endpoint Manager Mobile" and `endpoint_manager_mobile` are one product.
    pub fn product_names(&self) -> String {
        let mut seen = BTreeSet::new();
        let mut names = Vec::new();
        for p in &self.products {
            let name = format!("{} {}", p.vendor, p.product);
            if seen.insert(name.to_lowercase().replace('_', " ")) {
                names.push(name);
            }
        }
        names.join(", ")
    }
}

/// Which source's text is preferred: the CNA (the vendor's own words), then NVD, then the rest.
fn rank(source: &SourceId) -> u8 {
    match source {
        SourceId::Cna(_) => 0,
        SourceId::Nvd => 1,
        _ => 2,
    }
}

/// How a CVE record's version entry reads: `12.5.0.0`, `>= 12.3.0.0, < 12.3.0.2`, `< 12.1`.
fn entry(v: &AffectedVersion) -> String {
    let start =
        (!matches!(v.version.as_str(), "0" | "*" | "")).then(|| format!(">= {}", v.version));
    let end = v
        .less_than
        .as_ref()
        .filter(|e| e.as_str() != "*")
        .map(|e| format!("< {e}"))
        .or_else(|| {
            v.less_than_or_equal
                .as_ref()
                .filter(|e| e.as_str() != "*")
                .map(|e| format!("<= {e}"))
        });
    match (start, end) {
        (Some(s), Some(e)) => format!("{s}, {e}"),
        (None, Some(e)) => e,
        (Some(_), None) if v.is_range() => format!(">= {}", v.version),
        (Some(_), None) => v.version.clone(),
        (None, None) => "every version".to_owned(),
    }
}

fn from_cve(source: &str, a: &Affected) -> Option<ProductStatus> {
    let product = a.product.clone().or_else(|| a.package_name.clone())?;
    let mut affected = Vec::new();
    let mut fixed = Vec::new();
    for v in &a.versions {
        match v.status {
            Status::Affected => affected.push(entry(v)),
            Status::Unaffected => fixed.push(entry(v)),
            Status::Unknown => {}
        }
        for c in &v.changes {
            if c.status == Status::Unaffected {
                fixed.push(format!(">= {}", c.at));
            }
        }
    }
    if a.default_status == Some(Status::Affected) {
        affected.push("every version not listed (the record's default)".to_owned());
    }
    Some(ProductStatus {
        source: source.to_owned(),
        vendor: a.vendor.clone().unwrap_or_default(),
        product,
        affected,
        fixed,
    })
}

/// Summarises every view of one vulnerability (`advisories`: all sources' views of it).
pub fn summarise(
    id: &str,
    advisories: &[Advisory],
    kev: Option<&ward_model::KevEntry>,
) -> VulnerabilitySummary {
    let mut views: Vec<&Advisory> = advisories
        .iter()
        .filter(|a| a.state == RecordState::Published)
        .collect();
    views.sort_by_key(|a| rank(&a.source));
    let text = |f: fn(&Advisory) -> Option<&String>| views.iter().find_map(|a| f(a).cloned());
    let mut cwes = BTreeSet::new();
    let mut references = Vec::new();
    let mut products = Vec::new();
    for a in &views {
        cwes.extend(a.cwes.iter().cloned());
        // Only web links: a reference is shown as a link, and a feed is not trusted to send
        // nothing else (`javascript:`).
        for r in a
            .references
            .iter()
            .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
        {
            if !references.contains(r) && references.len() < 20 {
                references.push(r.clone());
            }
        }
        let source = a.source.to_string();
        products.extend(a.affected.iter().filter_map(|x| from_cve(&source, x)));
        for configuration in &a.configurations {
            for node in &configuration.nodes {
                for m in node.cpe_match.iter().filter(|m| m.vulnerable) {
                    let c = &m.criteria;
                    let range: Vec<String> = [
                        m.start_including.as_ref().map(|v| format!(">= {v}")),
                        m.start_excluding.as_ref().map(|v| format!("> {v}")),
                        m.end_excluding.as_ref().map(|v| format!("< {v}")),
                        m.end_including.as_ref().map(|v| format!("<= {v}")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    let affected = if range.is_empty() {
                        c.version
                            .literal()
                            .map_or("every version".to_owned(), str::to_owned)
                    } else {
                        range.join(", ")
                    };
                    products.push(ProductStatus {
                        source: source.clone(),
                        vendor: c.vendor.literal().unwrap_or("*").to_owned(),
                        product: c.product.literal().unwrap_or("*").to_owned(),
                        affected: vec![affected],
                        fixed: m.end_excluding.iter().cloned().collect(),
                    });
                }
            }
        }
        for p in &a.packages {
            let mut affected = Vec::new();
            let mut fixed = Vec::new();
            for r in &p.ranges {
                let mut from = None;
                for e in &r.events {
                    match e {
                        RangeEvent::Introduced(v) => from = Some(v.clone()),
                        RangeEvent::Fixed(v) | RangeEvent::Limit(v) => {
                            affected.push(match from.take().filter(|f| f != "0") {
                                Some(f) => format!(">= {f}, < {v}"),
                                None => format!("< {v}"),
                            });
                            if matches!(e, RangeEvent::Fixed(_)) {
                                fixed.push(v.clone());
                            }
                        }
                        RangeEvent::LastAffected(v) => {
                            affected.push(match from.take().filter(|f| f != "0") {
                                Some(f) => format!(">= {f}, <= {v}"),
                                None => format!("<= {v}"),
                            });
                        }
                    }
                }
                if let Some(f) = from {
                    affected.push(if f == "0" {
                        "every version".to_owned()
                    } else {
                        format!(">= {f}")
                    });
                }
            }
            affected.extend(p.versions.iter().take(20).cloned());
            products.push(ProductStatus {
                source: source.clone(),
                vendor: p.ecosystem.clone(),
                product: p.name.clone(),
                affected,
                fixed,
            });
        }
    }
    VulnerabilitySummary {
        id: id.to_owned(),
        title: text(|a| a.title.as_ref()),
        description: text(|a| a.description.as_ref()),
        cwes: cwes.into_iter().collect(),
        references,
        severity: severity(views.iter().flat_map(|a| &a.cvss)),
        products,
        kev: kev.is_some(),
        published: views.iter().filter_map(|a| a.published).min(),
        kev_added: kev.and_then(|k| k.date_added),
        kev_due: kev.and_then(|k| k.due_date),
        kev_required_action: kev.and_then(|k| k.required_action.clone()),
    }
}

/// The summary of one vulnerability from the knowledge base (`None`: Ward knows nothing of it).
pub async fn load(
    store: &ward_store::Store,
    id: &str,
) -> Result<Option<VulnerabilitySummary>, ward_store::StoreError> {
    let slice = store.load_vulnerabilities(&[id.to_owned()]).await?;
    let views: Vec<Advisory> = slice
        .advisories
        .into_iter()
        .filter(|a| a.id == id || a.aliases.iter().any(|x| x == id))
        .collect();
    if views.is_empty() {
        return Ok(None);
    }
    let kev = slice.kev.iter().find(|k| k.cve_id == id);
    Ok(Some(summarise(id, &views, kev)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_follow_cvss_v3_bands() {
        for (score, word) in [
            (10.0, "critical"),
            (9.0, "critical"),
            (8.9, "high"),
            (7.0, "high"),
            (6.9, "medium"),
            (4.0, "medium"),
            (3.9, "low"),
            (0.1, "low"),
            (0.0, "none"),
        ] {
            assert_eq!(rating(score), word, "{score}");
        }
    }

    #[test]
    fn a_cve_record_and_nvd_name_the_product_and_its_versions() {
        let cna = ward_testdata::epmm_advisory(13, "12.5.0.1");
        let summary = summarise("CVE-2025-4427", &[cna], None);
        assert_eq!(summary.product_names(), "Ivanti Endpoint Manager Mobile");
        let p = &summary.products[0];
        assert_eq!(p.source, "cna:ivanti");
        assert_eq!(p.fixed, ["12.5.0.1"]);
        assert_eq!(
            p.affected,
            ["every version not listed (the record's default)"]
        );
        let range = AffectedVersion {
            version: "12.3.0.0".into(),
            status: Status::Affected,
            less_than: Some("12.3.0.2".into()),
            less_than_or_equal: None,
            version_type: Some("custom".into()),
            changes: vec![],
        };
        assert_eq!(entry(&range), ">= 12.3.0.0, < 12.3.0.2");
        let below = AffectedVersion {
            version: "0".into(),
            less_than_or_equal: Some("11.12.0.4".into()),
            less_than: None,
            ..range
        };
        assert_eq!(entry(&below), "<= 11.12.0.4");
    }
}
