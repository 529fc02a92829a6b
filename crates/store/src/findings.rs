//! Findings as stored: the worklist (paged and sorted in SQL) and one finding.

use serde::Serialize;
use sqlx::Row;

use ward_model::Priority;

use chrono::{DateTime, Utc};

use crate::rows::{parse, time, time_optional};
use crate::{AssetId, FindingId, OrgId, Result, Scope, Store, StoreError};

/// A finding as stored, with its history.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FindingRow {
    pub id: FindingId,
    /// The organisation's internal id (what the store's queries filter on).
    #[serde(skip)]
    pub organisation_id: OrgId,
    pub organisation: String,
    pub asset_id: AssetId,
    pub asset: String,
    pub vulnerability: String,
    pub component: String,
    pub priority: Priority,
    #[serde(with = "ward_model::timestamp::millis")]
    #[schemars(with = "String")]
    pub first_seen: DateTime<Utc>,
    #[serde(with = "ward_model::timestamp::millis")]
    #[schemars(with = "String")]
    pub updated_at: DateTime<Utc>,
    #[serde(with = "ward_model::timestamp::millis_option")]
    #[schemars(with = "Option<String>")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Why it was resolved: `inventory` (an upload no longer has the component at an affected
    /// version) or `knowledge` (no source now calls it affected); `null` while open.
    pub resolution: Option<String>,
    /// The reason in words: which upload, or which source said what before and after.
    pub resolution_reason: Option<String>,
    pub finding: serde_json::Value,
}

impl Store {
    /// The worklist: findings of one organisation, or of all (`None`); open ones only unless
    /// `resolved`; optionally one priority; most urgent first (priority, then the remediation
    /// deadline), one page at a time. Returns the page and the number of matching findings.
    pub async fn findings(&self, query: &FindingQuery) -> Result<(Vec<FindingRow>, i64)> {
        let search = query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern);
        // Two statements rather than `$1 IS NULL OR …`, so that a member's worklist uses its index.
        let (total, rows) = match query.scope.organisation() {
            Some(org) => {
                let total: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM finding f
                     WHERE f.organisation_id = $1 AND ($2 OR f.resolved_at IS NULL) AND ($3 IS NULL OR f.priority = $3)
                       AND ($4 IS NULL OR lower(f.vuln_id) LIKE $4 ESCAPE '\\' OR lower(f.component) LIKE $4 ESCAPE '\\'
                            OR f.asset_id IN (SELECT id FROM asset WHERE organisation_id = $1 AND lower(name) LIKE $4 ESCAPE '\\'))
                       AND ($5 IS NULL OR f.asset_id = $5) AND ($6 IS NULL OR f.vuln_id = $6)",
                )
                .bind(org)
                .bind(query.resolved)
                .bind(query.priority.map(Priority::as_str))
                .bind(&search)
                .bind(query.asset_id)
                .bind(&query.vulnerability)
                .fetch_one(&self.pool)
                .await?
                .get("n");
                let rows = sqlx::query(
                    "SELECT f.id, f.organisation_id, o.slug, f.asset_id, a.name AS asset, f.vuln_id, f.component, f.priority,
                            f.first_seen, f.updated_at, f.resolved_at, f.resolution, f.resolution_reason, f.payload
                     FROM finding f JOIN asset a ON a.id = f.asset_id JOIN organisation o ON o.id = f.organisation_id
                     WHERE f.organisation_id = $1 AND ($2 OR f.resolved_at IS NULL) AND ($3 IS NULL OR f.priority = $3)
                       AND ($4 IS NULL OR lower(f.vuln_id) LIKE $4 ESCAPE '\\' OR lower(a.name) LIKE $4 ESCAPE '\\' OR lower(f.component) LIKE $4 ESCAPE '\\')
                       AND ($5 IS NULL OR f.asset_id = $5) AND ($6 IS NULL OR f.vuln_id = $6)
                     ORDER BY f.priority_rank, COALESCE(f.remediate_by, '~'), f.id
                     LIMIT $7 OFFSET $8",
                )
                .bind(org)
                .bind(query.resolved)
                .bind(query.priority.map(Priority::as_str))
                .bind(&search)
                .bind(query.asset_id)
                .bind(&query.vulnerability)
                .bind(query.limit)
                .bind(query.offset)
                .fetch_all(&self.pool)
                .await?;
                (total, rows)
            }
            None => {
                let total: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM finding f
                     WHERE ($1 OR f.resolved_at IS NULL) AND ($2 IS NULL OR f.priority = $2)
                       AND ($3 IS NULL OR lower(f.vuln_id) LIKE $3 ESCAPE '\\' OR lower(f.component) LIKE $3 ESCAPE '\\'
                            OR f.asset_id IN (SELECT id FROM asset WHERE lower(name) LIKE $3 ESCAPE '\\'))
                       AND ($4 IS NULL OR f.asset_id = $4) AND ($5 IS NULL OR f.vuln_id = $5)",
                )
                .bind(query.resolved)
                .bind(query.priority.map(Priority::as_str))
                .bind(&search)
                .bind(query.asset_id)
                .bind(&query.vulnerability)
                .fetch_one(&self.pool)
                .await?
                .get("n");
                let rows = sqlx::query(
                    "SELECT f.id, f.organisation_id, o.slug, f.asset_id, a.name AS asset, f.vuln_id, f.component, f.priority,
                            f.first_seen, f.updated_at, f.resolved_at, f.resolution, f.resolution_reason, f.payload
                     FROM finding f JOIN asset a ON a.id = f.asset_id JOIN organisation o ON o.id = f.organisation_id
                     WHERE ($1 OR f.resolved_at IS NULL) AND ($2 IS NULL OR f.priority = $2)
                       AND ($3 IS NULL OR lower(f.vuln_id) LIKE $3 ESCAPE '\\' OR lower(a.name) LIKE $3 ESCAPE '\\' OR lower(f.component) LIKE $3 ESCAPE '\\')
                       AND ($4 IS NULL OR f.asset_id = $4) AND ($5 IS NULL OR f.vuln_id = $5)
                     ORDER BY f.priority_rank, COALESCE(f.remediate_by, '~'), f.id
                     LIMIT $6 OFFSET $7",
                )
                .bind(query.resolved)
                .bind(query.priority.map(Priority::as_str))
                .bind(&search)
                .bind(query.asset_id)
                .bind(&query.vulnerability)
                .bind(query.limit)
                .bind(query.offset)
                .fetch_all(&self.pool)
                .await?;
                (total, rows)
            }
        };
        let rows = rows.iter().map(finding_row).collect::<Result<_>>()?;
        Ok((rows, total))
    }
}

