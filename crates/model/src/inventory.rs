//! What a member organisation runs: assets holding components.

use serde::{Deserialize, Serialize};

use crate::cpe::Cpe;

/// How exposed an asset is (SSVC System Exposure: small, controlled, open).
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
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    Small,
    Controlled,
    Open,
}

impl Exposure {
    /// The SSVC System Exposure value (`small`, `controlled`, `open`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Controlled => "controlled",
            Self::Open => "open",
        }
    }
}

impl std::str::FromStr for Exposure {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "small" => Ok(Self::Small),
            "controlled" => Ok(Self::Controlled),
            "open" => Ok(Self::Open),
            other => Err(format!(
                "exposure `{other}` is not one of small, controlled, open"
            )),
        }
    }
}

/// How much harm a compromise of the asset does (SSVC Human Impact: low … very-high).
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
pub enum Criticality {
    Low,
    Medium,
    High,
    VeryHigh,
}

impl Criticality {
    /// The SSVC Human Impact value (`low`, `medium`, `high`, `very-high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::VeryHigh => "very-high",
        }
    }
}

impl std::str::FromStr for Criticality {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "very-high" | "very high" | "very_high" => Ok(Self::VeryHigh),
            other => Err(format!(
                "criticality `{other}` is not one of low, medium, high, very-high"
            )),
        }
    }
}

/// A piece of software or hardware on an asset.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Component {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The component's own CPE, when the inventory names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpe: Option<Cpe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Where the component was described (`file.csv:12`, a CycloneDX bom-ref).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What was seen of it from outside, for a service observed on the internet ("answered at
    /// 203.0.113.10:443, observed 2025-05-16 by shadowserver"); `None` for declared components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// A system a member runs: a server, an appliance, an application.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Asset {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure: Option<Exposure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criticality: Option<Criticality>,
    pub components: Vec<Component>,
}

/// Assets read from one or more inventory files.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Inventory {
    pub assets: Vec<Asset>,
}

impl Inventory {
    pub fn component_count(&self) -> usize {
        self.assets.iter().map(|a| a.components.len()).sum()
    }
}
