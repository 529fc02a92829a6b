//! Findings stored in parts (#22). The vulnerability's facts (title, scores, SSVC, KEV, EPSS)
//! and the explanation are the same for every component at the same version on assets alike,
//! and are kept once in `finding_detail`, keyed by a SHA-256 of their text (`finding.detail`).
//! On a generated federation of 20 members (175,428 findings) a finding's row text went from
//! 1,642 bytes to 275, beside 59,193 shared details (80 MB), and the database from 647 to
//! 454 MB; the API's JSON is unchanged.
//!
//! Since 0028 the row keeps nothing else it could share or find elsewhere: the component (the
//! same on each of its findings) is kept in `finding_detail` too, under its own key
//! (`finding.component_detail`), the deadlines are the row's columns (`acknowledge_by`,
//! `remediate_by`, to the millisecond) and the asset's name is the asset's; `payload` is `{}`.
//! At 200 members × 5,000 components a row went from 527 bytes to 292, the database from
//! 1.89 GB to 1.47 GB.
//!
//! Sharing is by content alone: a detail or component is read only through a finding that
//! refers to it, and says exactly what that finding said, so no organisation reads anything
//! of another's.
//!
//! Rows written before migration 0028 keep their asset, component and deadlines in
//! `payload`, and rows written before 0024 the whole finding and no `detail`; they are read as
//! they are and rewritten slim when next matched.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;
use ward_model::Finding;

use crate::{Result, Store};

/// A decision point's source that names the finding's own asset (`inventory: asset `mdm-01``,
/// as the policy writes it) is kept in the detail as this, and named again when read: so that
/// the detail is shared by assets alike. The policy never writes it bare.
const OWN_ASSET: &str = "inventory: asset";

/// How the policy names the asset a decision point's value came from.
fn asset_source(asset: &str) -> String {
    format!("{OWN_ASSET} `{asset}`")
}

/// A finding as stored: its own part, the shared detail and component with their keys, and
/// its deadlines as the columns hold them.
pub(crate) struct Parts {
    /// The finding's own fields not kept elsewhere, as a JSON object: none (`{}`); its asset
    /// is the row's, its deadlines are columns.
    pub payload: String,
    /// The key of `body`: the first 128 bits of its SHA-256, in hex.
    pub hash: String,
    /// The vulnerability's facts and the explanation, as a JSON object.
    pub body: String,
    /// The key of `component_body`, as `hash` is of `body`.
    pub component_hash: String,
    /// `{"component": …}`: the component, as a JSON object of one field.
    pub component_body: String,
    /// The deadlines, to the millisecond, as the columns keep them.
    pub acknowledge_by: Option<String>,
    pub remediate_by: Option<String>,
}

/// A deadline as the columns keep it (and compare it, as text): to the millisecond, in UTC.
pub(crate) fn column_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn key(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

/// Splits a finding into its own part, the shared detail and the component.
pub(crate) fn split(finding: &Finding) -> Parts {
    let named = asset_source(&finding.asset);
    let fields =
        crate::canonical::finding_fields(finding, &named, OWN_ASSET).expect("a finding serialises");
    let (mut body, mut component_body) = (Vec::with_capacity(2048), Vec::new());
    crate::canonical::write_object(
        &mut body,
        fields
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), "asset" | "component" | "deadlines"))
            .map(|(key, value)| (key.as_str(), value.as_slice())),
    );
    crate::canonical::write_object(
        &mut component_body,
        fields
            .iter()
            .filter(|(key, _)| key == "component")
            .map(|(key, value)| (key.as_str(), value.as_slice())),
    );
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("serde_json writes UTF-8");
    let (body, component_body) = (text(body), text(component_body));
    Parts {
        payload: "{}".to_owned(),
        hash: key(&body),
        body,
        component_hash: key(&component_body),
        component_body,
        acknowledge_by: finding.deadlines.acknowledge_by.map(column_time),
        remediate_by: finding.deadlines.remediate_by.map(column_time),
    }
}

