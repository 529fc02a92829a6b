//! A finding: one component of one asset is affected by one vulnerability, with the reasons.
//!
//! The JSON form of [`Finding`] is a documented contract (`docs/findings.md`); add fields
//! freely, never rename or remove one.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::advisory::Cvss;

/// How sure Ward is that the component is affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// The component's own CPE matched a precise criterion.
    Exact,
    /// The component had no CPE; Ward derived one from its vendor and name.
    Derived,
    /// The vulnerable software matched, but the configuration also needs a platform that the
    /// inventory does not describe: neither dropped nor asserted.
    PlatformUnknown,
    /// The package matched, but the only ranges that could place its version are OSV `GIT`
    /// ranges (commits), which cannot be evaluated without the repository's commit graph.
    GitRange,
    /// No entry of the record names this release: only the record's `defaultStatus` says it
    /// is affected.
    DefaultStatus,
    /// The record lists only fix releases (its default is affected); the release is below the
    /// fix listed for its branch, so the fix is inferred to be missing.
    InferredFix,
    /// Sources disagree and none settles it: a less precise source calls the release affected,
    /// the more precise leaves it between its ranges, and no source names it fixed. The member
    /// is asked to confirm.
    Disputed,
    /// The record's fix is not a release (a hot-fix package, a configuration): whether it is
    /// installed cannot be told from the version.
    FixUnverifiable,
}

impl Confidence {
    /// In words, for the table and the UI.
    pub fn words(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Derived => "derived CPE",
            Self::PlatformUnknown => "platform unknown",
            Self::GitRange => "git range (unverified)",
            Self::DefaultStatus => "record's default only",
            Self::InferredFix => "below the listed fix",
            Self::Disputed => "disputed: confirm",
            Self::FixUnverifiable => "fix not a version",
        }
    }
}

/// How urgently to act, in the SSVC deployer vocabulary (most urgent first).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    Immediate,
    OutOfCycle,
    Scheduled,
    Defer,
}

impl Priority {
    pub const ALL: [Self; 4] = [
        Self::Immediate,
        Self::OutOfCycle,
        Self::Scheduled,
        Self::Defer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Immediate => "immediate",
            Self::OutOfCycle => "out-of-cycle",
            Self::Scheduled => "scheduled",
            Self::Defer => "defer",
        }
    }

    /// True when `self` is at least as urgent as `threshold`.
    pub fn reaches(self, threshold: Self) -> bool {
        self <= threshold
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("priority `{s}` is not one of immediate, out-of-cycle, scheduled, defer")
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ComponentRef {
    pub name: String,
    pub version: Option<String>,
    pub cpe: Option<String>,
    pub purl: Option<String>,
    /// For a service observed from outside: what was seen, where and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingKev {
    pub date_added: Option<chrono::NaiveDate>,
    pub due_date: Option<chrono::NaiveDate>,
    /// `true` when CISA lists known ransomware use, `false` when it says unknown.
    pub ransomware: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingEpss {
    pub score: f64,
    pub percentile: f64,
}

/// What one source says about this component.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceVerdict {
    pub source: String,
    /// `affected`, `unaffected` or `unknown`.
    pub status: crate::advisory::Status,
    /// `range`, `exact`, `all-versions` or `default-status`: how precisely the source decided.
    pub basis: String,
    /// The criterion that decided (a CPE, or `vendor/product` of a CVE 5 `affected` entry).
    pub criterion: String,
    /// The range or version that decided, e.g. `>= 12.3.0.0, < 12.3.0.2`.
    pub range: String,
}

/// Why Ward reports this finding, and why at this priority.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Explanation {
    /// The source whose verdict was used.
    pub source: String,
    pub criterion: String,
    pub range: String,
    /// Every source's verdict, the chosen one first.
    pub sources: Vec<SourceVerdict>,
    /// Sentences naming each disagreement between sources, and how it was settled.
    pub disagreements: Vec<String>,
    /// Why this priority.
    pub priority: String,
    /// Inputs Ward had to assume (e.g. an unknown platform).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Each decision point the policy used, with its value and where the value came from.
    #[serde(default)]
    pub decision_points: Vec<DecisionPointValue>,
}

/// One SSVC decision point's value in a finding's prioritisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DecisionPointValue {
    /// `exploitation`, `system_exposure`, `automatable`, `human_impact`, `in_kev`, …
    pub name: String,
    pub value: String,
    /// Where the value came from (`CISA KEV`, `adp:CISA-ADP SSVC`, `inventory`), or
    /// `assumed (policy default)` when the input was unknown.
    pub source: String,
}

