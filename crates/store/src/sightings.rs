//! Sightings a member's hunts report, and the incidents they raise: one possible-compromise
//! alert per thing sighted, with the incident lifecycle (`ward_model::transition`), deadlines
//! from the policy's incident windows, and its tie to vulnerabilities — an exploit attempt
//! sighted where the vulnerability it exploits is still open raises the severity and says so.
//! The campaign view: per thing sighted, which members sighted it, when, and each incident's
//! state.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::alerts::{alert, alert_columns};
use crate::{AlertId, AlertRow, Principal, Result, Scope, Store};
use ward_model::{AlertState, IncidentWindows};

/// A sighting as a member reports it (from a STIX `sighting` object).
#[derive(Debug, Clone)]
pub struct NewSighting {
    pub stix_id: String,
    pub sighting_of: String,
    pub title: String,
    pub level: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    /// The rule's or indicator's tags, as the report's indicator object gives them.
    pub tags: Vec<String>,
    /// CVE ids the report's indicator object names (tags `cve.2025-4427`, external references).
    pub vulnerabilities: Vec<String>,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SightingRow {
    pub id: i64,
    pub organisation: String,
    pub stix_id: String,
    pub sighting_of: String,
    pub title: String,
    pub level: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub reported_at: String,
    /// How many times (the STIX `count`; 1 when not given).
    pub count: i64,
    /// The client address the sighted line named, when it named one.
    pub source: Option<String>,
    /// Where in the member's logs (file and line), as the member reported it.
    pub file: Option<String>,
    pub line: Option<i64>,
    /// The asset whose logs these are, when the member named it (`ward hunt --asset`).
    pub asset: Option<String>,
    /// SHA-256 of the sighted line: the member can show which line it was without sharing it.
    pub line_sha256: Option<String>,
    /// The line (cut), only when the member chose to share it (`ward hunt --share-excerpts`).
    pub excerpt: Option<String>,
    pub payload: serde_json::Value,
}

/// What recording a report did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ReportOutcome {
    /// Sightings stored now.
    pub recorded: usize,
    /// Sightings already stored by an earlier report (same STIX id).
    pub already_known: usize,
    /// The possible-compromise alerts (incidents) raised, reopened or added to.
    pub alerts: Vec<AlertRow>,
}

/// One member's part in a campaign: its sightings of the thing and its incident.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CampaignMember {
    pub organisation: String,
    pub organisation_name: String,
    pub first_seen: String,
    pub last_seen: String,
    /// Sightings reported (each a line, or a STIX sighting's count).
    pub sightings: i64,
    pub incident: Option<AlertId>,
    pub state: Option<AlertState>,
    pub level: Option<String>,
    /// Why the severity was raised at this member, if it was.
    pub link: Option<String>,
}

/// One thing sighted (a rule or an indicator) across the federation.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Campaign {
    /// The STIX id of the indicator (or the Sigma rule's stand-in).
    pub subject: String,
    pub title: String,
    pub first_seen: String,
    pub last_seen: String,
    pub members: Vec<CampaignMember>,
    /// Members whose incident is not closed (nor a false positive).
    pub open_incidents: i64,
    /// Members that confirmed a compromise (confirmed, contained or closed after it).
    pub confirmed: i64,
    pub vulnerabilities: Vec<String>,
}

/// Sigma levels and their order (indicator sightings carry none and count as `high`: a known
/// attacker's address in one's own logs is never informational).
fn level_rank(level: Option<&str>) -> u8 {
    match level {
        Some("critical") => 5,
        Some("high") | None => 4,
        Some("medium") => 3,
        Some("low") => 2,
        _ => 1,
    }
}

/// A CVE id from a Sigma tag (`cve.2025-4427`) or a reference (`CVE-2025-4427`), normalised.
pub fn cve_of(text: &str) -> Option<String> {
    let rest = text
        .strip_prefix("cve.")
        .or_else(|| text.strip_prefix("CVE-"))
        .or_else(|| text.strip_prefix("cve-"))?;
    let (year, number) = rest.split_once(['-', '.'])?;
    (year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (4..=7).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit()))
    .then(|| format!("CVE-{year}-{number}"))
}

/// CVE ids a STIX object names: `labels`, `external_references` (`source_name: cve`, or any
/// reference whose `external_id` is a CVE id) and Ward's own `x_ward_tags`.
pub fn vulnerabilities_of(object: &Value) -> Vec<String> {
    let mut out = BTreeSet::new();
    for key in ["labels", "x_ward_tags"] {
        for l in object[key].as_array().into_iter().flatten() {
            if let Some(c) = l.as_str().and_then(cve_of) {
                out.insert(c);
            }
        }
    }
    for r in object["external_references"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(c) = r["external_id"].as_str().and_then(cve_of) {
            out.insert(c);
        }
    }
    out.into_iter().collect()
}

