//! Findings stored in two parts (#22). What is a finding's own — the asset, the component, the
//! deadlines — stays in its row (`finding.payload`); the rest — the vulnerability's facts (title,
//! scores, SSVC, KEV, EPSS) and the explanation — is the same for every component at the same
//! version on assets alike, and is kept once in `finding_detail`, keyed by a SHA-256 of its text
//! (`finding.detail`). On a generated federation of 20 members (175,428 findings) a finding's
//! row text went from 1,642 bytes to 275, beside 59,193 shared details (80 MB), and the
//! database from 647 to 454 MB; the API's JSON is unchanged.
//!
//! Sharing is by content alone: a detail is read only through a finding that refers to it, and
//! says exactly what that finding said, so no organisation reads anything of another's.
//!
//! Rows written before migration 0024 keep the whole finding in `payload` and no `detail`; they
//! are read as they are and rewritten in two parts when next matched.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;
use ward_model::Finding;

use crate::{Result, Store};

/// The finding's own fields, kept in its row.
const OWN: [&str; 3] = ["asset", "component", "deadlines"];

/// A decision point's source that names the finding's own asset (`inventory: asset `mdm-01``,
/// as the policy writes it) is kept in the detail as this, and named again when read: so that
/// the detail is shared by assets alike. The policy never writes it bare.
const OWN_ASSET: &str = "inventory: asset";

/// How the policy names the asset a decision point's value came from.
fn asset_source(asset: &str) -> String {
    format!("{OWN_ASSET} `{asset}`")
}

/// A finding as stored: its own part, and the shared detail with its key.
pub(crate) struct Parts {
    /// The finding's own fields, as a JSON object.
    pub payload: String,
    /// The key of `body`: the first 128 bits of its SHA-256, in hex.
    pub hash: String,
    /// Every other field, as a JSON object.
    pub body: String,
}

/// Splits a finding into its own part and the shared detail.
pub(crate) fn split(finding: &Finding) -> Parts {
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
    let mut own = serde_json::Map::new();
    for key in OWN {
        if let Some(v) = all.remove(key) {
            own.insert(key.to_owned(), v);
        }
    }
    let body = Value::Object(all).to_string();
    let hash = hex::encode(&Sha256::digest(body.as_bytes())[..16]);
    Parts {
        payload: Value::Object(own).to_string(),
        hash,
        body,
    }
}

/// A finding read back from its row's `payload` and its detail's `body` (`None`: a row written
/// before details were kept apart, whose payload is the whole finding).
///
/// The two parts are JSON objects with no key in common, joined as text and read once: no
/// intermediate `serde_json::Value` of either.
pub(crate) fn merge(payload: &str, body: Option<&str>) -> std::result::Result<Finding, String> {
    let whole = match body {
        None => return serde_json::from_str(payload).map_err(|e| e.to_string()),
        Some(body) => join_objects(body, payload)?,
    };
    let mut finding: Finding = serde_json::from_str(&whole).map_err(|e| e.to_string())?;
    name_own_asset(&mut finding);
    Ok(finding)
}

