//! What a member's hunt reports: a STIX 2.1 bundle of `sighting` objects, with `indicator`
//! objects naming what was sighted (a Sigma rule stands as an indicator with
//! `pattern_type: sigma`). `ward hunt --format stix` and `--report` write it; the server's
//! `POST /api/v1/sightings` reads it. One type, so the two cannot drift apart.
//!
//! Fields are optional on the way in: the server checks each one it needs and names the object
//! and field that is missing or wrong. Fields Ward does not know are kept (`extra`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A STIX 2.1 bundle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SightingsBundle {
    /// `bundle`.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub objects: Vec<StixObject>,
}

/// One object of the bundle: the fields of `indicator` and `sighting` objects Ward reads and
/// writes, and whatever else the object carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StixObject {
    /// `indicator`, `sighting`, or another STIX type (kept, not read).
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Indicators: the title of what was sighted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// Sightings: when, how often, and of what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sighting_of_ref: Option<String>,
    /// Ward's own: the rule's level, and where in the member's logs (never the line itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_ward_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_ward_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_ward_line: Option<u64>,
    /// The fields that matched, with the log's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_ward_matched: Option<Value>,
    /// Everything else the object carries.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SightingsBundle {
    pub const KIND: &'static str = "bundle";
}

impl StixObject {
    pub const INDICATOR: &'static str = "indicator";
    pub const SIGHTING: &'static str = "sighting";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_objects_survive_a_round_trip() {
        let text = r#"{"type":"bundle","objects":[
            {"type":"sighting","id":"sighting--1","sighting_of_ref":"indicator--1",
             "first_seen":"2025-05-15T21:20:05Z","last_seen":"2025-05-15T21:20:05Z","count":1,
             "where_sighted_refs":["identity--1"]},
            {"type":"identity","id":"identity--1","name":"Royal Example"}]}"#;
        let bundle: SightingsBundle = serde_json::from_str(text).unwrap();
        assert_eq!(bundle.objects.len(), 2);
        assert_eq!(
            bundle.objects[0].sighting_of_ref.as_deref(),
            Some("indicator--1")
        );
        assert_eq!(
            bundle.objects[0].extra["where_sighted_refs"],
            serde_json::json!(["identity--1"])
        );
        let again: Value = serde_json::to_value(&bundle).unwrap();
        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(again, original);
    }
}