/// What is known of one thing sighted in one report.
struct Subject {
    id: String,
    title: String,
    level: Option<String>,
    new: i64,
    tags: BTreeSet<String>,
    vulnerabilities: BTreeSet<String>,
    assets: BTreeSet<String>,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Store {
    /// Records a member's sightings (idempotent by STIX id) and raises, reopens or adds to one
    /// incident per thing sighted, with the audit entries, in one transaction. A closed
    /// incident sighted again reopens with new deadlines; a false positive keeps its verdict
    /// (the sightings are still counted).
    pub async fn record_sightings(
        &self,
        who: &Principal,
        sightings: &[NewSighting],
        clock: IncidentWindows,
    ) -> Result<ReportOutcome> {
        let org = &who.organisation;
        let mut change = self.begin_change(&who.actor()).await?;
        let now_ = Utc::now();
        let at = stamp(now_);
        let mut recorded = 0;
        let mut already_known = 0;
        let mut subjects: Vec<Subject> = Vec::new();
        for s in sightings {
            let inserted = sqlx::query(
                "INSERT INTO sighting (organisation_id, stix_id, sighting_of, title, level, first_seen, last_seen, payload, reported_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (organisation_id, stix_id) DO NOTHING",
            )
            .bind(org.id)
            .bind(&s.stix_id)
            .bind(&s.sighting_of)
            .bind(&s.title)
            .bind(&s.level)
            .bind(&s.first_seen)
            .bind(&s.last_seen)
            .bind(s.payload.to_string())
            .bind(&at)
            .execute(&mut *change.tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                already_known += 1;
                continue;
            }
            recorded += 1;
            let at = match subjects.iter().position(|x| x.id == s.sighting_of) {
                Some(i) => i,
                None => {
                    subjects.push(Subject {
                        id: s.sighting_of.clone(),
                        title: s.title.clone(),
                        level: s.level.clone(),
                        new: 0,
                        tags: BTreeSet::new(),
                        vulnerabilities: BTreeSet::new(),
                        assets: BTreeSet::new(),
                    });
                    subjects.len() - 1
                }
            };
            let entry = &mut subjects[at];
            if level_rank(s.level.as_deref()) > level_rank(entry.level.as_deref()) {
                entry.level.clone_from(&s.level);
            }
            entry.new += s.payload["count"].as_i64().unwrap_or(1).clamp(1, 1 << 40);
            entry.tags.extend(s.tags.iter().cloned());
            entry
                .vulnerabilities
                .extend(s.vulnerabilities.iter().cloned());
            if let Some(asset) = s.payload["x_ward_asset"].as_str() {
                entry.assets.insert(asset.to_owned());
            }
        }
        if recorded > 0 {
            change
                .log(
                    Some(org.id),
                    "sightings.report",
                    &format!("organisation:{}", org.slug),
                    None,
                    Some(
                        &serde_json::json!({"recorded": recorded, "already_known": already_known}),
                    ),
                )
                .await?;
        }
        let mut alerts = Vec::new();
        for mut subject in subjects {
            // What the central team published about the thing (its own indicator, from a
            // TAXII collection) names it and its CVEs better than a member's report can.
            if let Some(object) =
                crate::taxii::published_object_in(&mut change.tx, &subject.id).await?
            {
                if let Some(name) = object["name"].as_str().filter(|n| !n.is_empty()) {
                    subject.title = name.chars().take(300).collect();
                }
                subject.vulnerabilities.extend(vulnerabilities_of(&object));
                for l in object["labels"].as_array().into_iter().flatten() {
                    if let Some(l) = l.as_str() {
                        subject.tags.insert(l.to_owned());
                    }
                }
            }
            for t in &subject.tags {
                if let Some(c) = cve_of(t) {
                    subject.vulnerabilities.insert(c);
                }
            }
            let (exploited, link) = self.exploitation(&mut change, org.id, &subject).await?;
            let (triage, contain) = if exploited || link.is_some() {
                (clock.exploited_triage, clock.exploited_contain)
            } else {
                (clock.triage, clock.contain)
            };
            let level = if link.is_some() {
                "critical".to_owned()
            } else {
                subject.level.clone().unwrap_or_else(|| "high".into())
            };
            let tags = serde_json::to_string(&subject.tags).expect("strings serialise");
            let vulnerabilities =
                serde_json::to_string(&subject.vulnerabilities).expect("strings serialise");
            let before = sqlx::query(concat!("SELECT ", alert_columns!(), " FROM alert a JOIN organisation o ON o.id = a.organisation_id
                 WHERE a.organisation_id = $1 AND a.kind = 'possible-compromise' AND a.subject = $2"))
            .bind(org.id)
            .bind(&subject.id)
            .fetch_optional(&mut *change.tx)
            .await?
            .as_ref()
            .map(alert)
            .transpose()?;
            let title = format!("Possible compromise: {}", subject.title);
            let (id, action) = match &before {
                None => {
                    let new_id = change.new_id(crate::ids::Kind::Alert).await?;
                    sqlx::query("INSERT INTO alert (organisation_id, kind, subject, title, level, state, evidence, created_at, updated_at,
                                        acknowledge_by, remediate_by, tags, vulnerabilities, link, id)
                         VALUES ($1, 'possible-compromise', $2, $3, $4, 'open', $5, $6, $6, $7, $8, $9, $10, $11, $12)")
                    .bind(org.id)
                    .bind(&subject.id)
                    .bind(&title)
                    .bind(&level)
                    .bind(subject.new)
                    .bind(&at)
                    .bind(stamp(now_ + triage))
                    .bind(stamp(now_ + contain))
                    .bind(&tags)
                    .bind(&vulnerabilities)
                    .bind(&link)
                    .bind(new_id)
                    .execute(&mut *change.tx)
                    .await?;
                    (AlertId::from(new_id), "alert.raise")
                }
                Some(b) if b.state == AlertState::Closed => {
                    // Sighted again after it was closed: the attacker is back.
                    sqlx::query("UPDATE alert SET state = 'open', evidence = evidence + $1, level = $2, title = $3,
                             acknowledge_by = $4, remediate_by = $5, acknowledged_at = NULL, escalated_at = NULL,
                             resolution = NULL, resolution_reason = NULL, resolved_at = NULL, confirmed_at = NULL,
                             tags = $6, vulnerabilities = $7, link = $8, updated_at = $9 WHERE id = $10")
                    .bind(subject.new)
                    .bind(&level)
                    .bind(&title)
                    .bind(stamp(now_ + triage))
                    .bind(stamp(now_ + contain))
                    .bind(&tags)
                    .bind(&vulnerabilities)
                    .bind(&link)
                    .bind(&at)
                    .bind(b.id)
                    .execute(&mut *change.tx)
                    .await?;
                    (b.id, "alert.reopen")
                }
                Some(b) => {
                    // More of the same: counted; the level only rises, and a deadline can
                    // only come nearer (a sighting now tied to exploitation).
                    let level = if level_rank(Some(&level)) >= level_rank(b.level.as_deref()) {
                        level.clone()
                    } else {
                        b.level.clone().unwrap_or(level.clone())
                    };
                    let sooner = |kept: Option<DateTime<Utc>>, new: DateTime<Utc>| {
                        stamp(kept.map_or(new, |k| k.min(new)))
                    };
                    let unresolved = !b.state.is_resolved();
                    sqlx::query("UPDATE alert SET evidence = evidence + $1, level = $2,
                             acknowledge_by = $3, remediate_by = $4, tags = $5, vulnerabilities = $6,
                             link = COALESCE($7, link), updated_at = $8 WHERE id = $9")
                    .bind(subject.new)
                    .bind(&level)
                    .bind(if unresolved { Some(sooner(b.acknowledge_by, b.created_at + triage)) } else { b.acknowledge_by.map(stamp) })
                    .bind(if unresolved { Some(sooner(b.remediate_by, b.created_at + contain)) } else { b.remediate_by.map(stamp) })
                    .bind(&tags)
                    .bind(&vulnerabilities)
                    .bind(&link)
                    .bind(&at)
                    .bind(b.id)
                    .execute(&mut *change.tx)
                    .await?;
                    (b.id, "alert.evidence")
                }
            };
            let after = sqlx::query(concat!(
                "SELECT ",
                alert_columns!(),
                " FROM alert a JOIN organisation o ON o.id = a.organisation_id WHERE a.id = $1"
            ))
            .bind(id)
            .fetch_one(&mut *change.tx)
            .await?;
            let after = alert(&after)?;
            change
                .alert_changed(
                    org.id,
                    action,
                    &format!("alert:{id}"),
                    before
                        .as_ref()
                        .map(|b| serde_json::to_value(b).expect("serialisable"))
                        .as_ref(),
                    &serde_json::to_value(&after).expect("serialisable"),
                )
                .await?;
            alerts.push(after);
        }
        change.commit().await?;
        Ok(ReportOutcome {
            recorded,
            already_known,
            alerts,
        })
    }

    /// Whether what was sighted exploits a KEV-listed vulnerability, and — when one of its
    /// vulnerabilities is still open at the member — the words that say so (on the assets
    /// the sightings came from, when the member named them).
    async fn exploitation(
        &self,
        change: &mut crate::audit::Change,
        organisation: crate::OrgId,
        subject: &Subject,
    ) -> Result<(bool, Option<String>)> {
        let mut exploited = false;
        let mut open: Vec<(String, BTreeSet<String>)> = Vec::new();
        for cve in subject.vulnerabilities.iter().take(50) {
            exploited |= sqlx::query("SELECT vuln_id FROM kev WHERE vuln_id = $1")
                .bind(cve)
                .fetch_optional(&mut *change.tx)
                .await?
                .is_some();
            let rows = sqlx::query(
                "SELECT DISTINCT s.name FROM finding f JOIN asset s ON s.id = f.asset_id
                 WHERE f.organisation_id = $1 AND f.vuln_id = $2 AND f.resolved_at IS NULL
                 ORDER BY s.name",
            )
            .bind(organisation)
            .bind(cve)
            .fetch_all(&mut *change.tx)
            .await?;
            let assets: BTreeSet<String> = rows.iter().map(|r| r.get("name")).collect();
            if !assets.is_empty() {
                open.push((cve.clone(), assets));
            }
        }
        if open.is_empty() {
            return Ok((exploited, None));
        }
        let sighted_on = |assets: &BTreeSet<String>| {
            !subject.assets.is_empty() && assets.iter().any(|a| subject.assets.contains(a))
        };
        let words: Vec<String> = open
            .iter()
            .map(|(cve, assets)| {
                let list: Vec<&str> = assets.iter().take(5).map(String::as_str).collect();
                let more = if assets.len() > 5 {
                    format!(" and {} more", assets.len() - 5)
                } else {
                    String::new()
                };
                let here = if sighted_on(assets) {
                    " (the asset whose logs it was sighted in)"
                } else {
                    ""
                };
                format!("{cve} is still open on {}{more}{here}", list.join(", "))
            })
            .collect();
        Ok((
            exploited,
            Some(format!(
                "An exploit attempt was sighted while {}: severity raised to critical.",
                words.join("; ")
            )),
        ))
    }

    /// Sightings of one organisation, or of all (`None`).
    pub async fn sightings(&self, scope: Scope) -> Result<Vec<SightingRow>> {
        let rows = sqlx::query(
            "SELECT s.id, o.slug, s.stix_id, s.sighting_of, s.title, s.level, s.first_seen, s.last_seen, s.reported_at, s.payload
             FROM sighting s JOIN organisation o ON o.id = s.organisation_id
             WHERE ($1 IS NULL OR s.organisation_id = $1) ORDER BY s.id",
        )
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(sighting_row).collect())
    }

    /// The sightings behind one incident (a possible-compromise alert within the scope), in
    /// the order they were seen; at most `limit`.
    pub async fn incident_sightings(
        &self,
        scope: Scope,
        alert: AlertId,
        limit: i64,
    ) -> Result<Vec<SightingRow>> {
        let rows = sqlx::query(
            "SELECT s.id, o.slug, s.stix_id, s.sighting_of, s.title, s.level, s.first_seen, s.last_seen, s.reported_at, s.payload
             FROM alert a JOIN sighting s ON s.organisation_id = a.organisation_id AND s.sighting_of = a.subject
                          JOIN organisation o ON o.id = s.organisation_id
             WHERE a.id = $1 AND a.kind = 'possible-compromise' AND ($2 IS NULL OR a.organisation_id = $2)
             ORDER BY s.first_seen, s.id LIMIT $3",
        )
        .bind(alert)
        .bind(scope.organisation())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(sighting_row).collect())
    }

    /// The campaign view: per thing sighted, the members that sighted it (within the scope),
    /// first and last seen, and each member's incident; most recently seen first.
    pub async fn campaigns(&self, scope: Scope) -> Result<Vec<Campaign>> {
        let rows = sqlx::query(
            "SELECT s.sighting_of, o.slug, o.name, MIN(s.first_seen) AS first_seen, MAX(s.last_seen) AS last_seen,
                    COUNT(*) AS n, MIN(s.title) AS title
             FROM sighting s JOIN organisation o ON o.id = s.organisation_id
             WHERE ($1 IS NULL OR s.organisation_id = $1)
             GROUP BY s.sighting_of, o.slug, o.name
             ORDER BY s.sighting_of, o.slug",
        )
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?;
        let incidents = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alert a JOIN organisation o ON o.id = a.organisation_id
             WHERE a.kind = 'possible-compromise' AND ($1 IS NULL OR a.organisation_id = $1)"
        ))
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(alert)
        .collect::<Result<Vec<_>>>()?;
        let mut out: Vec<Campaign> = Vec::new();
        for r in &rows {
            let subject: String = r.get("sighting_of");
            let slug: String = r.get("slug");
            let incident = incidents
                .iter()
                .find(|a| a.subject == subject && a.organisation == slug);
            if out.last().is_none_or(|c| c.subject != subject) {
                out.push(Campaign {
                    subject: subject.clone(),
                    title: incident.map_or_else(
                        || r.get("title"),
                        |a| {
                            a.title
                                .strip_prefix("Possible compromise: ")
                                .unwrap_or(&a.title)
                                .to_owned()
                        },
                    ),
                    first_seen: r.get("first_seen"),
                    last_seen: r.get("last_seen"),
                    members: Vec::new(),
                    open_incidents: 0,
                    confirmed: 0,
                    vulnerabilities: Vec::new(),
                });
            }
            let c = out.last_mut().expect("pushed above");
            let first: String = r.get("first_seen");
            let last: String = r.get("last_seen");
            if first < c.first_seen {
                c.first_seen.clone_from(&first);
            }
            if last > c.last_seen {
                c.last_seen.clone_from(&last);
            }
            if let Some(a) = incident {
                if !a.state.is_resolved() {
                    c.open_incidents += 1;
                }
                if a.confirmed_at.is_some() && a.state != AlertState::FalsePositive {
                    c.confirmed += 1;
                }
                for v in &a.vulnerabilities {
                    if !c.vulnerabilities.contains(v) {
                        c.vulnerabilities.push(v.clone());
                    }
                }
            }
            c.members.push(CampaignMember {
                organisation: slug,
                organisation_name: r.get("name"),
                first_seen: first,
                last_seen: last,
                sightings: r.get("n"),
                incident: incident.map(|a| a.id),
                state: incident.map(|a| a.state),
                level: incident.and_then(|a| a.level.clone()),
                link: incident.and_then(|a| a.link.clone()),
            });
        }
        out.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then(a.subject.cmp(&b.subject))
        });
        Ok(out)
    }
}

