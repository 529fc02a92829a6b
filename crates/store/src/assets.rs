//! Members' assets, their inventory history and the findings of their current inventory.
//!
//! Every read takes the organisation it is for (`None` only for the central team's views);
//! an asset looked up by id outside the caller's organisation does not exist for them.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use ward_model::{Component, Criticality, Exposure, Finding};

use crate::federation::now;
use crate::{AlertRow, Result, Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct AssetRow {
    pub id: i64,
    /// The organisation's internal id (what the store's queries filter on).
    #[serde(skip)]
    pub organisation_id: i64,
    pub organisation: String,
    pub name: String,
    pub exposure: Option<String>,
    pub criticality: Option<String>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The current inventory's version (0: none uploaded yet).
    pub inventory_version: i64,
    pub components: i64,
    pub open_findings: i64,
}

impl AssetRow {
    /// The asset as matching sees it (exposure and criticality drive priority).
    pub fn model(&self, components: Vec<Component>) -> ward_model::Asset {
        ward_model::Asset {
            name: self.name.clone(),
            exposure: self.exposure.as_deref().and_then(|e| e.parse().ok()),
            criticality: self.criticality.as_deref().and_then(|c| c.parse().ok()),
            components,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewAsset {
    pub name: String,
    pub exposure: Option<Exposure>,
    pub criticality: Option<Criticality>,
    pub tags: Vec<String>,
}

/// An inventory to store as an asset's current one, with what it was matched to.
#[derive(Debug, Clone, Copy)]
pub struct InventoryUpload<'a> {
    /// The format it was read as (`cyclonedx-json`, `csv`, …) and the file's name.
    pub format: &'a str,
    pub file_name: &'a str,
    /// The file as uploaded (its SHA-256 is kept).
    pub bytes: &'a [u8],
    pub components: &'a [Component],
    /// The (vendor, product) keys continuous matching finds the asset by.
    pub keys: &'a [(Option<String>, String)],
    /// The findings of matching `components`.
    pub findings: &'a [Finding],
    /// [`Store::knowledge_mark`], read before the knowledge the findings were matched with.
    pub knowledge_mark: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InventoryVersion {
    pub version: i64,
    pub format: String,
    pub file_name: String,
    pub components: i64,
    pub content_hash: String,
    pub uploaded_at: String,
    pub uploaded_by: String,
}

/// A finding as stored, with its history.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    pub id: i64,
    pub organisation: String,
    pub asset_id: i64,
    pub asset: String,
    pub vulnerability: String,
    pub component: String,
    pub priority: String,
    pub first_seen: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub finding: serde_json::Value,
}

/// What an upload changed.
#[derive(Debug, Clone, Serialize)]
pub struct UploadOutcome {
    pub asset: i64,
    pub version: i64,
    pub components: usize,
    pub new: Vec<FindingChange>,
    pub changed: Vec<FindingChange>,
    pub resolved: Vec<FindingChange>,
    pub unchanged: usize,
    /// Vulnerability alerts raised, reopened, updated or remediated by this upload.
    pub alerts: Vec<crate::AlertRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingChange {
    pub vulnerability: String,
    pub component: String,
    pub priority: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_priority: Option<String>,
}

impl UploadOutcome {
    fn empty(asset: i64, version: i64, components: usize) -> Self {
        Self {
            asset,
            version,
            components,
            new: Vec::new(),
            changed: Vec::new(),
            resolved: Vec::new(),
            unchanged: 0,
            alerts: Vec::new(),
        }
    }

    /// The vulnerabilities whose findings this change added, changed or resolved.
    pub fn touched(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .new
            .iter()
            .chain(&self.changed)
            .chain(&self.resolved)
            .map(|f| f.vulnerability.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// How a finding's component is named in the store (the key of a finding with its vulnerability).
pub fn component_key(f: &Finding) -> String {
    match (&f.component.purl, &f.component.version) {
        (Some(purl), _) => purl.clone(),
        (None, Some(v)) => format!("{}@{v}", f.component.name),
        (None, None) => f.component.name.clone(),
    }
}

fn asset_row(r: &sqlx::any::AnyRow) -> AssetRow {
    AssetRow {
        id: r.get("id"),
        organisation_id: r.get("organisation_id"),
        organisation: r.get("slug"),
        name: r.get("name"),
        exposure: r.get("exposure"),
        criticality: r.get("criticality"),
        tags: serde_json::from_str(r.get::<&str, _>("tags")).unwrap_or_default(),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        inventory_version: r.get("inventory_version"),
        components: r.get("components"),
        open_findings: r.get("open_findings"),
    }
}

/// The asset columns `asset_row()` reads (a macro: sqlx takes only literal SQL).
macro_rules! asset_select {
    () => {
        "SELECT a.id, a.organisation_id, o.slug, a.name, a.exposure, a.criticality, a.tags, a.created_at, a.updated_at,
                COALESCE((SELECT MAX(v.version) FROM inventory_version v WHERE v.asset_id = a.id), 0) AS inventory_version,
                COALESCE((SELECT v.components FROM inventory_version v WHERE v.asset_id = a.id ORDER BY v.version DESC LIMIT 1), 0) AS components,
                (SELECT COUNT(*) FROM finding f WHERE f.asset_id = a.id AND f.resolved_at IS NULL) AS open_findings
         FROM asset a JOIN organisation o ON o.id = a.organisation_id"
    };
}

impl Store {
    pub async fn create_asset(
        &self,
        actor: &str,
        organisation_id: i64,
        asset: &NewAsset,
    ) -> Result<AssetRow> {
        let name = asset.name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid("asset name is empty".into()));
        }
        let mut change = self.begin_change(actor).await?;
        let exists = sqlx::query("SELECT 1 FROM asset WHERE organisation_id = $1 AND name = $2")
            .bind(organisation_id)
            .bind(name)
            .fetch_optional(&mut *change.tx)
            .await?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!(
                "asset {name:?} exists already"
            )));
        }
        let at = now();
        let row = sqlx::query(
            "INSERT INTO asset (organisation_id, name, exposure, criticality, tags, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(organisation_id)
        .bind(name)
        .bind(asset.exposure.map(Exposure::as_str))
        .bind(asset.criticality.map(Criticality::as_str))
        .bind(serde_json::to_string(&asset.tags).expect("strings"))
        .bind(&at)
        .fetch_one(&mut *change.tx)
        .await?;
        let id: i64 = row.get("id");
        let created = sqlx::query(concat!(asset_select!(), " WHERE a.id = $1"))
            .bind(id)
            .fetch_one(&mut *change.tx)
            .await?;
        let created = asset_row(&created);
        change
            .log(
                Some(organisation_id),
                "asset.create",
                &format!("asset:{id}"),
                None,
                Some(&serde_json::to_value(&created).expect("serialisable")),
            )
            .await?;
        change.commit().await?;
        Ok(created)
    }

    /// Assets of one organisation, or of all (`None`).
    pub async fn assets(&self, organisation_id: Option<i64>) -> Result<Vec<AssetRow>> {
        let rows = sqlx::query(concat!(
            asset_select!(),
            " WHERE ($1 IS NULL OR a.organisation_id = $1) ORDER BY o.slug, a.name"
        ))
        .bind(organisation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(asset_row).collect())
    }

    /// One asset, if it exists within the scope (`None`: any organisation).
    pub async fn asset(&self, organisation_id: Option<i64>, id: i64) -> Result<Option<AssetRow>> {
        let row = sqlx::query(concat!(
            asset_select!(),
            " WHERE a.id = $1 AND ($2 IS NULL OR a.organisation_id = $2)"
        ))
        .bind(id)
        .bind(organisation_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(asset_row))
    }

    /// These assets with their current components, for matching (in a few statements, not
    /// two per asset; `open_findings` is not counted here: 0).
    pub async fn assets_for_matching(
        &self,
        ids: &[i64],
    ) -> Result<Vec<(AssetRow, Vec<Component>)>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut q = crate::sql::Sql::new(self.backend, "SELECT a.id, a.organisation_id, o.slug, a.name, a.exposure, a.criticality, a.tags, a.created_at, a.updated_at,
                        COALESCE(v.version, 0) AS inventory_version, COALESCE(v.components, 0) AS components,
                        0 AS open_findings, v.payload
                 FROM asset a JOIN organisation o ON o.id = a.organisation_id
                 LEFT JOIN inventory_version v ON v.asset_id = a.id
                      AND v.version = (SELECT MAX(w.version) FROM inventory_version w WHERE w.asset_id = a.id)
                 WHERE a.id IN (",
            );
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(id);
            }
            q.push(") ORDER BY a.id");
            for r in q.build().fetch_all(&self.pool).await? {
                let asset = asset_row(&r);
                let components = match r.get::<Option<&str>, _>("payload") {
                    None => Vec::new(),
                    Some(p) => serde_json::from_str(p).map_err(|e| StoreError::Corrupt {
                        vuln_id: format!("asset {}", asset.id),
                        source_key: "inventory".into(),
                        message: e.to_string(),
                    })?,
                };
                out.push((asset, components));
            }
        }
        Ok(out)
    }

    /// The organisations whose current inventories name any of these (vendor, product) pairs
    /// (a vendor of `*` matches any; a component without a vendor matches any vendor).
    pub async fn organisations_mentioning(
        &self,
        products: &[(String, String)],
    ) -> Result<HashSet<i64>> {
        let mut out = HashSet::new();
        for (vendor, product) in products {
            let rows = sqlx::query(
                "SELECT DISTINCT a.organisation_id FROM asset_product ap JOIN asset a ON a.id = ap.asset_id
                 WHERE ap.product = $1 AND ($2 = '*' OR ap.vendor = '' OR ap.vendor = $2)",
            )
            .bind(product)
            .bind(vendor)
            .fetch_all(&self.pool)
            .await?;
            out.extend(rows.iter().map(|r| r.get::<i64, _>(0)));
        }
        Ok(out)
    }

    /// The components of an asset's current inventory.
    pub async fn current_components(&self, asset_id: i64) -> Result<Vec<Component>> {
        let row = sqlx::query(
            "SELECT payload FROM inventory_version WHERE asset_id = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(asset_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(Vec::new()),
            Some(r) => {
                serde_json::from_str(r.get::<&str, _>("payload")).map_err(|e| StoreError::Corrupt {
                    vuln_id: format!("asset {asset_id}"),
                    source_key: "inventory".into(),
                    message: e.to_string(),
                })
            }
        }
    }

    pub async fn inventory_history(&self, asset_id: i64) -> Result<Vec<InventoryVersion>> {
        let rows = sqlx::query(
            "SELECT version, format, file_name, components, content_hash, uploaded_at, uploaded_by
             FROM inventory_version WHERE asset_id = $1 ORDER BY version",
        )
        .bind(asset_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| InventoryVersion {
                version: r.get("version"),
                format: r.get("format"),
                file_name: r.get("file_name"),
                components: r.get("components"),
                content_hash: r.get("content_hash"),
                uploaded_at: r.get("uploaded_at"),
                uploaded_by: r.get("uploaded_by"),
            })
            .collect())
    }

    /// Stores a new inventory version for an asset and replaces its findings with `findings`
    /// (matched against that inventory): new ones are added, changed ones updated, missing ones
    /// resolved; all in one transaction with its audit entry.
    ///
    /// Refused with [`StoreError::KnowledgeMoved`] (nothing stored) when an import committed
    /// after `upload.knowledge_mark` was read: the findings may predate it, and continuous
    /// matching may already have passed this asset by. The caller matches again and retries.
    pub async fn upload_inventory(
        &self,
        actor: &str,
        asset: &AssetRow,
        upload: &InventoryUpload<'_>,
        alert_threshold: &str,
    ) -> Result<UploadOutcome> {
        let InventoryUpload {
            format,
            file_name,
            bytes,
            components,
            keys,
            findings,
            knowledge_mark,
        } = *upload;
        let organisation_id = asset.organisation_id;
        let mut change = self.begin_change(actor).await?;
        // Under the change's write lock: no re-match commits between this check and the commit.
        if knowledge_mark_in(&mut change.tx).await? != knowledge_mark {
            change.tx.rollback().await?;
            return Err(StoreError::KnowledgeMoved);
        }
        let at = now();
        let version: i64 = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) + 1 AS v FROM inventory_version WHERE asset_id = $1",
        )
        .bind(asset.id)
        .fetch_one(&mut *change.tx)
        .await?
        .get("v");
        sqlx::query(
            "INSERT INTO inventory_version (asset_id, version, format, file_name, components, content_hash, payload, uploaded_at, uploaded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(asset.id)
        .bind(version)
        .bind(format)
        .bind(file_name)
        .bind(components.len() as i64)
        .bind(hex::encode(Sha256::digest(bytes)))
        .bind(serde_json::to_string(components).expect("serialisable"))
        .bind(&at)
        .bind(actor)
        .execute(&mut *change.tx)
        .await?;

        let mut outcome = UploadOutcome::empty(asset.id, version, components.len());
        apply_findings(
            &mut change,
            asset.id,
            organisation_id,
            findings,
            None,
            &at,
            &mut outcome,
        )
        .await?;
        sqlx::query("DELETE FROM asset_product WHERE asset_id = $1")
            .bind(asset.id)
            .execute(&mut *change.tx)
            .await?;
        for chunk in keys.chunks(300) {
            let mut q = crate::sql::Sql::new(
                self.backend,
                "INSERT INTO asset_product (asset_id, vendor, product) ",
            );
            q.push_values(chunk, |mut b, (vendor, product)| {
                b.push_bind(asset.id)
                    .push_bind(vendor.clone().unwrap_or_default())
                    .push_bind(product);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().execute(&mut *change.tx).await?;
        }
        change
            .log(
                Some(organisation_id),
                "inventory.upload",
                &format!("asset:{}", asset.id),
                Some(&serde_json::json!({"version": version - 1})),
                Some(&serde_json::json!({
                    "version": version,
                    "file_name": file_name,
                    "format": format,
                    "components": components.len(),
                    "new": outcome.new.len(),
                    "changed": outcome.changed.len(),
                    "resolved": outcome.resolved.len(),
                })),
            )
            .await?;
        sqlx::query("UPDATE asset SET updated_at = $1 WHERE id = $2")
            .bind(&at)
            .bind(asset.id)
            .execute(&mut *change.tx)
            .await?;
        outcome.alerts = crate::alerts::sync_alerts(
            &mut change,
            organisation_id,
            alert_threshold,
            &outcome.touched(),
        )
        .await?;
        change.commit().await?;
        Ok(outcome)
    }

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
        let (total, rows) = match query.organisation_id {
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
                .bind(&query.priority)
                .bind(&search)
                .bind(query.asset_id)
                .bind(&query.vulnerability)
                .fetch_one(&self.pool)
                .await?
                .get("n");
                let rows = sqlx::query(
                    "SELECT f.id, o.slug, f.asset_id, a.name AS asset, f.vuln_id, f.component, f.priority,
                            f.first_seen, f.updated_at, f.resolved_at, f.payload
                     FROM finding f JOIN asset a ON a.id = f.asset_id JOIN organisation o ON o.id = f.organisation_id
                     WHERE f.organisation_id = $1 AND ($2 OR f.resolved_at IS NULL) AND ($3 IS NULL OR f.priority = $3)
                       AND ($4 IS NULL OR lower(f.vuln_id) LIKE $4 ESCAPE '\\' OR lower(a.name) LIKE $4 ESCAPE '\\' OR lower(f.component) LIKE $4 ESCAPE '\\')
                       AND ($5 IS NULL OR f.asset_id = $5) AND ($6 IS NULL OR f.vuln_id = $6)
                     ORDER BY f.priority_rank, COALESCE(f.remediate_by, '~'), f.id
                     LIMIT $7 OFFSET $8",
                )
                .bind(org)
                .bind(query.resolved)
                .bind(&query.priority)
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
                .bind(&query.priority)
                .bind(&search)
                .bind(query.asset_id)
                .bind(&query.vulnerability)
                .fetch_one(&self.pool)
                .await?
                .get("n");
                let rows = sqlx::query(
                    "SELECT f.id, o.slug, f.asset_id, a.name AS asset, f.vuln_id, f.component, f.priority,
                            f.first_seen, f.updated_at, f.resolved_at, f.payload
                     FROM finding f JOIN asset a ON a.id = f.asset_id JOIN organisation o ON o.id = f.organisation_id
                     WHERE ($1 OR f.resolved_at IS NULL) AND ($2 IS NULL OR f.priority = $2)
                       AND ($3 IS NULL OR lower(f.vuln_id) LIKE $3 ESCAPE '\\' OR lower(a.name) LIKE $3 ESCAPE '\\' OR lower(f.component) LIKE $3 ESCAPE '\\')
                       AND ($4 IS NULL OR f.asset_id = $4) AND ($5 IS NULL OR f.vuln_id = $5)
                     ORDER BY f.priority_rank, COALESCE(f.remediate_by, '~'), f.id
                     LIMIT $6 OFFSET $7",
                )
                .bind(query.resolved)
                .bind(&query.priority)
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
        let rows = rows.iter().map(finding_row).collect();
        Ok((rows, total))
    }
}

impl Store {
    /// One finding, if it is within the scope (`Some(org)`: that organisation's only).
    pub async fn finding(
        &self,
        organisation_id: Option<i64>,
        id: i64,
    ) -> Result<Option<FindingRow>> {
        let row = sqlx::query(
            "SELECT f.id, o.slug, f.asset_id, a.name AS asset, f.vuln_id, f.component, f.priority,
                    f.first_seen, f.updated_at, f.resolved_at, f.payload
             FROM finding f JOIN asset a ON a.id = f.asset_id JOIN organisation o ON o.id = f.organisation_id
             WHERE f.id = $1 AND ($2 IS NULL OR f.organisation_id = $2)",
        )
        .bind(id)
        .bind(organisation_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(finding_row))
    }
}

fn finding_row(r: &sqlx::any::AnyRow) -> FindingRow {
    FindingRow {
        id: r.get("id"),
        organisation: r.get("slug"),
        asset_id: r.get("asset_id"),
        asset: r.get("asset"),
        vulnerability: r.get("vuln_id"),
        component: r.get("component"),
        priority: r.get("priority"),
        first_seen: r.get("first_seen"),
        updated_at: r.get("updated_at"),
        resolved_at: r.get("resolved_at"),
        finding: serde_json::from_str(r.get::<&str, _>("payload"))
            .unwrap_or(serde_json::Value::Null),
    }
}

/// What the worklist asks for.
#[derive(Debug, Clone, Default)]
pub struct FindingQuery {
    pub organisation_id: Option<i64>,
    pub resolved: bool,
    pub priority: Option<String>,
    /// Text found in the vulnerability id, the asset's name or the component (as typed: `%`
    /// and `_` are not wildcards).
    pub search: Option<String>,
    pub asset_id: Option<i64>,
    /// Only this vulnerability's findings (exactly).
    pub vulnerability: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// Findings per multi-row statement: 10 parameters each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535.
const FINDING_CHUNK: usize = 500;

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

/// Replaces an asset's open findings with `findings`: new ones added, changed ones updated,
/// missing ones resolved (recorded in `outcome`).
async fn apply_findings(
    change: &mut crate::Change,
    asset_id: i64,
    organisation_id: i64,
    findings: &[Finding],
    scope: Option<&HashSet<String>>,
    at: &str,
    outcome: &mut UploadOutcome,
) -> Result<()> {
    let existing = match scope {
        // A few changed vulnerabilities: only their rows are read (by the asset's unique key).
        Some(vulns) if vulns.len() <= 100 => {
            let mut q = crate::sql::Sql::new(crate::Backend::of(&change.tx), "SELECT vuln_id, component, priority FROM finding WHERE asset_id = ",
            );
            q.push_bind(asset_id)
                .push(" AND resolved_at IS NULL AND vuln_id IN (");
            let mut sep = q.separated(", ");
            for v in vulns {
                sep.push_bind(v);
            }
            q.push(")");
            q.build().fetch_all(&mut *change.tx).await?
        }
        _ => {
            sqlx::query(
                "SELECT vuln_id, component, priority FROM finding WHERE asset_id = $1 AND resolved_at IS NULL",
            )
            .bind(asset_id)
            .fetch_all(&mut *change.tx)
            .await?
        }
    };
    // Scoped (a knowledge change): findings of other vulnerabilities are left as they are.
    let mut open: HashMap<(String, String), String> = existing
        .iter()
        .map(|r| ((r.get("vuln_id"), r.get("component")), r.get("priority")))
        .filter(|((vuln, _), _): &((String, String), String)| {
            scope.is_none_or(|s| s.contains(vuln))
        })
        .collect();
    // One row per (vulnerability, component): the last finding for a key is the one stored.
    let mut rows: Vec<((String, String), String, &Finding)> = Vec::with_capacity(findings.len());
    let mut index: HashMap<(String, String), usize> = HashMap::with_capacity(findings.len());
    for f in findings {
        let key = (f.vulnerability.clone(), component_key(f));
        let priority = f.priority.as_str().to_owned();
        match index.get(&key) {
            Some(&i) => rows[i] = (key, priority, f),
            None => {
                index.insert(key.clone(), rows.len());
                rows.push((key, priority, f));
            }
        }
    }
    // Written many rows per statement (a round trip per few hundred findings, which matters
    // on PostgreSQL over the network), in the change's transaction.
    for chunk in rows.chunks(FINDING_CHUNK) {
        let mut q = crate::sql::Sql::new(crate::Backend::of(&change.tx), "INSERT INTO finding (organisation_id, asset_id, vuln_id, component, priority, payload, first_seen, updated_at,
                                  priority_rank, remediate_by) ",
        );
        q.push_values(chunk, |mut b, (key, priority, f)| {
            b.push_bind(organisation_id)
                .push_bind(asset_id)
                .push_bind(key.0.as_str())
                .push_bind(key.1.as_str())
                .push_bind(priority.as_str())
                .push_bind(serde_json::to_string(*f).expect("serialisable"))
                .push_bind(at)
                .push_bind(at)
                .push_bind(
                    crate::alerts::PRIORITIES
                        .iter()
                        .position(|p| p == priority)
                        .unwrap_or(3) as i64,
                )
                .push_bind(
                    f.deadlines
                        .remediate_by
                        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                );
        });
        q.push(
            " ON CONFLICT (asset_id, vuln_id, component) DO UPDATE SET
                 priority = excluded.priority, payload = excluded.payload,
                 updated_at = excluded.updated_at, resolved_at = NULL,
                 priority_rank = excluded.priority_rank, remediate_by = excluded.remediate_by",
        );
        q.build().execute(&mut *change.tx).await?;
    }
    for (key, priority, _) in rows {
        let previous = open.remove(&key);
        let entry = FindingChange {
            vulnerability: key.0,
            component: key.1,
            priority: priority.clone(),
            previous_priority: previous.clone().filter(|p| *p != priority),
        };
        match previous {
            None => outcome.new.push(entry),
            Some(p) if p != priority => outcome.changed.push(entry),
            Some(_) => outcome.unchanged += 1,
        }
    }
    let mut gone: Vec<((String, String), String)> = open.into_iter().collect();
    gone.sort();
    for chunk in gone.chunks(FINDING_CHUNK) {
        let mut q = crate::sql::Sql::new(
            crate::Backend::of(&change.tx),
            "UPDATE finding SET resolved_at = ",
        );
        q.push_bind(at).push(", updated_at = ").push_bind(at);
        q.push(" WHERE asset_id = ").push_bind(asset_id);
        q.push(" AND (vuln_id, component) IN (VALUES ");
        let mut list = q.separated(", ");
        for ((vuln, component), _) in chunk {
            list.push("(")
                .push_bind_unseparated(vuln.as_str())
                .push_unseparated(", ");
            list.push_bind_unseparated(component.as_str())
                .push_unseparated(")");
        }
        q.push(")");
        q.build().execute(&mut *change.tx).await?;
    }
    for ((vuln, component), priority) in gone {
        outcome.resolved.push(FindingChange {
            vulnerability: vuln,
            component,
            priority,
            previous_priority: None,
        });
    }
    outcome
        .resolved
        .sort_by(|a, b| (&a.vulnerability, &a.component).cmp(&(&b.vulnerability, &b.component)));
    Ok(())
}

impl Store {
    /// Knowledge changes not yet matched: the last sequence number and the vulnerabilities
    /// (at most `limit` changes).
    pub async fn pending_knowledge_changes(
        &self,
        limit: i64,
    ) -> Result<Option<(i64, Vec<String>)>> {
        let rows = sqlx::query(
            "SELECT seq, vuln_id FROM knowledge_change
             WHERE seq > (SELECT seq FROM matching_cursor WHERE id = 1) ORDER BY seq LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let Some(last) = rows.last().map(|r| r.get::<i64, _>("seq")) else {
            return Ok(None);
        };
        let mut vulns: Vec<String> = rows.iter().map(|r| r.get("vuln_id")).collect();
        vulns.sort();
        vulns.dedup();
        Ok(Some((last, vulns)))
    }

    /// Assets a change to these vulnerabilities can touch: those whose inventory names a
    /// product the vulnerabilities' records name, and those with open findings of them.
    pub async fn assets_touched(&self, vulns: &[String]) -> Result<Vec<i64>> {
        let mut ids = std::collections::BTreeSet::new();
        for chunk in vulns.chunks(300) {
            let mut q = crate::sql::Sql::new(self.backend, "SELECT DISTINCT ap.asset_id FROM asset_product ap JOIN advisory_product v ON v.product = ap.product
                 WHERE (v.vendor = ap.vendor OR v.vendor = '*' OR ap.vendor = '') AND v.vuln_id IN (",
            );
            let mut sep = q.separated(", ");
            for v in chunk {
                sep.push_bind(v);
            }
            q.push(") UNION SELECT DISTINCT asset_id FROM finding WHERE resolved_at IS NULL AND vuln_id IN (");
            let mut sep = q.separated(", ");
            for v in chunk {
                sep.push_bind(v);
            }
            q.push(")");
            for r in q.build().fetch_all(&self.pool).await? {
                ids.insert(r.get::<i64, _>(0));
            }
        }
        Ok(ids.into_iter().collect())
    }

    /// Replaces these assets' findings after the knowledge base changed (their inventories did
    /// not), and brings their organisations' alerts in line, in one audited transaction (a
    /// batch: one commit for many assets). With `scope`, only findings of those
    /// vulnerabilities are compared and written.
    ///
    /// An asset whose inventory changed since it was read for matching is left as it is and
    /// reported `superseded`: its newer inventory's findings stand, and the caller matches
    /// it again (an upload may have been matched just before this knowledge committed).
    pub async fn rematch_assets(
        &self,
        batch: &[(&AssetRow, Vec<Finding>)],
        scope: Option<&HashSet<String>>,
        alert_threshold: &str,
    ) -> Result<Rematch> {
        let mut change = self.begin_change("ward:matching").await?;
        let at = now();
        // Read under the change's write lock, so no upload commits between this and the commit.
        let mut current: HashMap<i64, i64> = HashMap::with_capacity(batch.len());
        for chunk in batch.chunks(500) {
            let mut q = crate::sql::Sql::new(
                self.backend,
                "SELECT a.id, COALESCE(MAX(v.version), 0) AS version FROM asset a
                 LEFT JOIN inventory_version v ON v.asset_id = a.id WHERE a.id IN (",
            );
            let mut sep = q.separated(", ");
            for (asset, _) in chunk {
                sep.push_bind(asset.id);
            }
            q.push(") GROUP BY a.id");
            for r in q.build().fetch_all(&mut *change.tx).await? {
                current.insert(r.get("id"), r.get("version"));
            }
        }
        let mut superseded = Vec::new();
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut wrote = false;
        // Alerts are brought in line once per organisation of the batch, for every
        // vulnerability whose findings changed on any of its assets.
        let mut touched: std::collections::BTreeMap<i64, std::collections::BTreeSet<String>> =
            std::collections::BTreeMap::new();
        for (asset, findings) in batch {
            if current.get(&asset.id) != Some(&asset.inventory_version) {
                superseded.push(asset.id);
                continue;
            }
            let organisation_id = asset.organisation_id;
            let mut outcome =
                UploadOutcome::empty(asset.id, asset.inventory_version, asset.components as usize);
            apply_findings(
                &mut change,
                asset.id,
                organisation_id,
                findings,
                scope,
                &at,
                &mut outcome,
            )
            .await?;
            // A knowledge change with the same priorities still refreshes the findings'
            // explanations (a KEV listing, a new EPSS score); a full re-match that changed
            // nothing is not kept.
            wrote |= scope.is_some() && outcome.unchanged > 0;
            if !(outcome.new.is_empty()
                && outcome.changed.is_empty()
                && outcome.resolved.is_empty())
            {
                wrote = true;
                change
                    .log(
                        Some(organisation_id),
                        "findings.rematch",
                        &format!("asset:{}", asset.id),
                        None,
                        Some(&serde_json::json!({
                            "new": outcome.new.len(),
                            "changed": outcome.changed.len(),
                            "resolved": outcome.resolved.len(),
                        })),
                    )
                    .await?;
                touched
                    .entry(organisation_id)
                    .or_default()
                    .extend(outcome.touched());
            }
            outcomes.push(outcome);
        }
        let mut alerts = Vec::new();
        for (organisation_id, vulns) in touched {
            let vulns: Vec<String> = vulns.into_iter().collect();
            alerts.extend(
                crate::alerts::sync_alerts(&mut change, organisation_id, alert_threshold, &vulns)
                    .await?,
            );
        }
        if wrote {
            change.commit().await?;
        } else {
            change.tx.rollback().await?;
        }
        Ok(Rematch {
            outcomes,
            alerts,
            superseded,
        })
    }

    /// Marks knowledge changes up to `seq` as matched.
    pub async fn advance_matching_cursor(&self, seq: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE matching_cursor SET seq = $1 WHERE id = 1 AND seq < $1")
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM knowledge_change WHERE seq <= $1")
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What re-matching a batch of assets did.
#[derive(Debug)]
pub struct Rematch {
    /// One per asset re-matched, in the batch's order.
    pub outcomes: Vec<UploadOutcome>,
    /// Alerts raised, updated or remediated.
    pub alerts: Vec<AlertRow>,
    /// Assets left alone because a newer inventory was uploaded since they were read.
    pub superseded: Vec<i64>,
}

/// The knowledge mark as the transaction sees it.
async fn knowledge_mark_in(conn: &mut sqlx::AnyConnection) -> Result<i64> {
    Ok(sqlx::query(KNOWLEDGE_MARK).fetch_one(conn).await?.get("m"))
}

/// The newest knowledge change, matched (the cursor) or not: it moves whenever an import that
/// changed something commits.
const KNOWLEDGE_MARK: &str = "SELECT COALESCE(MAX(s), 0) AS m FROM (
    SELECT seq AS s FROM matching_cursor WHERE id = 1
    UNION ALL SELECT MAX(seq) AS s FROM knowledge_change) marks";

impl Store {
    /// The newest knowledge change, matched or not (0 when none ever was). Read before
    /// matching an inventory and handed to [`Store::upload_inventory`] with its findings, which
    /// refuses them if an import has committed since; a full re-match that starts after reading
    /// it covers every change up to it.
    pub async fn knowledge_mark(&self) -> Result<i64> {
        Ok(sqlx::query(KNOWLEDGE_MARK)
            .fetch_one(&self.pool)
            .await?
            .get("m"))
    }
}