/// [`split`] as it was written first, through a `Value`: the texts `split` must give.
#[cfg(test)]
fn split_through_value(finding: &Finding) -> (String, String) {
    let Value::Object(mut all) = serde_json::to_value(finding).expect("a finding serialises")
    else {
        unreachable!("a finding serialises to an object")
    };
    let named = asset_source(&finding.asset);
    if let Some(points) = all
        .get_mut("explanation")
        .and_then(|e| e.get_mut("decision_points"))
        .and_then(Value::as_array_mut)
    {
        for source in points.iter_mut().filter_map(|p| p.get_mut("source")) {
            if source.as_str() == Some(named.as_str()) {
                *source = Value::String(OWN_ASSET.to_owned());
            }
        }
    }
    all.remove("asset");
    let mut component = serde_json::Map::new();
    if let Some(v) = all.remove("component") {
        component.insert("component".to_owned(), v);
    }
    all.remove("deadlines");
    (
        Value::Object(all).to_string(),
        Value::Object(component).to_string(),
    )
}

/// What a finding's row and its joins hold: `payload`, the detail's body, the component's
/// body, the deadline columns and the asset's name. Rows written before 0024 have only a
/// payload (the whole finding); rows written before 0028 no component body (their payload
/// holds the asset's name, the component and the deadlines).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stored<'a> {
    pub payload: &'a str,
    pub body: Option<&'a str>,
    pub component: Option<&'a str>,
    pub acknowledge_by: Option<&'a str>,
    pub remediate_by: Option<&'a str>,
    /// The name of the finding's asset (`asset.name`).
    pub asset: Option<&'a str>,
}

impl<'a> Stored<'a> {
    /// From a row that selected `payload`, `detail_body`, `component_body`, `acknowledge_by`,
    /// `remediate_by` and the asset's name as `asset`.
    pub(crate) fn of_row(r: &'a sqlx::any::AnyRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            payload: r.try_get("payload")?,
            body: r.try_get("detail_body")?,
            component: r.try_get("component_body")?,
            acknowledge_by: r.try_get("acknowledge_by")?,
            remediate_by: r.try_get("remediate_by")?,
            asset: r.try_get("asset")?,
        })
    }

    /// The parts as one JSON object's text (without the deadlines of a slim row).
    fn joined(&self) -> std::result::Result<std::borrow::Cow<'a, str>, String> {
        let Some(body) = self.body else {
            return Ok(std::borrow::Cow::Borrowed(self.payload));
        };
        let Some(component) = self.component else {
            return Ok(std::borrow::Cow::Owned(join_objects(body, self.payload)?));
        };
        let asset = self.asset.ok_or("the finding's asset has no name")?;
        let own = serde_json::json!({ "asset": asset }).to_string();
        Ok(std::borrow::Cow::Owned(join_objects(
            &join_objects(body, component)?,
            &own,
        )?))
    }

    /// A slim row's deadlines, from its columns (`None`: the payload has them).
    fn deadlines(&self) -> std::result::Result<Option<ward_model::Deadlines>, String> {
        if self.body.is_none() || self.component.is_none() {
            return Ok(None);
        }
        let time = |t: Option<&str>| {
            t.map(|t| {
                chrono::DateTime::parse_from_rfc3339(t)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|e| format!("deadline {t:?}: {e}"))
            })
            .transpose()
        };
        Ok(Some(ward_model::Deadlines {
            acknowledge_by: time(self.acknowledge_by)?,
            remediate_by: time(self.remediate_by)?,
        }))
    }
}