/// When to act by, from the policy. `null` where the policy sets no deadline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    pub acknowledge_by: Option<chrono::DateTime<chrono::Utc>>,
    pub remediate_by: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a [`Prioritiser`] decides for one finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub priority: Priority,
    /// Why, in a sentence.
    pub reason: String,
    pub deadlines: Deadlines,
    pub decision_points: Vec<DecisionPointValue>,
    /// Extra notes for the explanation (e.g. a forensic investigation is due).
    pub notes: Vec<String>,
    /// The finding's CVSS scores as the prioritiser trusts them (checked against their vectors).
    pub cvss: Vec<crate::advisory::Cvss>,
}

/// Whether a finding is a vulnerability or an informational notice (RustSec `unmaintained`,
/// `unsound`, `notice`): notices are reported apart, outside the priority order and the exit
/// code.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    #[default]
    Vulnerability,
    Informational,
}

/// A qualitative severity, as CVSS v3/v4 name ranges of base scores (v2 has no `critical`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum SeverityLevel {
    Critical,
    High,
    Medium,
    Low,
    None,
    #[default]
    Unknown,
}

impl SeverityLevel {
    pub const ALL: [Self; 6] = [
        Self::Critical,
        Self::High,
        Self::Medium,
        Self::Low,
        Self::None,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::None => "none",
            Self::Unknown => "unknown",
        }
    }

    /// An advisory's own word (`CRITICAL`, `HIGH`, GitHub's `MODERATE`, `LOW`); `None` when
    /// it is not one.
    pub fn from_word(word: &str) -> Option<Self> {
        match word.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Self::Critical),
            "high" | "important" => Some(Self::High),
            "medium" | "moderate" => Some(Self::Medium),
            "low" => Some(Self::Low),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

impl std::fmt::Display for SeverityLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How severe a vulnerability is, and who said so: the CVSS base score of the preferred
/// source, else the advisory's own rating.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    pub level: SeverityLevel,
    /// The source (`cna:ivanti`, `nvd`, `osv:GHSA-…`); `null` when nothing rates it.
    pub source: Option<String>,
    /// The CVSS base score behind the level, when it came from CVSS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// `CVSS 3.1`, `CVSS 4.0`, … or `advisory` (the record's own rating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

/// A scan's findings share their component, explanation, CVSS, title, severity and SSVC values
/// (`Arc`): at 50,000 components a scan's 88,152 findings had 14,186 distinct components,
/// 18,309 distinct explanations and 15,711 vulnerabilities, and each copy of an explanation
/// was some 1.3 KB of a finding's 2 KB. Their JSON is the same; a change to one finding's part
/// (`Arc::make_mut`) copies it first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub vulnerability: String,
    pub aliases: Vec<String>,
    pub component: Arc<ComponentRef>,
    pub asset: String,
    pub confidence: Confidence,
    pub kev: Option<FindingKev>,
    pub epss: Option<FindingEpss>,
    pub cvss: Arc<[Cvss]>,
    pub fixed_versions: Vec<String>,
    pub priority: Priority,
    pub explanation: Arc<Explanation>,
    pub title: Option<Arc<str>>,
    /// From the policy: when to acknowledge and remediate by.
    #[serde(default)]
    pub deadlines: Deadlines,
    /// CISA's SSVC decision-point values for the vulnerability (Vulnrichment), if published.
    #[serde(default)]
    pub ssvc: Option<Arc<crate::advisory::Ssvc>>,
    /// When the vulnerability was first published by any source.
    #[serde(default)]
    pub published: Option<chrono::DateTime<chrono::Utc>>,
    /// `vulnerability`, or `informational` for a notice that is not one (RustSec unmaintained,
    /// unsound, notice).
    #[serde(default)]
    pub kind: FindingKind,
    /// For an informational finding: the advisory's category (`unmaintained`, `unsound`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub informational: Option<String>,
    /// Severity beside priority: from the preferred source's CVSS, else the advisory's rating.
    #[serde(default)]
    pub severity: Arc<Severity>,
}

/// The seam between matching and prioritisation: given a finding whose facts are filled in
/// (KEV, EPSS, CVSS, SSVC, confidence) and the asset it sits on, decide its priority and
/// deadlines and say why.
pub trait Prioritiser {
    fn prioritise(&self, finding: &Finding, asset: &crate::inventory::Asset) -> Assessment;
}
