//! Sightings a member's hunts report, and the possible-compromise alerts they raise.

use serde::Serialize;
use sqlx::Row;

use crate::alerts::{alert, alert_columns};
use crate::audit::now;
use crate::{AlertId, AlertRow, Principal, Result, Scope, Store};
use ward_model::AlertState;

/// A sighting as a member reports it (from a STIX `sighting` object).
#[derive(Debug, Clone)]
pub struct NewSighting {
    pub stix_id: String,
    pub sighting_of: String,
    pub title: String,
    pub level: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
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
    pub payload: serde_json::Value,
}

/// What recording a report did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ReportOutcome {
    /// Sightings stored now.
    pub recorded: usize,
    /// Sightings already stored by an earlier report (same STIX id).
    pub already_known: usize,
    /// The possible-compromise alerts raised, reopened or added to.
    pub alerts: Vec<AlertRow>,
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

impl Store {
    /// Records a member's sightings (idempotent by STIX id) and raises, reopens or adds to one
    /// possible-compromise alert per thing sighted, with the audit entries, in one transaction.
    pub async fn record_sightings(
        &self,
        who: &Principal,
        sightings: &[NewSighting],
    ) -> Result<ReportOutcome> {
        let org = &who.organisation;
        let mut change = self.begin_change(&who.actor()).await?;
        let at = now();
        let mut recorded = 0;
        let mut already_known = 0;
        // subject -> (title, best level, new sightings)
        let mut subjects: Vec<(String, String, Option<String>, i64)> = Vec::new();
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
            match subjects
                .iter_mut()
                .find(|(subject, ..)| *subject == s.sighting_of)
            {
                Some(entry) => {
                    if level_rank(s.level.as_deref()) > level_rank(entry.2.as_deref()) {
                        entry.2.clone_from(&s.level);
                    }
                    entry.3 += 1;
                }
                None => subjects.push((s.sighting_of.clone(), s.title.clone(), s.level.clone(), 1)),
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
        for (subject, title, level, count) in subjects {
            let before = sqlx::query(concat!("SELECT ", alert_columns!(), " FROM alert a JOIN organisation o ON o.id = a.organisation_id
                 WHERE a.organisation_id = $1 AND a.kind = 'possible-compromise' AND a.subject = $2"))
            .bind(org.id)
            .bind(&subject)
            .fetch_optional(&mut *change.tx)
            .await?
            .as_ref()
            .map(alert)
            .transpose()?;
            let level = level.unwrap_or_else(|| "high".into());
            let new_id = change.new_id(crate::ids::Kind::Alert).await?;
            let row = sqlx::query("INSERT INTO alert (organisation_id, kind, subject, title, level, state, evidence, created_at, updated_at, id)
                 VALUES ($1, 'possible-compromise', $2, $3, $4, 'open', $5, $6, $6, $7)
                 ON CONFLICT (organisation_id, kind, subject) DO UPDATE SET
                     evidence = alert.evidence + excluded.evidence,
                     state = 'open', resolution = NULL, resolution_reason = NULL, resolved_at = NULL,
                     updated_at = excluded.updated_at
                 RETURNING id")
            .bind(org.id)
            .bind(&subject)
            .bind(format!("Possible compromise: {title}"))
            .bind(&level)
            .bind(count)
            .bind(&at)
            .bind(new_id)
            .fetch_one(&mut *change.tx)
            .await?;
            let id: AlertId = row.get("id");
            let after = sqlx::query(concat!(
                "SELECT ",
                alert_columns!(),
                " FROM alert a JOIN organisation o ON o.id = a.organisation_id WHERE a.id = $1"
            ))
            .bind(id)
            .fetch_one(&mut *change.tx)
            .await?;
            let after = alert(&after)?;
            let action = match &before {
                None => "alert.raise",
                Some(b) if b.state != AlertState::Open => "alert.reopen",
                Some(_) => "alert.evidence",
            };
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
        Ok(rows
            .iter()
            .map(|r| SightingRow {
                id: r.get("id"),
                organisation: r.get("slug"),
                stix_id: r.get("stix_id"),
                sighting_of: r.get("sighting_of"),
                title: r.get("title"),
                level: r.get("level"),
                first_seen: r.get("first_seen"),
                last_seen: r.get("last_seen"),
                reported_at: r.get("reported_at"),
                payload: serde_json::from_str(r.get::<&str, _>("payload"))
                    .unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }
}
