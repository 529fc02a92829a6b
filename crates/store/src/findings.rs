//! Findings as stored: the worklist (paged and sorted in SQL) and one finding.

use serde::Serialize;
use sqlx::Row;

use ward_model::Priority;

use chrono::{DateTime, Utc};

use crate::rows::{parse, time, time_optional};
use crate::sql::Sql;
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
    /// Where it stands in the worklist: a page that ends with it continues after it.
    #[serde(skip)]
    pub position: WorklistCursor,
}

/// A place in the worklist's order (priority, remediation deadline, id): the page after it
/// starts with the next finding. Written as `rank:id:deadline` (`~` for none), which is what
/// the API's `next` and `after` carry; every part is already visible in the finding itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorklistCursor {
    pub rank: i64,
    pub id: FindingId,
    pub remediate: String,
}

/// The deadline column's value for "no deadline": after every timestamp.
pub(crate) const NO_DEADLINE: &str = "~";

impl std::fmt::Display for WorklistCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.rank, self.id, self.remediate)
    }
}

impl std::str::FromStr for WorklistCursor {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        const EXPECTED: &str = "a cursor as the worklist's `next` gave it";
        let mut parts = s.splitn(3, ':');
        let (Some(rank), Some(id), Some(remediate)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("expected {EXPECTED}"));
        };
        let rank: i64 = rank
            .parse()
            .ok()
            .filter(|r| (0..Priority::ALL.len() as i64).contains(r))
            .ok_or_else(|| format!("expected {EXPECTED} (its priority rank is not one)"))?;
        let id: FindingId = id
            .parse()
            .map_err(|_| format!("expected {EXPECTED} (its finding id is not one)"))?;
        let deadline = remediate == NO_DEADLINE
            || (remediate.len() <= 40 && chrono::DateTime::parse_from_rfc3339(remediate).is_ok());
        if !deadline {
            return Err(format!("expected {EXPECTED} (its deadline is not a time)"));
        }
        Ok(Self {
            rank,
            id,
            remediate: remediate.to_owned(),
        })
    }
}

