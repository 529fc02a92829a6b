//! VEX statements the federation holds: documents a member uploads about its products, the
//! central team's statements for every member (a condition under which a product is not
//! affected, a mitigation, a recommended deadline), and — derived, not stored — each member's
//! decisions on its alerts as VEX. Statements are never deleted: revoking or superseding one
//! keeps it, with when and by whom; every change is audited.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use ward_model::{VexProduct, VexStatement, VexStatus};

use crate::audit::now;
use crate::rows::{time, time_optional};
use crate::{OrgId, Result, Scope, StatementId, Store, StoreError};

/// A statement to store.
#[derive(Debug, Clone)]
pub struct NewStatement {
    pub statement: VexStatement,
    /// A central statement's recommended deadline for the members it touches.
    pub remediate_by: Option<DateTime<Utc>>,
    pub references: Vec<String>,
}

/// A statement as stored.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StatementRow {
    pub id: StatementId,
    /// The member it belongs to (its slug); `null` for the central team's, which speak to
    /// every member.
    pub organisation: Option<String>,
    /// `upload` (a VEX document) or `central` (published by the central team).
    pub origin: String,
    pub vulnerability: String,
    pub status: VexStatus,
    #[schemars(with = "serde_json::Value")]
    pub statement: VexStatement,
    #[serde(with = "ward_model::timestamp::millis_option")]
    #[schemars(with = "Option<String>")]
    pub remediate_by: Option<DateTime<Utc>>,
    pub references: Vec<String>,
    pub version: i64,
    /// The statement this version replaced.
    pub supersedes: Option<StatementId>,
    #[serde(with = "ward_model::timestamp::millis")]
    #[schemars(with = "String")]
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(with = "ward_model::timestamp::millis_option")]
    #[schemars(with = "Option<String>")]
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

impl StatementRow {
    /// The marker a statement leaves on findings and resolutions (its document name).
    pub fn marker(id: StatementId) -> String {
        format!("ward:statement:{id}")
    }
}

fn statement_row(r: &sqlx::any::AnyRow) -> Result<StatementRow> {
    let id: StatementId = r.try_get("id")?;
    let unreadable = |column: &'static str, message: String| StoreError::Unreadable {
        table: "vex_statement",
        row: id.to_string(),
        column,
        message,
    };
    let statement: VexStatement = serde_json::from_str(r.get::<&str, _>("statement"))
        .map_err(|e| unreadable("statement", e.to_string()))?;
    let references: Vec<String> = serde_json::from_str(r.get::<&str, _>("reference_urls"))
        .map_err(|e| unreadable("reference_urls", e.to_string()))?;
    Ok(StatementRow {
        id,
        organisation: r.get("slug"),
        origin: r.get("origin"),
        vulnerability: r.get("vulnerability"),
        status: statement.status,
        statement,
        remediate_by: time_optional(r, "vex_statement", id, "remediate_by")?,
        references,
        version: r.get("version"),
        supersedes: r.get::<Option<i64>, _>("supersedes").map(StatementId::from),
        created_at: time(r, "vex_statement", id, "created_at")?,
        created_by: r.get("created_by"),
        revoked_at: time_optional(r, "vex_statement", id, "revoked_at")?,
        revoked_by: r.get("revoked_by"),
    })
}

/// Statements a document may hold, and a statement's fields, at most.
pub const MAX_STATEMENTS: usize = 50_000;
const MAX_TEXT: usize = 4_000;

fn check(s: &NewStatement) -> Result<()> {
    let v = &s.statement;
    // An advisory id as every database writes one (`CVE-…`, `GHSA-…`, `RHSA-2024:1234`).
    let id = v.vulnerability.as_str();
    let well_formed = (1..=128).contains(&id.len())
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if !well_formed {
        return Err(StoreError::Invalid(format!(
            "vulnerability: {:?} is not a vulnerability id",
            v.vulnerability
        )));
    }
    for (field, text) in [
        ("justification", &v.justification),
        ("impact", &v.impact),
        ("action", &v.action),
    ] {
        if text.as_ref().is_some_and(|t| t.len() > MAX_TEXT) {
            return Err(StoreError::Invalid(format!(
                "{field}: at most {MAX_TEXT} characters"
            )));
        }
    }
    if v.products.len() + v.subcomponents.len() > 1_000 || s.references.len() > 50 {
        return Err(StoreError::Invalid(
            "products: at most 1,000; references: at most 50".into(),
        ));
    }
    if v.status == VexStatus::NotAffected && v.justification.is_none() && v.impact.is_none() {
        return Err(StoreError::Invalid(
            "a not-affected statement needs a justification or an impact statement (the condition)"
                .into(),
        ));
    }
    Ok(())
}

