//! One source's view of one vulnerability, and the exploitation data that sits beside it.
//!
//! Ward keeps every source's view separately (the CNA's record, each ADP container, NVD's
//! analysis, CISA KEV, EPSS) so that matching can choose the most precise one and explain
//! where sources disagree. An [`Advisory`] is one such view.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::cpe::Cpe;

/// Which source a view comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum SourceId {
    /// The CVE record's CNA container; the name is the CNA's short name.
    Cna(String),
    /// An ADP container of the CVE record (e.g. `CISA-ADP`).
    Adp(String),
    /// NVD's CVE API 2.0 record.
    Nvd,
    /// An OSV record; the name is the record's own id (`GHSA-…`, `PYSEC-…`, `GO-…`).
    Osv(String),
    /// A CSAF 2.0 document: the publisher's namespace and the document's tracking id
    /// (`https://www.redhat.com#CVE-2024-28834`), one view per document.
    Csaf(String),
}

impl SourceId {
    /// A stable short key for storage and display: `cna:ivanti`, `adp:CISA-ADP`, `nvd`.
    pub fn key(&self) -> String {
        match self {
            Self::Cna(n) => format!("cna:{n}"),
            Self::Adp(n) => format!("adp:{n}"),
            Self::Nvd => "nvd".into(),
            Self::Osv(n) => format!("osv:{n}"),
            Self::Csaf(n) => format!("csaf:{n}"),
        }
    }

    /// The inverse of [`SourceId::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        if key == "nvd" {
            return Some(Self::Nvd);
        }
        let (kind, name) = key.split_once(':')?;
        match kind {
            "cna" => Some(Self::Cna(name.into())),
            "adp" => Some(Self::Adp(name.into())),
            "osv" => Some(Self::Osv(name.into())),
            "csaf" => Some(Self::Csaf(name.into())),
            _ => None,
        }
    }
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordState {
    #[default]
    Published,
    /// Withdrawn by its CNA (CVE JSON 5 `REJECTED`); nothing matches it.
    Rejected,
    /// An OSV record's `withdrawn`: this view no longer matches; other sources' views of the
    /// same vulnerability still do.
    Withdrawn,
}

/// One source's view of a vulnerability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    pub source: SourceId,
    pub state: RecordState,
    /// When the source last changed this view (`dateUpdated`, `lastModified`); newer wins.
    pub updated: Option<DateTime<Utc>>,
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cvss: Vec<Cvss>,
    /// CVE JSON 5 `affected` blocks (CNA and ADP views).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    /// NVD configurations (NVD view).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<NvdConfiguration>,
    /// OSV `affected` entries: packages named by ecosystem and name, with their ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageAffected>,
    /// OSV `database_specific`, kept as published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
    /// CISA's SSVC decision-point values (Vulnrichment ADP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Boxed, as is `kev`: most views have neither, and a scan holds tens of thousands of
    /// views (in place they were 296 of a view's 632 bytes).
    pub ssvc: Option<Box<Ssvc>>,
    /// KEV facts carried inside this view (the ADP `kev` metric, NVD's `cisa*` fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev: Option<Box<KevEntry>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

impl Advisory {
    pub fn new(id: impl Into<String>, source: SourceId) -> Self {
        Self {
            id: id.into(),
            source,
            state: RecordState::Published,
            updated: None,
            published: None,
            aliases: Vec::new(),
            title: None,
            description: None,
            cvss: Vec::new(),
            affected: Vec::new(),
            configurations: Vec::new(),
            packages: Vec::new(),
            database_specific: None,
            ssvc: None,
            kev: None,
            cwes: Vec::new(),
            references: Vec::new(),
        }
    }

    /// The `(vendor, product)` keys this view can match, lower-cased, for the product index.
    pub fn product_keys(&self) -> Vec<(String, String)> {
        // Borrowed until deduplicated: a view can list hundreds of CPEs of a handful of
        // products, and every scan indexes tens of thousands of views.
        let derived: Vec<(String, String)> = self
            .affected
            .iter()
            .filter_map(Affected::derived_key)
            .collect();
        let mut keys: Vec<(&str, &str)> = derived
            .iter()
            .map(|(v, p)| (v.as_str(), p.as_str()))
            .collect();
        for a in &self.affected {
            keys.extend(a.cpes.iter().filter_map(Cpe::product_key_ref));
        }
        for c in &self.configurations {
            for n in &c.nodes {
                for m in &n.cpe_match {
                    // Wildcarded vendor or product: indexed under `*`, checked for every component.
                    keys.push(m.criteria.product_key_ref().unwrap_or(("*", "*")));
                }
            }
        }
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter()
            .map(|(v, p)| (v.to_owned(), p.to_owned()))
            .collect()
    }
}

