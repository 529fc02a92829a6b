//! What every notification channel receives when an alert changes: one documented, versioned
//! JSON shape (`docs/events.schema.json`, generated from [`AlertEvent`] and checked in the
//! tests against real deliveries).

use schemars::JsonSchema;
use serde::Serialize;

/// The version of [`AlertEvent`]'s shape. A change that removes or retypes a field is a new
/// version; fields are only ever added within one.
pub const EVENT_VERSION: u32 = 1;

/// Every event an alert's change sends (`event`).
pub const EVENTS: &[(&str, &str)] = &[
    (
        "alert.raise",
        "a finding reached the policy's alert threshold: a new alert",
    ),
    (
        "alert.issue",
        "the central team issued the alert (or added its note to one)",
    ),
    (
        "alert.statement",
        "a central VEX statement speaks to the member's findings: the alert's note carries it (condition, mitigation, recommended deadline)",
    ),
    (
        "alert.reopen",
        "a closed alert is open again; `reason` says why",
    ),
    (
        "alert.affected",
        "a confirm-exposure alert is now backed by the member's findings",
    ),
    (
        "alert.evidence",
        "the findings behind an open alert changed (count or priority)",
    ),
    (
        "alert.acknowledge",
        "the member acknowledged it (or answered \"we run it\")",
    ),
    (
        "alert.remediate",
        "remediated: by an upload (`resolution: inventory`) or the member's word",
    ),
    (
        "alert.accept-risk",
        "the member accepted the risk until `accepted_until`",
    ),
    (
        "alert.not-affected",
        "the member declared it not affected (a VEX justification)",
    ),
    (
        "alert.withdraw",
        "the knowledge changed and no longer calls the member affected; `reason` says what changed",
    ),
    (
        "alert.escalate",
        "a deadline was missed; `missed` says which",
    ),
    (
        "alert.triage",
        "an incident was triaged (someone is looking at it)",
    ),
    ("alert.confirm", "an incident was confirmed as a compromise"),
    ("alert.contain", "a confirmed compromise was contained"),
    ("alert.close", "an incident was closed"),
    (
        "alert.false-positive",
        "an incident was found not to be an attack; `reason` says why",
    ),
];

/// A feed source fell behind (no success for twice its interval): the central team's
/// channels hear it, once until the source succeeds again.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(title = "Ward feed event")]
pub struct FeedEvent<'a> {
    /// The shape's version ([`EVENT_VERSION`]).
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// `feed.behind`.
    #[schemars(schema_with = "feed_event_names")]
    pub event: &'a str,
    pub at: &'a str,
    /// The source as `GET /api/v1/feeds` shows it (name, kind, last success, last error, lag).
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub source: &'a serde_json::Value,
    pub audit_seq: i64,
    pub audit_hash: &'a str,
}

fn feed_event_names(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": ["feed.behind"] })
}

/// `asset.exposure-contradicted`: an asset the member declared `small` or `controlled` was
/// seen answering from the internet. The member's and the central team's channels hear it,
/// once per asset.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(title = "Ward exposure event")]
pub struct ExposureEvent<'a> {
    /// The shape's version ([`EVENT_VERSION`]).
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// `asset.exposure-contradicted`.
    #[schemars(schema_with = "exposure_event_names")]
    pub event: &'a str,
    pub at: &'a str,
    /// The member (its slug).
    pub organisation: &'a str,
    /// The declared asset: its id and name.
    pub asset: i64,
    pub asset_name: &'a str,
    /// The exposure the member declared.
    pub declared: &'a str,
    /// What was seen, where and when.
    pub evidence: &'a str,
    pub audit_seq: i64,
    pub audit_hash: &'a str,
}

fn exposure_event_names(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": ["asset.exposure-contradicted"] })
}

/// Every notification body: an alert's change, a feed's, or an exposure contradiction.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(title = "Ward notification")]
pub enum Event<'a> {
    Alert(AlertEvent<'a>),
    Feed(FeedEvent<'a>),
    Exposure(ExposureEvent<'a>),
}

/// A notification: the alert as it now is and the audit chain's head after the change.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(title = "Ward alert event")]
pub struct AlertEvent<'a> {
    /// The shape's version ([`EVENT_VERSION`]).
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// What happened (see the list in `docs/server.md`).
    #[schemars(schema_with = "event_names")]
    pub event: &'a str,
    /// When, RFC 3339 UTC with milliseconds.
    pub at: &'a str,
    /// The alert as it now is (the API's alert object).
    #[schemars(with = "crate::AlertRow")]
    pub alert: &'a serde_json::Value,
    /// The audit chain's head after this change: a receiver that keeps it can tell a
    /// rewritten chain from the one it was sent.
    pub audit_seq: i64,
    pub audit_hash: &'a str,
    /// `alert.escalate`: which deadline was missed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "missed")]
    pub missed: Option<&'a str>,
    /// `alert.reopen`, `alert.remediate`, `alert.withdraw`: why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn event_names(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<&str> = EVENTS.iter().map(|(n, _)| *n).collect();
    schemars::json_schema!({ "type": "string", "enum": names })
}

fn missed(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": ["acknowledgement", "remediation", "triage", "containment"] })
}

/// The JSON Schema of every event (`docs/events.schema.json`).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Event<'static>)).expect("a schema serialises")
}

#[cfg(test)]
mod tests {
    /// `docs/events.schema.json` is the schema the code makes (regenerate with
    /// `WARD_UPDATE_DOCS=1 cargo test -p ward-store events`).
    #[test]
    fn the_documented_schema_is_the_one_events_are_made_by() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/events.schema.json");
        let made = serde_json::to_string_pretty(&super::schema()).unwrap() + "\n";
        if std::env::var_os("WARD_UPDATE_DOCS").is_some() {
            std::fs::write(path, &made).unwrap();
        }
        let documented = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            documented == made,
            "docs/events.schema.json is stale: WARD_UPDATE_DOCS=1 cargo test -p ward-store events"
        );
    }
}