/// A finding read back from its stored parts.
///
/// The parts are JSON objects with no key in common, joined as text and read once: no
/// intermediate `serde_json::Value` of any.
pub(crate) fn merge(stored: &Stored<'_>) -> std::result::Result<Finding, String> {
    let mut finding: Finding =
        serde_json::from_str(&stored.joined()?).map_err(|e| e.to_string())?;
    if stored.body.is_none() {
        return Ok(finding);
    }
    if let Some(deadlines) = stored.deadlines()? {
        finding.deadlines = deadlines;
    }
    name_own_asset(&mut finding);
    Ok(finding)
}

/// As [`merge`], as JSON (the API's finding, kept as the store read it).
pub(crate) fn merge_value(stored: &Stored<'_>) -> std::result::Result<Value, String> {
    let mut finding: Value = serde_json::from_str(&stored.joined()?).map_err(|e| e.to_string())?;
    if stored.body.is_none() {
        return Ok(finding);
    }
    if let Some(deadlines) = stored.deadlines()? {
        finding["deadlines"] = serde_json::to_value(deadlines).map_err(|e| e.to_string())?;
    }
    let named = Value::String(asset_source(finding["asset"].as_str().unwrap_or_default()));
    if let Some(points) = finding
        .get_mut("explanation")
        .and_then(|e| e.get_mut("decision_points"))
        .and_then(Value::as_array_mut)
    {
        for source in points.iter_mut().filter_map(|p| p.get_mut("source")) {
            if source.as_str() == Some(OWN_ASSET) {
                *source = named.clone();
            }
        }
    }
    Ok(finding)
}

fn name_own_asset(finding: &mut Finding) {
    if !finding
        .explanation
        .decision_points
        .iter()
        .any(|p| p.source == OWN_ASSET)
    {
        return;
    }
    let source = asset_source(&finding.asset);
    for point in &mut std::sync::Arc::make_mut(&mut finding.explanation).decision_points {
        if point.source == OWN_ASSET {
            point.source = source.clone();
        }
    }
}

/// `{"a":1}` and `{"b":2}` as `{"a":1,"b":2}`.
fn join_objects(a: &str, b: &str) -> std::result::Result<String, String> {
    let inner = |s: &str| -> std::result::Result<String, String> {
        let t = s.trim();
        t.strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .map(|t| t.trim().to_owned())
            .ok_or_else(|| "not a JSON object".to_owned())
    };
    let (a, b) = (inner(a)?, inner(b)?);
    Ok(match (a.is_empty(), b.is_empty()) {
        (true, _) => format!("{{{b}}}"),
        (_, true) => format!("{{{a}}}"),
        _ => format!("{{{a},{b}}}"),
    })
}