impl Advisory {
    /// The package keys (see [`crate::purl::Package::key`]) this view can match.
    pub fn package_keys(&self) -> Vec<(String, String)> {
        let mut keys: Vec<_> = self
            .packages
            .iter()
            .map(|p| crate::purl::package_key(&p.ecosystem, &p.name))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// An OSV `affected` entry: one package and the versions of it that are affected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageAffected {
    pub ecosystem: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<PackageRange>,
    /// Explicitly enumerated affected versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// How an OSV range's versions are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RangeKind {
    /// SemVer 2.0 precedence.
    Semver,
    /// The ecosystem's own order.
    Ecosystem,
    /// Commits of a Git repository: cannot be placed without the commit graph.
    Git,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageRange {
    #[serde(rename = "type")]
    pub kind: RangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub events: Vec<RangeEvent>,
}

/// One OSV range event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeEvent {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl RangeEvent {
    pub fn version(&self) -> &str {
        match self {
            Self::Introduced(v) | Self::Fixed(v) | Self::LastAffected(v) | Self::Limit(v) => v,
        }
    }
}

/// A CVSS score as a source published it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    pub version: CvssVersion,
    pub vector: String,
    pub base_score: f64,
    /// Who scored it (`nvd`, the CNA's short name, an ADP).
    pub source: String,
    /// In findings: the score the source published, when it differs from the score its vector
    /// gives (`base_score` is then the vector's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_score: Option<f64>,
}

/// CVSS v3's and v4's qualitative severity of a base score: `critical`, `high`, `medium`,
/// `low` or `none`.
pub fn severity_rating(score: f64) -> &'static str {
    match score {
        s if s >= 9.0 => "critical",
        s if s >= 7.0 => "high",
        s if s >= 4.0 => "medium",
        s if s > 0.0 => "low",
        _ => "none",
    }
}

/// The score that speaks for a set: the newest CVSS version present, its highest base score.
pub fn headline_score<'a>(scores: impl IntoIterator<Item = &'a Cvss>) -> Option<&'a Cvss> {
    scores
        .into_iter()
        .filter(|c| c.base_score.is_finite())
        .max_by(|a, b| {
            (a.version, a.base_score)
                .partial_cmp(&(b.version, b.base_score))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CvssVersion {
    #[serde(rename = "2.0")]
    V2,
    #[serde(rename = "3.0")]
    V30,
    #[serde(rename = "3.1")]
    V31,
    #[serde(rename = "4.0")]
    V40,
}

impl CvssVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2 => "2.0",
            Self::V30 => "3.0",
            Self::V31 => "3.1",
            Self::V40 => "4.0",
        }
    }
}

/// CVE JSON 5 version status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Affected,
    Unaffected,
    Unknown,
}

/// A CVE JSON 5 `affected` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpes: Vec<Cpe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_status: Option<Status>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<AffectedVersion>,
}

impl Affected {
    /// The key derived from `vendor`/`product` (lower-cased, spaces as underscores: the CPE
    /// dictionary's convention, so that "Ivanti"/"Endpoint Manager Mobile" meets
    /// `ivanti:endpoint_manager_mobile`); [`Advisory::product_keys`] adds the CPEs' own.
    pub fn derived_key(&self) -> Option<(String, String)> {
        let vendor = normalise_name(self.vendor.as_deref()?)?;
        let product = normalise_name(self.product.as_deref().or(self.package_name.as_deref())?)?;
        Some((vendor, product))
    }

    /// The product of [`Self::derived_key`], when it has one, without building its vendor.
    pub fn derived_product(&self) -> Option<String> {
        if is_placeholder(self.vendor.as_deref()?.trim()) {
            return None;
        }
        normalise_name(self.product.as_deref().or(self.package_name.as_deref())?)
    }
}