impl Store {
    /// Stores statements for one member (`organisation`) or, with `None`, the central team's
    /// for every member; `supersedes` (a central statement's new version) is revoked by it.
    /// One audited change.
    pub async fn publish_statements(
        &self,
        actor: &str,
        organisation: Option<OrgId>,
        origin: &str,
        statements: Vec<NewStatement>,
        supersedes: Option<StatementId>,
    ) -> Result<Vec<StatementRow>> {
        if statements.len() > MAX_STATEMENTS {
            return Err(StoreError::Invalid(format!(
                "at most {MAX_STATEMENTS} statements at once"
            )));
        }
        for s in &statements {
            check(s)?;
        }
        let mut change = self.begin_change(actor).await?;
        let at = now();
        let mut version = 1;
        if let Some(old) = supersedes {
            let before = sqlx::query(
                "SELECT version, revoked_at, organisation_id FROM vex_statement WHERE id = $1",
            )
            .bind(old)
            .fetch_optional(&mut *change.tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("statement {old}")))?;
            let org: Option<OrgId> = before.get("organisation_id");
            if org != organisation {
                return Err(StoreError::NotFound(format!("statement {old}")));
            }
            if before.get::<Option<String>, _>("revoked_at").is_some() {
                return Err(StoreError::Conflict(format!(
                    "statement {old} is revoked already"
                )));
            }
            version = before.get::<i64, _>("version") + 1;
            sqlx::query("UPDATE vex_statement SET revoked_at = $1, revoked_by = $2 WHERE id = $3")
                .bind(&at)
                .bind(actor)
                .bind(old)
                .execute(&mut *change.tx)
                .await?;
        }
        let mut out = Vec::new();
        for mut s in statements {
            let id = StatementId::from(change.new_id(crate::ids::Kind::Statement).await?);
            // The statement names itself as its document, so findings it touches say which.
            if origin == "central" {
                s.statement.document = StatementRow::marker(id);
            } else {
                s.statement.document =
                    format!("{} ({})", s.statement.document, StatementRow::marker(id));
            }
            sqlx::query(
                "INSERT INTO vex_statement (id, organisation_id, origin, vulnerability, status, statement,
                                            remediate_by, reference_urls, version, supersedes, created_at, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(id)
            .bind(organisation)
            .bind(origin)
            .bind(&s.statement.vulnerability)
            .bind(s.statement.status.as_str())
            .bind(serde_json::to_string(&s.statement).expect("a statement serialises"))
            .bind(s.remediate_by.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
            .bind(serde_json::to_string(&s.references).expect("strings"))
            .bind(version)
            .bind(supersedes)
            .bind(&at)
            .bind(actor)
            .execute(&mut *change.tx)
            .await?;
            let row = statement_by_id(&mut change.tx, id).await?;
            change
                .created(
                    organisation,
                    "vex.publish",
                    &format!("statement:{id}"),
                    &row,
                )
                .await?;
            out.push(row);
        }
        change.commit().await?;
        Ok(out)
    }

    /// Revokes a statement within the scope: a member its own; the central team any.
    pub async fn revoke_statement(
        &self,
        actor: &str,
        scope: Scope,
        id: StatementId,
    ) -> Result<StatementRow> {
        let mut change = self.begin_change(actor).await?;
        let before = statement_by_id(&mut change.tx, id)
            .await
            .ok()
            .filter(|r| match scope.organisation() {
                None => true,
                Some(_) => r.organisation.is_some() && r.origin != "central",
            })
            .ok_or_else(|| StoreError::NotFound(format!("statement {id}")))?;
        let org: Option<OrgId> =
            sqlx::query("SELECT organisation_id FROM vex_statement WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *change.tx)
                .await?
                .get("organisation_id");
        if let Some(mine) = scope.organisation()
            && org != Some(mine)
        {
            return Err(StoreError::NotFound(format!("statement {id}")));
        }
        if before.revoked_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "statement {id} is revoked already"
            )));
        }
        sqlx::query("UPDATE vex_statement SET revoked_at = $1, revoked_by = $2 WHERE id = $3")
            .bind(now())
            .bind(actor)
            .bind(id)
            .execute(&mut *change.tx)
            .await?;
        let after = statement_by_id(&mut change.tx, id).await?;
        change
            .log(
                org,
                "vex.revoke",
                &format!("statement:{id}"),
                Some(&serde_json::to_value(&before).expect("serialises")),
                Some(&serde_json::to_value(&after).expect("serialises")),
            )
            .await?;
        change.commit().await?;
        Ok(after)
    }

    /// The statements a scope sees: a member its own and the central team's; the central team
    /// every one. Revoked ones only when asked.
    pub async fn statements(&self, scope: Scope, revoked: bool) -> Result<Vec<StatementRow>> {
        let rows = sqlx::query(
            "SELECT s.*, o.slug FROM vex_statement s LEFT JOIN organisation o ON o.id = s.organisation_id
             WHERE ($1 IS NULL OR s.organisation_id = $1 OR s.organisation_id IS NULL)
               AND ($2 OR s.revoked_at IS NULL)
             ORDER BY s.created_at, s.id",
        )
        .bind(scope.organisation())
        .bind(revoked)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(statement_row).collect()
    }

    /// The statements in force for each of these organisations (theirs and the central
    /// team's), for matching.
    pub async fn statements_in_force(
        &self,
        organisations: &[OrgId],
    ) -> Result<HashMap<OrgId, Vec<VexStatement>>> {
        let rows = sqlx::query(
            "SELECT organisation_id, statement FROM vex_statement WHERE revoked_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut central = Vec::new();
        let mut own: HashMap<OrgId, Vec<VexStatement>> = HashMap::new();
        for r in &rows {
            let s: VexStatement =
                serde_json::from_str(r.get::<&str, _>("statement")).map_err(|e| {
                    StoreError::Unreadable {
                        table: "vex_statement",
                        row: String::new(),
                        column: "statement",
                        message: e.to_string(),
                    }
                })?;
            match r.get::<Option<OrgId>, _>("organisation_id") {
                Some(o) => own.entry(o).or_default().push(s),
                None => central.push(s),
            }
        }
        Ok(organisations
            .iter()
            .map(|o| {
                let mut list = central.clone();
                list.extend(own.get(o).cloned().unwrap_or_default());
                (*o, list)
            })
            .collect())
    }

    /// Each member's decisions on its vulnerability alerts, as VEX: not affected (with the
    /// justification), fixed (the member said it is remediated, or the fix is installed),
    /// affected with what is being done (open, acknowledged, risk accepted until a date) — one
    /// statement per alert and component its findings name. Alerts remediated by an upload say
    /// nothing of the old version; withdrawn ones nothing at all.
    pub async fn vex_decisions(&self, scope: Scope) -> Result<Vec<VexStatement>> {
        let rows = sqlx::query(
            "SELECT a.subject, a.state, a.justification, a.accepted_until, a.resolved_at, a.updated_at,
                    a.resolution, a.remediate_by AS alert_remediate_by, a.answer, o.name AS organisation_name, o.slug,
                    f.payload, d.body AS detail_body, c.body AS component_body, f.acknowledge_by, f.remediate_by,
                    fa.name AS asset
             FROM alert a JOIN organisation o ON o.id = a.organisation_id
             JOIN finding f ON f.organisation_id = a.organisation_id AND f.vuln_id = a.subject
             JOIN asset fa ON fa.id = f.asset_id
             LEFT JOIN finding_detail d ON d.hash = f.detail
             LEFT JOIN finding_detail c ON c.hash = f.component_detail
             WHERE a.kind = 'vulnerability' AND ($1 IS NULL OR a.organisation_id = $1)
               AND a.state <> 'withdrawn'
               AND NOT (a.state = 'remediated' AND COALESCE(a.resolution, 'inventory') = 'inventory')
             ORDER BY o.slug, a.subject, f.id",
        )
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<VexStatement> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let Some(finding) = crate::finding_detail::Stored::of_row(r)
                .ok()
                .and_then(|stored| crate::finding_detail::merge(&stored).ok())
            else {
                continue;
            };
            let c = &finding.component;
            let Some(id) = c.purl.clone().or_else(|| c.cpe.clone()) else {
                continue;
            };
            let slug: String = r.get("slug");
            let subject: String = r.get("subject");
            if !seen.insert((slug.clone(), subject.clone(), id.clone())) {
                continue;
            }
            let state: String = r.get("state");
            let justification: Option<String> = r.get("justification");
            let at = |column: &str| -> Option<DateTime<Utc>> {
                r.get::<Option<String>, _>(column)
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&Utc))
            };
            let (status, justification, action) = match state.as_str() {
                "not-affected" => (VexStatus::NotAffected, justification, None),
                "remediated" => (VexStatus::Fixed, None, r.get::<Option<String>, _>("answer")),
                "risk-accepted" => (
                    VexStatus::Affected,
                    None,
                    Some(format!(
                        "Risk accepted until {}: {}",
                        at("accepted_until")
                            .map_or("-".into(), |t| t.format("%Y-%m-%d").to_string()),
                        justification.unwrap_or_default()
                    )),
                ),
                _ => (
                    VexStatus::Affected,
                    None,
                    Some(
                        match (at("alert_remediate_by"), finding.fixed_versions.is_empty()) {
                            (Some(by), false) => format!(
                                "Upgrade to {} by {}",
                                finding.fixed_versions.join(" or "),
                                by.format("%Y-%m-%d")
                            ),
                            (None, false) => {
                                format!("Upgrade to {}", finding.fixed_versions.join(" or "))
                            }
                            (Some(by), true) => format!("Remediate by {}", by.format("%Y-%m-%d")),
                            (None, true) => "Remediation under way".to_owned(),
                        },
                    ),
                ),
            };
            out.push(VexStatement {
                vulnerability: subject,
                aliases: finding.aliases.clone(),
                products: vec![VexProduct {
                    id,
                    purl: c.purl.clone(),
                    cpe: c.cpe.clone(),
                }],
                subcomponents: Vec::new(),
                status,
                justification,
                impact: None,
                action,
                author: Some(r.get("organisation_name")),
                timestamp: at("resolved_at").or_else(|| at("updated_at")),
                document: format!("ward:{slug}"),
            });
        }
        Ok(out)
    }

    /// The organisations whose findings of `vulnerability` a statement now speaks to: an open
    /// finding noting it, or one it resolved.
    pub async fn organisations_touched_by(
        &self,
        vulnerability: &str,
        id: StatementId,
    ) -> Result<Vec<OrgId>> {
        let marker = format!("%{}%", StatementRow::marker(id));
        let rows = sqlx::query(
            "SELECT DISTINCT f.organisation_id FROM finding f
             LEFT JOIN finding_detail d ON d.hash = f.detail
             WHERE f.vuln_id = $1
               AND (f.payload LIKE $2 OR d.body LIKE $2 OR f.resolution_reason LIKE $2)",
        )
        .bind(vulnerability)
        .bind(&marker)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get("organisation_id")).collect())
    }

    /// Tells the members a central statement touches: each one's alert on the vulnerability
    /// (open or acknowledged) carries the statement as the central team's note, and the change
    /// goes out through the outbox like any alert change.
    pub async fn announce_statement(
        &self,
        actor: &str,
        statement: &StatementRow,
        organisations: &[OrgId],
    ) -> Result<usize> {
        let mut change = self.begin_change(actor).await?;
        let s = &statement.statement;
        let mut note = format!("Central statement {}: {}", statement.id, s.status.as_str());
        if let Some(j) = &s.justification {
            note.push_str(&format!(" ({j})"));
        }
        if let Some(i) = &s.impact {
            note.push_str(&format!(" — {i}"));
        }
        if let Some(a) = &s.action {
            note.push_str(&format!(" — action: {a}"));
        }
        if let Some(by) = statement.remediate_by {
            note.push_str(&format!(" — recommended by {}", by.format("%Y-%m-%d")));
        }
        let at = now();
        let mut told = 0;
        for org in organisations {
            let Some(alert) =
                crate::alerts::sync::alert_by_subject(&mut change, *org, &statement.vulnerability)
                    .await?
            else {
                continue;
            };
            if !matches!(
                alert.state,
                ward_model::AlertState::Open | ward_model::AlertState::Acknowledged
            ) {
                continue;
            }
            let before = crate::alerts::sync::value(&alert);
            sqlx::query("UPDATE alert SET note = $1, updated_at = $2 WHERE id = $3")
                .bind(&note)
                .bind(&at)
                .bind(alert.id)
                .execute(&mut *change.tx)
                .await?;
            let after = crate::alerts::sync::alert_by_id(&mut change, alert.id).await?;
            change
                .alert_changed(
                    *org,
                    "alert.statement",
                    &format!("alert:{}", alert.id),
                    Some(&before),
                    &crate::alerts::sync::value(&after),
                )
                .await?;
            told += 1;
        }
        change.commit().await?;
        Ok(told)
    }
}

async fn statement_by_id(conn: &mut sqlx::AnyConnection, id: StatementId) -> Result<StatementRow> {
    let row = sqlx::query(
        "SELECT s.*, o.slug FROM vex_statement s LEFT JOIN organisation o ON o.id = s.organisation_id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("statement {id}")))?;
    statement_row(&row)
}