/// Stores these details (key, body) unless already kept, many per statement.
pub(crate) async fn store_details(
    conn: &mut sqlx::AnyConnection,
    details: &[(&str, &str)],
) -> Result<()> {
    // Two parameters a row: well under either backend's limit per statement.
    for chunk in details.chunks(1000) {
        let mut q = crate::sql::Sql::new(
            crate::Backend::of(conn),
            "INSERT INTO finding_detail (hash, body) ",
        );
        q.push_values(chunk, |mut b, (hash, body)| {
            b.push_bind(*hash).push_bind(*body);
        });
        q.push(" ON CONFLICT (hash) DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

impl Store {
    /// Deletes the details and components no finding refers to any more (a finding
    /// re-matched with a new explanation leaves its old one behind; a deleted asset its
    /// findings'). Run as a change, so that no write that refers to one commits between the
    /// look and the delete. Returns how many were deleted.
    pub async fn collect_finding_details(&self) -> Result<u64> {
        let mut change = self.begin_change("ward:maintenance").await?;
        // Each backend's anti-join: SQLite builds a temporary index of the subquery's keys for
        // `NOT IN`; PostgreSQL plans `NOT EXISTS` as a hash anti-join, which spills to disk
        // when large, where a `NOT IN` larger than `work_mem` would be asked row by row.
        let statement = match self.backend {
            crate::Backend::Sqlite => {
                "DELETE FROM finding_detail WHERE hash NOT IN
                     (SELECT detail FROM finding WHERE detail IS NOT NULL
                      UNION ALL
                      SELECT component_detail FROM finding WHERE component_detail IS NOT NULL)"
            }
            crate::Backend::Postgres => {
                "DELETE FROM finding_detail d
                  WHERE NOT EXISTS (SELECT 1 FROM finding f WHERE f.detail = d.hash)
                    AND NOT EXISTS (SELECT 1 FROM finding f WHERE f.component_detail = d.hash)"
            }
        };
        let deleted = sqlx::query(statement)
            .execute(&mut *change.tx)
            .await?
            .rows_affected();
        change.commit().await?;
        Ok(deleted)
    }

    /// How many details are kept, and their text's bytes (for benchmarks and `ward db status`).
    pub async fn finding_detail_size(&self) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(LENGTH(body)), 0) AS BIGINT) AS bytes FROM finding_detail",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((r.get("n"), r.get("bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A finding as `ward serve` stored it on a generated federation (before 0024).
    const STORED: &str = r#"{"vulnerability":"CVE-2024-45711","aliases":[],"component":{"name":"serv-u","version":"3.0.0","cpe":"cpe:2.3:a:solarwinds:serv-u:3.0.0:*:*:*:*:*:*:*","purl":null},"asset":"asset-079","confidence":"exact","kev":null,"epss":null,"cvss":[{"version":"3.1","vector":"CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H","base_score":7.5,"source":"SolarWinds"}],"fixed_versions":["15.5"],"priority":"scheduled","explanation":{"source":"adp:CISA-ADP","criterion":"solarwinds / serv-u","range":"< 15.5","sources":[{"source":"adp:CISA-ADP","status":"affected","basis":"range","criterion":"solarwinds / serv-u","range":"< 15.5"}],"disagreements":[],"priority":"SSVC deployer decision scheduled (exploitation none, system_exposure open, automatable no, human_impact high); policy ssvc-deployer","notes":[],"decision_points":[{"name":"exploitation","value":"none","source":"CISA SSVC (Vulnrichment)"},{"name":"system_exposure","value":"open","source":"inventory: asset `asset-079`"},{"name":"human_impact","value":"high","source":"inventory: asset `asset-079`"}]},"title":"SolarWinds Serv-U FTP Service Directory Traversal Remote Code Execution Vulnerability","deadlines":{"acknowledge_by":"2026-12-13T04:13:50.373Z","remediate_by":"2027-02-04T04:13:50.373Z"},"ssvc":{"exploitation":"none","automatable":"no","technical_impact":"total","role":"CISA Coordinator","timestamp":"2024-10-16T13:10:34.374690Z"},"published":"2024-10-16T07:27:22.001Z","kind":"vulnerability","severity":{"level":"high","source":"cna:SolarWinds","score":7.5,"basis":"CVSS 3.1"}}"#;

    /// The parts as a row and its joins hold them.
    fn stored(parts: &Parts) -> Stored<'_> {
        Stored {
            payload: &parts.payload,
            body: Some(&parts.body),
            component: Some(&parts.component_body),
            acknowledge_by: parts.acknowledge_by.as_deref(),
            remediate_by: parts.remediate_by.as_deref(),
            asset: Some("asset-079"),
        }
    }

    /// Both readers give back the finding: as a `Finding` and as the API's JSON.
    fn reads_back(stored: &Stored<'_>, finding: &Finding) {
        assert_eq!(&merge(stored).unwrap(), finding);
        assert_eq!(
            merge_value(stored).unwrap(),
            serde_json::to_value(finding).unwrap()
        );
    }

    #[test]
    fn split_writes_the_text_a_value_of_the_finding_gives() {
        let plain: Finding = serde_json::from_str(STORED).unwrap();
        let mut full = plain.clone();
        full.kev = Some(ward_model::FindingKev {
            date_added: chrono::NaiveDate::from_ymd_opt(2025, 5, 19),
            due_date: chrono::NaiveDate::from_ymd_opt(2025, 6, 9),
            ransomware: true,
        });
        full.epss = Some(ward_model::FindingEpss {
            score: 0.943_21,
            percentile: 0.999,
        });
        full.title = Some("Quotes \" and \\ and \u{7} and é and 😀 </script>".into());
        full.aliases = vec!["GHSA-xxxx".into(), "".into()];
        full.informational = Some("unmaintained".into());
        Arc::make_mut(&mut full.explanation).notes = vec!["a note\nover two lines".into()];
        // A source naming another asset stays as it is; the finding's own becomes the placeholder.
        Arc::make_mut(&mut full.explanation)
            .decision_points
            .push(ward_model::DecisionPointValue {
                name: "mission_impact".into(),
                value: "high".into(),
                source: "inventory: asset `asset-080`".into(),
            });
        let mut renamed = plain.clone();
        renamed.asset = "mdm-01 `odd` name".into();
        for point in &mut Arc::make_mut(&mut renamed.explanation).decision_points {
            point.source = asset_source(&renamed.asset);
        }
        let mut no_points = plain.clone();
        Arc::make_mut(&mut no_points.explanation)
            .decision_points
            .clear();
        no_points.cvss = Arc::new([]);
        Arc::make_mut(&mut no_points.severity).score = Some(1e300);
        Arc::make_mut(&mut no_points.severity).source = None;
        for finding in [&plain, &full, &renamed, &no_points] {
            let parts = split(finding);
            let (body, component) = split_through_value(finding);
            assert_eq!(parts.body, body);
            assert_eq!(parts.component_body, component);
            assert!(!parts.body.contains(&asset_source(&finding.asset)));
        }
        assert!(split(&full).body.contains("asset-080"));
    }

    #[test]
    fn a_finding_reads_back_as_it_was_split() {
        let finding: Finding = serde_json::from_str(STORED).unwrap();
        let parts = split(&finding);
        assert!(!parts.body.contains("asset-079"), "{}", parts.body);
        // The row keeps nothing of its own in its payload: the asset is the row's, the
        // component and deadlines are kept apart.
        assert_eq!(parts.payload, "{}");
        assert!(
            parts
                .component_body
                .contains("cpe:2.3:a:solarwinds:serv-u:3.0.0")
        );
        assert!(!parts.body.contains("serv-u:3.0.0") && !parts.body.contains("deadlines"));
        assert_eq!(
            parts.acknowledge_by.as_deref(),
            Some("2026-12-13T04:13:50.373Z")
        );
        assert_eq!(
            parts.remediate_by.as_deref(),
            Some("2027-02-04T04:13:50.373Z")
        );
        reads_back(&stored(&parts), &finding);
        // A row from before 0024: the whole finding in its payload.
        let whole = Stored {
            payload: STORED,
            body: None,
            component: None,
            acknowledge_by: None,
            remediate_by: Some("2027-02-04T04:13:50.373Z"),
            asset: Some("another name"),
        };
        assert_eq!(merge(&whole).unwrap(), finding);
        // A row from before 0028: component and deadlines in its payload, no component key
        // (the acknowledge_by column is empty, and not read).
        let mut value = serde_json::to_value(&finding).unwrap();
        let own = serde_json::json!({
            "asset": value["asset"].take(),
            "component": value["component"].take(),
            "deadlines": value["deadlines"].take(),
        })
        .to_string();
        let before = Stored {
            payload: &own,
            component: None,
            acknowledge_by: None,
            asset: Some("another name"),
            ..stored(&parts)
        };
        reads_back(&before, &finding);
        // No deadline: none read back.
        let mut open = finding.clone();
        open.deadlines = ward_model::Deadlines::default();
        let parts = split(&open);
        assert_eq!(
            (
                parts.acknowledge_by.as_deref(),
                parts.remediate_by.as_deref()
            ),
            (None, None)
        );
        assert_eq!(merge(&stored(&parts)).unwrap(), open);
    }

    #[test]
    fn components_alike_share_a_key() {
        let a: Finding = serde_json::from_str(STORED).unwrap();
        let mut b = a.clone();
        b.asset = "another".into();
        b.vulnerability = "CVE-2024-0001".into();
        assert_eq!(split(&a).component_hash, split(&b).component_hash);
        Arc::make_mut(&mut b.component).purl = Some("pkg:generic/solarwinds/serv-u@3.0.0".into());
        assert_ne!(split(&a).component_hash, split(&b).component_hash);
        // A component's key is never a detail's: their texts differ in shape.
        assert_ne!(split(&a).component_hash, split(&a).hash);
    }

    #[test]
    fn assets_alike_share_a_detail() {
        let a: Finding = serde_json::from_str(STORED).unwrap();
        // Another asset, with a name that needs escaping in JSON.
        let mut b = a.clone();
        b.asset = "mdm `01`\"\\".into();
        for point in &mut Arc::make_mut(&mut b.explanation).decision_points {
            if point.source == "inventory: asset `asset-079`" {
                point.source = format!("inventory: asset `{}`", b.asset);
            }
        }
        let (pa, pb) = (split(&a), split(&b));
        assert_eq!(pa.hash, pb.hash);
        assert_eq!(pa.body, pb.body);
        let shared = Stored {
            body: Some(&pa.body),
            asset: Some(&b.asset),
            ..stored(&pb)
        };
        reads_back(&shared, &b);
        // Another version of the component is the same detail; another priority is not.
        let mut c = a.clone();
        Arc::make_mut(&mut c.component).version = Some("3.0.1".into());
        assert_eq!(split(&c).hash, pa.hash);
        c.priority = ward_model::Priority::ALL[0];
        assert_ne!(split(&c).hash, pa.hash);
    }

    #[test]
    fn prepared_findings_give_alert_sync_the_facts_it_would_read() {
        use crate::alerts::sync::{DetailFacts, FactsCache};
        let finding: Finding = serde_json::from_str(STORED).unwrap();
        let mut notice = finding.clone();
        notice.vulnerability = "RUSTSEC-2024-0001".into();
        notice.kind = ward_model::FindingKind::Informational;
        let cache = FactsCache::default();
        // The same (vulnerability, component) twice is one row: the last one.
        let prepared =
            crate::rematch::prepare(&[finding.clone(), finding.clone(), notice.clone()], &cache);
        assert_eq!(prepared.len(), 2);
        // What prepare put in is what alert sync reads from the stored text when it has not
        // seen the detail (another process, a restart).
        let parts = split(&finding);
        let facts = cache
            .get(&parts.hash)
            .expect("prepare keeps the detail's facts");
        assert_eq!(*facts, DetailFacts::of_body(&parts.body));
        assert_eq!(
            facts.title.as_deref(),
            Some(
                "SolarWinds Serv-U FTP Service Directory Traversal Remote Code Execution Vulnerability"
            )
        );
        assert_eq!(facts.severity.as_deref(), Some("high"));
        assert!(!facts.informational);
        assert!(cache.get(&split(&notice).hash).unwrap().informational);
        // A detail that does not read has no facts, rather than failing the sync.
        assert_eq!(DetailFacts::of_body("not json").title, None);
    }

    #[test]
    fn objects_join_as_text() {
        assert_eq!(
            join_objects(r#"{"a":1}"#, r#"{"b":2}"#).unwrap(),
            r#"{"a":1,"b":2}"#
        );
        assert_eq!(join_objects("{}", r#"{"b":2}"#).unwrap(), r#"{"b":2}"#);
        assert_eq!(join_objects(r#"{"a":1}"#, " { } ").unwrap(), r#"{"a":1}"#);
        assert!(join_objects("[1]", "{}").is_err());
    }
}