/// True when `normalise_name(raw)` would equal `key`, without allocating (matching calls this
/// for every `affected` entry of every candidate vulnerability).
pub fn normalised_eq(raw: &str, key: &str) -> bool {
    // Most comparisons fail on the first letter (an advisory's hundreds of `affected` entries
    // against one component): that is checked before trimming, when the first letter is ASCII.
    let bytes = raw.as_bytes();
    match bytes
        .iter()
        .find(|&&b| !(b.is_ascii() && char::from(b).is_whitespace()))
    {
        None => return false,
        Some(&first) if first.is_ascii() => {
            if key.as_bytes().first() != Some(&first.to_ascii_lowercase()) {
                return false;
            }
        }
        Some(_) => {}
    }
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("n/a") || trimmed == "-" {
        return false;
    }
    if trimmed.is_ascii() {
        // Byte by byte (almost every name is ASCII): a run of whitespace is one `_`.
        let (raw, key) = (trimmed.as_bytes(), key.as_bytes());
        let (mut i, mut k) = (0, 0);
        while i < raw.len() {
            let b = raw[i];
            // `char::is_whitespace`, as `split_whitespace` reads it (it counts `\x0b` too).
            let space = |b: u8| char::from(b).is_whitespace();
            let want = if space(b) {
                while i + 1 < raw.len() && space(raw[i + 1]) {
                    i += 1;
                }
                b'_'
            } else {
                b.to_ascii_lowercase()
            };
            if key.get(k) != Some(&want) {
                return false;
            }
            i += 1;
            k += 1;
        }
        return k == key.len();
    }
    let mut want = key.chars();
    for (i, word) in trimmed.split_whitespace().enumerate() {
        if i > 0 && want.next() != Some('_') {
            return false;
        }
        for c in word.chars().flat_map(char::to_lowercase) {
            if want.next() != Some(c) {
                return false;
            }
        }
    }
    want.next().is_none()
}

/// An empty name or one of the placeholders CVE records use for none (`n/a`, `-`); trimmed.
fn is_placeholder(trimmed: &str) -> bool {
    trimmed.is_empty() || trimmed.eq_ignore_ascii_case("n/a") || trimmed == "-"
}

/// Lower-cases a vendor or product name and joins its words with `_`, as CPE names do.
/// `n/a` and empty names (common placeholders in CVE records) give `None`.
pub fn normalise_name(name: &str) -> Option<String> {
    let trimmed = name.trim();
    if is_placeholder(trimmed) {
        return None;
    }
    let mut out = String::with_capacity(trimmed.len());
    if trimmed.is_ascii() {
        // Nearly every name: byte by byte, rather than through `char::to_lowercase`'s
        // iterators (a scan normalises each of the ~90,000 entries it reads; this was 5% of
        // a 5,000-component scan). The same result: the ASCII characters `split_whitespace`
        // splits at, and ASCII lower case.
        let mut space = false;
        for b in trimmed.bytes() {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r') {
                space = true;
                continue;
            }
            if space {
                out.push('_');
                space = false;
            }
            out.push(char::from(b.to_ascii_lowercase()));
        }
        return Some(out);
    }
    for word in trimmed.split_whitespace() {
        if !out.is_empty() {
            out.push('_');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    Some(out)
}

/// A CVE JSON 5 `versions[]` entry: an exact version, or a range from `version` up to
/// `less_than`/`less_than_or_equal`, with `changes` that switch the status inside the range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AffectedVersion {
    pub version: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub less_than: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub less_than_or_equal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<VersionChange>,
}

impl AffectedVersion {
    pub fn is_range(&self) -> bool {
        self.less_than.is_some() || self.less_than_or_equal.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionChange {
    pub at: String,
    pub status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operator {
    And,
    #[default]
    Or,
}

/// An NVD configuration: nodes joined by `operator` (OR when absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NvdConfiguration {
    #[serde(default)]
    pub operator: Operator,
    #[serde(default)]
    pub negate: bool,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    #[serde(default)]
    pub operator: Operator,
    #[serde(default)]
    pub negate: bool,
    pub cpe_match: Vec<NvdCpeMatch>,
}

/// An NVD `cpeMatch`: a criterion and an optional version range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NvdCpeMatch {
    pub vulnerable: bool,
    pub criteria: Cpe,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_including: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_excluding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_including: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_excluding: Option<String>,
}

impl NvdCpeMatch {
    pub fn has_range(&self) -> bool {
        self.start_including.is_some()
            || self.start_excluding.is_some()
            || self.end_including.is_some()
            || self.end_excluding.is_some()
    }

    /// The range in words, e.g. `>= 12.3.0.0, < 12.3.0.2`; empty when there is none.
    pub fn range_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = &self.start_including {
            parts.push(format!(">= {v}"));
        }
        if let Some(v) = &self.start_excluding {
            parts.push(format!("> {v}"));
        }
        if let Some(v) = &self.end_including {
            parts.push(format!("<= {v}"));
        }
        if let Some(v) = &self.end_excluding {
            parts.push(format!("< {v}"));
        }
        parts.join(", ")
    }
}