impl Store {
    /// The worklist: findings of one organisation, or of all (`None`); open ones only unless
    /// `resolved`; optionally one priority; most urgent first (priority, then the remediation
    /// deadline, then id), one page at a time. Returns the page and the number of matching
    /// findings.
    ///
    /// A page after a [`WorklistCursor`] is read by keyset: the open findings' partial indexes
    /// hold them in worklist order, so the page costs the same at the millionth finding as at
    /// the first, and nothing is sorted. The total of the open findings, unfiltered or by
    /// priority, is read from the counts the triggers keep (`finding_open_count`); only a
    /// search, an asset, a vulnerability or resolved findings are counted row by row.
    pub async fn findings(&self, query: &FindingQuery) -> Result<(Vec<FindingRow>, i64)> {
        let search = query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern);
        let org = query.scope.organisation();
        let filtered = search.is_some()
            || query.asset_id.is_some()
            || query.vulnerability.is_some()
            || query.resolved;
        let total: i64 = if filtered {
            let mut q = Sql::new(self.backend, "SELECT COUNT(*) AS n FROM finding f WHERE ");
            self.worklist_filter(&mut q, query, org, search.as_deref(), false);
            q.build().fetch_one(&self.pool).await?.get("n")
        } else {
            let mut q = Sql::new(
                self.backend,
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM finding_open_count WHERE 1 = 1",
            );
            if let Some(org) = org {
                q.push(" AND organisation_id = ").push_bind(org);
            }
            if let Some(p) = query.priority {
                q.push(" AND priority = ").push_bind(p.as_str());
            }
            q.build().fetch_one(&self.pool).await?.get("n")
        };
        const PAGE: &str = "SELECT f.id, f.organisation_id, o.slug, f.asset_id, a.name AS asset, f.vuln_id, f.component, f.priority,
                    f.first_seen, f.updated_at, f.resolved_at, f.resolution, f.resolution_reason, f.payload,
                    f.detail, f.component_detail, d.body AS detail_body, c.body AS component_body, f.acknowledge_by, f.remediate_by,
                    f.priority_rank, f.remediate_order
             FROM finding f JOIN asset a ON a.id = f.asset_id JOIN organisation o ON o.id = f.organisation_id
             LEFT JOIN finding_detail d ON d.hash = f.detail
             LEFT JOIN finding_detail c ON c.hash = f.component_detail
             WHERE ";
        let q = match &query.after {
            None => {
                let mut q = Sql::new(self.backend, PAGE);
                self.worklist_filter(&mut q, query, org, search.as_deref(), true);
                q.push(" ORDER BY f.priority_rank, f.remediate_order, f.id LIMIT ")
                    .push_bind(query.limit);
                if query.offset > 0 {
                    q.push(" OFFSET ").push_bind(query.offset);
                }
                q
            }
            // After a cursor, in three parts, each one range of the index: the rest of the
            // cursor's own (priority, deadline) group by id, the rest of its priority by
            // deadline, then the lower priorities. A row-value comparison over the columns
            // would have SQLite seek to the start of the cursor's group and step through it
            // (it ranges over a prefix and filters the rest): halfway down a group of 170,000
            // findings that share a deadline, a page took 19–31 ms; in parts, 0.5 ms.
            Some(after) => {
                let mut q = Sql::new(self.backend, "SELECT * FROM (");
                q.push(PAGE);
                self.worklist_filter(&mut q, query, org, search.as_deref(), true);
                q.push(" AND f.priority_rank = ")
                    .push_bind(after.rank)
                    .push(" AND f.remediate_order = ")
                    .push_bind(after.remediate.clone())
                    .push(" AND f.id > ")
                    .push_bind(after.id)
                    .push(" ORDER BY f.id LIMIT ")
                    .push_bind(query.limit)
                    .push(") AS same_group UNION ALL SELECT * FROM (")
                    .push(PAGE);
                self.worklist_filter(&mut q, query, org, search.as_deref(), true);
                q.push(" AND f.priority_rank = ")
                    .push_bind(after.rank)
                    .push(" AND f.remediate_order > ")
                    .push_bind(after.remediate.clone())
                    .push(" ORDER BY f.remediate_order, f.id LIMIT ")
                    .push_bind(query.limit)
                    .push(") AS same_priority UNION ALL SELECT * FROM (")
                    .push(PAGE);
                self.worklist_filter(&mut q, query, org, search.as_deref(), true);
                q.push(" AND f.priority_rank > ")
                    .push_bind(after.rank)
                    .push(" ORDER BY f.priority_rank, f.remediate_order, f.id LIMIT ")
                    .push_bind(query.limit)
                    .push(
                        ") AS lower_priorities ORDER BY priority_rank, remediate_order, id LIMIT ",
                    )
                    .push_bind(query.limit);
                q
            }
        };
        let rows = q.build().fetch_all(&self.pool).await?;
        let rows = rows.iter().map(finding_row).collect::<Result<_>>()?;
        Ok((rows, total))
    }

    /// The worklist's conditions. Open findings are asked for as `f.resolved_at IS NULL` in
    /// the statement's text (not through a parameter), so the planner can use the partial
    /// indexes in worklist order.
    fn worklist_filter(
        &self,
        q: &mut Sql,
        query: &FindingQuery,
        org: Option<OrgId>,
        search: Option<&str>,
        asset_joined: bool,
    ) {
        q.push(if query.resolved {
            "1 = 1"
        } else {
            "f.resolved_at IS NULL"
        });
        if let Some(org) = org {
            q.push(" AND f.organisation_id = ").push_bind(org);
        }
        if let Some(p) = query.priority {
            // The rank too: the indexes are in rank order, so a priority is a range of them.
            let rank = Priority::ALL.iter().position(|x| *x == p).unwrap_or(0) as i64;
            q.push(" AND f.priority = ")
                .push_bind(p.as_str())
                .push(" AND f.priority_rank = ")
                .push_bind(rank);
        }
        if let Some(asset) = query.asset_id {
            q.push(" AND f.asset_id = ").push_bind(asset);
        }
        if let Some(v) = &query.vulnerability {
            q.push(" AND f.vuln_id = ").push_bind(v.clone());
        }
        if let Some(pattern) = search {
            q.push(" AND (lower(f.vuln_id) LIKE ")
                .push_bind(pattern.to_owned())
                .push(" ESCAPE '\\' OR lower(f.component) LIKE ")
                .push_bind(pattern.to_owned())
                .push(" ESCAPE '\\' OR ");
            if asset_joined {
                q.push("lower(a.name) LIKE ")
                    .push_bind(pattern.to_owned())
                    .push(" ESCAPE '\\')");
            } else {
                q.push("f.asset_id IN (SELECT id FROM asset WHERE lower(name) LIKE ")
                    .push_bind(pattern.to_owned())
                    .push(" ESCAPE '\\'");
                if let Some(org) = org {
                    q.push(" AND organisation_id = ").push_bind(org);
                }
                q.push("))");
            }
        }
    }
}