impl Store {
    /// One finding, if it is within the scope (`Some(org)`: that organisation's only).
    pub async fn finding(&self, scope: Scope, id: FindingId) -> Result<Option<FindingRow>> {
        let row = sqlx::query(
            "SELECT f.id, f.organisation_id, o.slug, f.asset_id, a.name AS asset, f.vuln_id, f.component, f.priority,
                    f.first_seen, f.updated_at, f.resolved_at, f.resolution, f.resolution_reason, f.payload
             FROM finding f JOIN asset a ON a.id = f.asset_id JOIN organisation o ON o.id = f.organisation_id
             WHERE f.id = $1 AND ($2 IS NULL OR f.organisation_id = $2)",
        )
        .bind(id)
        .bind(scope.organisation())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(finding_row).transpose()
    }
}

fn finding_row(r: &sqlx::any::AnyRow) -> Result<FindingRow> {
    let id: FindingId = r.try_get("id")?;
    Ok(FindingRow {
        id,
        organisation_id: r.get("organisation_id"),
        organisation: r.get("slug"),
        asset_id: r.get("asset_id"),
        asset: r.get("asset"),
        vulnerability: r.get("vuln_id"),
        component: r.get("component"),
        priority: parse(r, "finding", id, "priority")?,
        first_seen: time(r, "finding", id, "first_seen")?,
        updated_at: time(r, "finding", id, "updated_at")?,
        resolved_at: time_optional(r, "finding", id, "resolved_at")?,
        resolution: r.get("resolution"),
        resolution_reason: r.get("resolution_reason"),
        finding: serde_json::from_str(r.get::<&str, _>("payload")).map_err(|e| {
            StoreError::Unreadable {
                table: "finding",
                row: id.to_string(),
                column: "payload",
                message: e.to_string(),
            }
        })?,
    })
}

impl FindingQuery {
    /// The first page (100) of the open findings within the scope, most urgent first.
    pub fn new(scope: Scope) -> Self {
        Self {
            scope,
            resolved: false,
            priority: None,
            search: None,
            asset_id: None,
            vulnerability: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// What the worklist asks for.
#[derive(Debug, Clone)]
pub struct FindingQuery {
    /// Whose findings: one organisation's, or (central) every one's.
    pub scope: Scope,
    pub resolved: bool,
    pub priority: Option<Priority>,
    /// Text found in the vulnerability id, the asset's name or the component (as typed: `%`
    /// and `_` are not wildcards).
    pub search: Option<String>,
    pub asset_id: Option<AssetId>,
    /// Only this vulnerability's findings (exactly).
    pub vulnerability: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// `%text%` for LIKE, with LIKE's own characters escaped (`\` is the escape), in lower case:
/// the columns are compared as `lower(…)`, as case-insensitive on PostgreSQL as on SQLite.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_ascii_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}