/// SSVC decision-point values as CISA's Vulnrichment ADP publishes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Ssvc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploitation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technical_impact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// A CISA Known Exploited Vulnerabilities entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KevEntry {
    pub cve_id: String,
    pub date_added: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    /// `Known`, `Unknown`, or absent where the source does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ransomware: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// An EPSS score for one CVE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Epss {
    pub cve_id: String,
    pub score: f64,
    pub percentile: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_date: Option<NaiveDate>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_like_cpe_dictionary_entries() {
        assert_eq!(
            normalise_name("Endpoint Manager Mobile").as_deref(),
            Some("endpoint_manager_mobile")
        );
        assert_eq!(normalise_name("  Ivanti ").as_deref(), Some("ivanti"));
        assert_eq!(normalise_name("n/a"), None);
        assert_eq!(normalise_name(""), None);
    }

    /// The ASCII path gives what the general one (every character's Unicode lower case, words
    /// split at Unicode white space) gives.
    #[test]
    fn ascii_names_normalise_as_any_name_does() {
        let general = |name: &str| -> String {
            let mut out = String::new();
            for word in name.split_whitespace() {
                if !out.is_empty() {
                    out.push('_');
                }
                out.extend(word.chars().flat_map(char::to_lowercase));
            }
            out
        };
        let names = [
            "Endpoint Manager Mobile",
            "  Ivanti\t",
            "A\x0bB",
            "A\x0cB\rC\nD",
            "a \t\n b",
            "Node.js_Module-X/Y",
            "ALL CAPS 123",
            "x\x1fy",
            "~!@#$%^&*()[]{}",
        ];
        for name in names {
            assert!(name.is_ascii());
            assert_eq!(
                normalise_name(name).as_deref(),
                Some(general(name).as_str()),
                "{name:?}"
            );
        }
        // Every ASCII byte, alone and between letters.
        for b in 0u8..128 {
            let c = char::from(b);
            for name in [format!("A{c}b"), format!("{c}{c}Z")] {
                let expected = general(&name);
                let got = normalise_name(&name);
                if expected.is_empty() || expected == "-" {
                    assert_eq!(got, None, "{name:?}");
                } else {
                    assert_eq!(got.as_deref(), Some(expected.as_str()), "{name:?}");
                }
            }
        }
    }

    #[test]
    fn the_derived_product_is_the_derived_keys() {
        let entry = |vendor: Option<&str>, product: Option<&str>, package: Option<&str>| Affected {
            vendor: vendor.map(str::to_owned),
            product: product.map(str::to_owned),
            package_name: package.map(str::to_owned),
            cpes: Vec::new(),
            default_status: None,
            versions: Vec::new(),
        };
        for vendor in [None, Some("Ivanti"), Some(" n/A "), Some("-"), Some(" ")] {
            for product in [None, Some("Endpoint Manager Mobile"), Some("n/a")] {
                for package in [None, Some("epmm-server")] {
                    let a = entry(vendor, product, package);
                    assert_eq!(
                        a.derived_product(),
                        a.derived_key().map(|(_, p)| p),
                        "{a:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn normalised_eq_agrees_with_normalise_name() {
        for (raw, key) in [
            ("Endpoint Manager Mobile", "endpoint_manager_mobile"),
            ("  Ivanti ", "ivanti"),
            ("n/a", "n/a"),
            ("Endpoint  Manager", "endpoint_manager"),
            ("Endpoint Manager", "endpoint_manager_mobile"),
            ("ÉCOLE", "école"),
            ("Endpoint \t Manager", "endpoint_manager"),
            ("endpoint_manager", "endpoint_manager"),
            ("Endpoint", "endpoint_manager"),
            ("Endpoint Manager Mobile", "endpoint_manager"),
            ("EPMM", "epm"),
            ("A b", "a__b"),
            ("A\x0bB", "a_b"),
            ("\x0b Ivanti", "ivanti"),
            ("\u{a0}Ivanti", "ivanti"),
            ("  ", ""),
            ("Ivanti", "vanti"),
            ("-", "-"),
            ("N/A", "n/a"),
        ] {
            assert_eq!(
                normalised_eq(raw, key),
                normalise_name(raw).as_deref() == Some(key),
                "{raw} vs {key}"
            );
        }
    }

    #[test]
    fn source_keys_round_trip() {
        for s in [
            SourceId::Nvd,
            SourceId::Cna("ivanti".into()),
            SourceId::Adp("CISA-ADP".into()),
            SourceId::Csaf("https://www.redhat.com#RHSA-2024:1234".into()),
        ] {
            assert_eq!(SourceId::from_key(&s.key()), Some(s));
        }
        assert_eq!(SourceId::from_key("kev"), None);
    }
}