/// As [`merge`], as JSON (the API's finding, kept as the store read it).
pub(crate) fn merge_value(payload: &str, body: Option<&str>) -> std::result::Result<Value, String> {
    let Some(body) = body else {
        return serde_json::from_str(payload).map_err(|e| e.to_string());
    };
    let mut finding: Value =
        serde_json::from_str(&join_objects(body, payload)?).map_err(|e| e.to_string())?;
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
    for point in &mut finding.explanation.decision_points {
        if point.source == OWN_ASSET {
            point.source = asset_source(&finding.asset);
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
    /// Deletes the details no finding refers to any more (a finding re-matched with a new
    /// explanation leaves its old one behind; a deleted asset its findings'). Run as a change,
    /// so that no write that refers to a detail commits between the look and the delete.
    /// Returns how many were deleted.
    pub async fn collect_finding_details(&self) -> Result<u64> {
        let mut change = self.begin_change("ward:maintenance").await?;
        // Each backend's anti-join: SQLite builds a temporary index of the subquery's keys for
        // `NOT IN`; PostgreSQL plans `NOT EXISTS` as a hash anti-join, which spills to disk
        // when large, where a `NOT IN` larger than `work_mem` would be asked row by row.
        let statement = match self.backend {
            crate::Backend::Sqlite => {
                "DELETE FROM finding_detail WHERE hash NOT IN
                     (SELECT detail FROM finding WHERE detail IS NOT NULL)"
            }
            crate::Backend::Postgres => {
                "DELETE FROM finding_detail d
                  WHERE NOT EXISTS (SELECT 1 FROM finding f WHERE f.detail = d.hash)"
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

    /// A finding as `ward serve` stored it on a generated federation (before 0024).
    const STORED: &str = r#"{"vulnerability":"CVE-2024-45711","aliases":[],"component":{"name":"serv-u","version":"3.0.0","cpe":"cpe:2.3:a:solarwinds:serv-u:3.0.0:*:*:*:*:*:*:*","purl":null},"asset":"asset-079","confidence":"exact","kev":null,"epss":null,"cvss":[{"version":"3.1","vector":"CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H","base_score":7.5,"source":"SolarWinds"}],"fixed_versions":["15.5"],"priority":"scheduled","explanation":{"source":"adp:CISA-ADP","criterion":"solarwinds / serv-u","range":"< 15.5","sources":[{"source":"adp:CISA-ADP","status":"affected","basis":"range","criterion":"solarwinds / serv-u","range":"< 15.5"}],"disagreements":[],"priority":"SSVC deployer decision scheduled (exploitation none, system_exposure open, automatable no, human_impact high); policy ssvc-deployer","notes":[],"decision_points":[{"name":"exploitation","value":"none","source":"CISA SSVC (Vulnrichment)"},{"name":"system_exposure","value":"open","source":"inventory: asset `asset-079`"},{"name":"human_impact","value":"high","source":"inventory: asset `asset-079`"}]},"title":"SolarWinds Serv-U FTP Service Directory Traversal Remote Code Execution Vulnerability","deadlines":{"acknowledge_by":"2026-12-13T04:13:50.373Z","remediate_by":"2027-02-04T04:13:50.373Z"},"ssvc":{"exploitation":"none","automatable":"no","technical_impact":"total","role":"CISA Coordinator","timestamp":"2024-10-16T13:10:34.374690Z"},"published":"2024-10-16T07:27:22.001Z","kind":"vulnerability","severity":{"level":"high","source":"cna:SolarWinds","score":7.5,"basis":"CVSS 3.1"}}"#;

    #[test]
    fn a_finding_reads_back_as_it_was_split() {
        let finding: Finding = serde_json::from_str(STORED).unwrap();
        let parts = split(&finding);
        assert!(!parts.body.contains("asset-079"), "{}", parts.body);
        assert!(parts.payload.contains("asset-079") && parts.payload.contains("remediate_by"));
        assert_eq!(merge(&parts.payload, Some(&parts.body)).unwrap(), finding);
        // A row from before: the whole finding in its payload.
        assert_eq!(merge(STORED, None).unwrap(), finding);
    }

    #[test]
    fn assets_alike_share_a_detail() {
        let a: Finding = serde_json::from_str(STORED).unwrap();
        // Another asset, with a name that needs escaping in JSON.
        let mut b = a.clone();
        b.asset = "mdm `01`\"\\".into();
        for point in &mut b.explanation.decision_points {
            if point.source == "inventory: asset `asset-079`" {
                point.source = format!("inventory: asset `{}`", b.asset);
            }
        }
        let (pa, pb) = (split(&a), split(&b));
        assert_eq!(pa.hash, pb.hash);
        assert_eq!(pa.body, pb.body);
        assert_ne!(pa.payload, pb.payload);
        assert_eq!(merge(&pb.payload, Some(&pa.body)).unwrap(), b);
        assert_eq!(
            merge_value(&pb.payload, Some(&pa.body)).unwrap(),
            serde_json::to_value(&b).unwrap()
        );
        // Another version of the component is the same detail; another priority is not.
        let mut c = a.clone();
        c.component.version = Some("3.0.1".into());
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