fn sighting_row(r: &sqlx::any::AnyRow) -> SightingRow {
    let payload: Value = serde_json::from_str(r.get::<&str, _>("payload")).unwrap_or(Value::Null);
    let text = |key: &str, max: usize| {
        payload[key]
            .as_str()
            .map(|s| s.chars().take(max).collect::<String>())
    };
    SightingRow {
        id: r.get("id"),
        organisation: r.get("slug"),
        stix_id: r.get("stix_id"),
        sighting_of: r.get("sighting_of"),
        title: r.get("title"),
        level: r.get("level"),
        first_seen: r.get("first_seen"),
        last_seen: r.get("last_seen"),
        reported_at: r.get("reported_at"),
        count: payload["count"].as_i64().unwrap_or(1),
        source: text("x_ward_source", 100),
        file: text("x_ward_file", 500),
        line: payload["x_ward_line"].as_i64(),
        asset: text("x_ward_asset", 300),
        line_sha256: text("x_ward_line_sha256", 64),
        excerpt: text("x_ward_excerpt", 2_000),
        payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cves_are_read_from_sigma_tags_and_stix_references() {
        assert_eq!(cve_of("cve.2025-4427").as_deref(), Some("CVE-2025-4427"));
        assert_eq!(cve_of("CVE-2021-44228").as_deref(), Some("CVE-2021-44228"));
        assert_eq!(cve_of("cve.2025.4428").as_deref(), Some("CVE-2025-4428"));
        for not in [
            "attack.t1190",
            "cve.25-4427",
            "CVE-2025-12",
            "cve.2025-4427x",
            "CVE-",
        ] {
            assert_eq!(cve_of(not), None, "{not}");
        }
        let indicator = serde_json::json!({
            "labels": ["cve.2025-4428", "attack.initial-access"],
            "external_references": [
                {"source_name": "cve", "external_id": "CVE-2025-4427"},
                {"source_name": "mitre-attack", "external_id": "T1190"},
                {"source_name": "cve", "external_id": "CVE-2025-4427"}
            ]
        });
        assert_eq!(
            vulnerabilities_of(&indicator),
            ["CVE-2025-4427", "CVE-2025-4428"]
        );
        assert!(vulnerabilities_of(&serde_json::json!({"labels": "cve.2025-4427"})).is_empty());
    }
}