impl Store {
    /// One finding, if it is within the scope (`Some(org)`: that organisation's only).
    pub async fn finding(&self, scope: Scope, id: FindingId) -> Result<Option<FindingRow>> {
        let row = sqlx::query(
            "SELECT f.id, f.organisation_id, o.slug, f.asset_id, a.name AS asset, f.vuln_id, f.component, f.priority,
                    f.first_seen, f.updated_at, f.resolved_at, f.resolution, f.resolution_reason, f.payload,
                    f.detail, f.component_detail, d.body AS detail_body, c.body AS component_body, f.acknowledge_by, f.remediate_by,
                    f.priority_rank, f.remediate_order
             FROM finding f JOIN asset a ON a.id = f.asset_id JOIN organisation o ON o.id = f.organisation_id
             LEFT JOIN finding_detail d ON d.hash = f.detail
             LEFT JOIN finding_detail c ON c.hash = f.component_detail
             WHERE f.id = $1 AND ($2 IS NULL OR f.organisation_id = $2)",
        )
        .bind(id)
        .bind(scope.organisation())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(finding_row).transpose()
    }
}

/// The finding of a row that selected `payload`, `detail`, `component_detail`, the deadline
/// columns and the joined `detail_body` and `component_body`.
pub(crate) fn stored_finding(
    r: &sqlx::any::AnyRow,
    id: impl ToString,
) -> Result<serde_json::Value> {
    let stored = crate::finding_detail::Stored::of_row(r)?;
    // A key whose text is gone (deleted by hand, a copy cut short) is named, not read as empty.
    for (column, joined) in [
        ("detail", stored.body),
        ("component_detail", stored.component),
    ] {
        if let (Some(hash), None) = (r.try_get::<Option<&str>, _>(column)?, joined) {
            return Err(StoreError::Unreadable {
                table: "finding",
                row: id.to_string(),
                column,
                message: format!("its {column} {hash} is not in finding_detail"),
            });
        }
    }
    crate::finding_detail::merge_value(&stored).map_err(|message| StoreError::Unreadable {
        table: "finding",
        row: id.to_string(),
        column: "payload",
        message,
    })
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
        finding: stored_finding(r, id)?,
        position: WorklistCursor {
            rank: r.get("priority_rank"),
            id,
            remediate: r.get("remediate_order"),
        },
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
            after: None,
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
    /// Findings skipped before the page (ignored when `after` is given).
    pub offset: i64,
    /// The page starts after this place (keyset paging: what to use past the first pages).
    pub after: Option<WorklistCursor>,
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
