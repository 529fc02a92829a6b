//! VEX statements: what a supplier (or a member, or the central team) says about one
//! vulnerability in named products — not affected (with a justification), affected (with an
//! action), fixed, under investigation — and who said it, when, in which document. Read from
//! OpenVEX and CycloneDX VEX by `ward-feeds`, applied to findings by `ward-matching`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The VEX status vocabulary (OpenVEX's; CycloneDX's analysis states map onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAffected => "not_affected",
            Self::Affected => "affected",
            Self::Fixed => "fixed",
            Self::UnderInvestigation => "under_investigation",
        }
    }

    /// The statement clears a finding (not affected, or fixed in this product).
    pub fn clears(self) -> bool {
        matches!(self, Self::NotAffected | Self::Fixed)
    }
}

/// A product a statement names: its identifier as written and, where it is one, a purl or CPE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VexProduct {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpe: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VexStatement {
    /// The vulnerability's id (`CVE-2021-44228`) and its aliases.
    pub vulnerability: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub products: Vec<VexProduct>,
    /// The parts of the products the statement is about (OpenVEX `subcomponents`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcomponents: Vec<VexProduct>,
    pub status: VexStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<Utc>>,
    /// The document it came from (its file name, or its id).
    pub document: String,
}
