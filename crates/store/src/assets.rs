//! Members' assets, their inventory history and the findings of their current inventory.
//!
//! Every read takes the organisation it is for (`None` only for the central team's views);
//! an asset looked up by id outside the caller's organisation does not exist for them.

use std::collections::HashSet;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use ward_model::{Component, Criticality, Exposure, Finding, Priority};

use crate::audit::now;
use crate::rematch::{apply_findings, knowledge_mark_in};
use crate::rows::{parse_optional, time};
use crate::{AssetId, OrgId, Result, Scope, Store, StoreError};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssetRow {
    pub id: AssetId,
    /// The organisation's internal id (what the store's queries filter on).
    #[serde(skip)]
    pub organisation_id: OrgId,
    pub organisation: String,
    pub name: String,
    pub exposure: Option<Exposure>,
    pub criticality: Option<Criticality>,
    pub tags: Vec<String>,
    #[serde(with = "ward_model::timestamp::millis")]
    #[schemars(with = "String")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ward_model::timestamp::millis")]
    #[schemars(with = "String")]
    pub updated_at: DateTime<Utc>,
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
            exposure: self.exposure,
            criticality: self.criticality,
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
    /// How many of the asset's newest versions keep their components (the policy's
    /// `inventory_versions`); older ones keep only their history row. At least 1.
    pub keep_versions: usize,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InventoryVersion {
    pub version: i64,
    pub format: String,
    pub file_name: String,
    pub components: i64,
    pub content_hash: String,
    pub uploaded_at: String,
    pub uploaded_by: String,
    /// Whether the version's components are still stored (older versions than the policy's
    /// `inventory_versions` newest keep only this row).
    pub components_kept: bool,
}

/// What an upload changed.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UploadOutcome {
    pub asset: AssetId,
    pub version: i64,
    pub components: usize,
    pub new: Vec<FindingChange>,
    pub changed: Vec<FindingChange>,
    pub resolved: Vec<FindingChange>,
    pub unchanged: usize,
    /// Vulnerability alerts raised, reopened, updated or remediated by this upload.
    pub alerts: Vec<crate::AlertRow>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FindingChange {
    pub vulnerability: String,
    pub component: String,
    pub priority: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_priority: Option<String>,
    /// Why it came or went when the knowledge changed (which source says what, before and
    /// after); an upload's own changes need no reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl UploadOutcome {
    pub(crate) fn empty(asset: AssetId, version: i64, components: usize) -> Self {
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
    component_ref_key(&f.component)
}

/// [`component_key`] of a component as a finding names it.
pub fn component_ref_key(c: &ward_model::ComponentRef) -> String {
    match (&c.purl, &c.version) {
        (Some(purl), _) => purl.clone(),
        (None, Some(v)) => format!("{}@{v}", c.name),
        (None, None) => c.name.clone(),
    }
}

fn asset_row(r: &sqlx::any::AnyRow) -> Result<AssetRow> {
    let id: AssetId = r.try_get("id")?;
    Ok(AssetRow {
        id,
        organisation_id: r.get("organisation_id"),
        organisation: r.get("slug"),
        name: r.get("name"),
        exposure: parse_optional(r, "asset", id, "exposure")?,
        criticality: parse_optional(r, "asset", id, "criticality")?,
        tags: serde_json::from_str(r.get::<&str, _>("tags")).map_err(|e| {
            StoreError::Unreadable {
                table: "asset",
                row: id.to_string(),
                column: "tags",
                message: e.to_string(),
            }
        })?,
        created_at: time(r, "asset", id, "created_at")?,
        updated_at: time(r, "asset", id, "updated_at")?,
        inventory_version: r.get("inventory_version"),
        components: r.get("components"),
        open_findings: r.get("open_findings"),
    })
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
        scope: Scope,
        asset: &NewAsset,
    ) -> Result<AssetRow> {
        let organisation_id = scope.organisation().ok_or_else(|| {
            StoreError::Invalid("organisation: name the member the asset belongs to".into())
        })?;
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
        let new_id = change.new_id(crate::ids::Kind::Asset).await?;
        let row = sqlx::query(
            "INSERT INTO asset (organisation_id, name, exposure, criticality, tags, created_at, updated_at, id)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) RETURNING id",
        )
        .bind(organisation_id)
        .bind(name)
        .bind(asset.exposure.map(Exposure::as_str))
        .bind(asset.criticality.map(Criticality::as_str))
        .bind(serde_json::to_string(&asset.tags).expect("strings"))
        .bind(&at)
        .bind(new_id)
        .fetch_one(&mut *change.tx)
        .await?;
        let id: AssetId = row.get("id");
        let created = sqlx::query(concat!(asset_select!(), " WHERE a.id = $1"))
            .bind(id)
            .fetch_one(&mut *change.tx)
            .await?;
        let created = asset_row(&created)?;
        change
            .created(
                Some(organisation_id),
                "asset.create",
                &format!("asset:{id}"),
                &created,
            )
            .await?;
        change.commit().await?;
        Ok(created)
    }

    /// Assets of one organisation, or of all (`None`).
    pub async fn assets(&self, scope: Scope) -> Result<Vec<AssetRow>> {
        let rows = sqlx::query(concat!(
            asset_select!(),
            " WHERE ($1 IS NULL OR a.organisation_id = $1) ORDER BY o.slug, a.name"
        ))
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(asset_row).collect()
    }

    /// One asset, if it exists within the scope (`None`: any organisation).
    pub async fn asset(&self, scope: Scope, id: AssetId) -> Result<Option<AssetRow>> {
        let row = sqlx::query(concat!(
            asset_select!(),
            " WHERE a.id = $1 AND ($2 IS NULL OR a.organisation_id = $2)"
        ))
        .bind(id)
        .bind(scope.organisation())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(asset_row).transpose()
    }

    /// The organisation's assets with any of these names, compared without case (an observed
    /// address or host names against the names members gave their assets).
    pub async fn assets_named(&self, owner: Scope, names: &[&str]) -> Result<Vec<AssetRow>> {
        let Some(organisation_id) = owner.organisation() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for chunk in names.chunks(100) {
            let mut q = crate::sql::Sql::new(
                self.backend,
                concat!(asset_select!(), " WHERE a.organisation_id = "),
            );
            q.push_bind(organisation_id).push(" AND lower(a.name) IN (");
            let mut sep = q.separated(", ");
            for n in chunk {
                sep.push_bind(n.to_lowercase());
            }
            q.push(") ORDER BY a.name");
            for r in q.build().fetch_all(&self.pool).await? {
                out.push(asset_row(&r)?);
            }
        }
        Ok(out)
    }

    /// These assets with their current components, for matching (in a few statements, not
    /// two per asset; `open_findings` is not counted here: 0).
    pub async fn assets_for_matching(
        &self,
        ids: &[AssetId],
    ) -> Result<Vec<(AssetRow, Vec<Component>)>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut q = crate::sql::Sql::new(self.backend, "SELECT a.id, a.organisation_id, o.slug, a.name, a.exposure, a.criticality, a.tags, a.created_at, a.updated_at,
                        COALESCE(v.version, 0) AS inventory_version, COALESCE(v.components, 0) AS components,
                        0 AS open_findings, v.payload, v.payload_encoding
                 FROM asset a JOIN organisation o ON o.id = a.organisation_id
                 LEFT JOIN inventory_version v ON v.asset_id = a.id
                      AND v.version = (SELECT MAX(w.version) FROM inventory_version w WHERE w.asset_id = a.id)
                 WHERE a.id IN (",
            );
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(id);
            }
            // An organisation's assets together: a batch of them written at once then brings
            // few organisations' alerts in line (one pass over each one's alerts).
            q.push(") ORDER BY a.organisation_id, a.id");
            let mut stored = Vec::new();
            for r in q.build().fetch_all(&self.pool).await? {
                let asset = asset_row(&r)?;
                let payload: Option<String> = r.try_get("payload")?;
                let encoding: Option<String> = r.try_get("payload_encoding")?;
                stored.push((asset, payload.zip(encoding)));
            }
            // Decompressed and parsed off the async workers.
            let decoded = crate::cpu::run(move || {
                stored
                    .into_iter()
                    .map(|(asset, payload)| {
                        let components = match payload {
                            None => Vec::new(),
                            Some((payload, encoding)) => decode_payload(&encoding, &payload)
                                .map_err(|message| StoreError::Unreadable {
                                    table: "inventory_version",
                                    row: format!("asset {}", asset.id),
                                    column: "payload",
                                    message,
                                })?,
                        };
                        Ok((asset, components))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .await?;
            out.extend(decoded);
        }
        Ok(out)
    }

    /// The organisations whose current inventories name any of these (vendor, product) pairs
    /// (a vendor of `*` matches any; a component without a vendor matches any vendor).
    pub async fn organisations_mentioning(
        &self,
        products: &[(String, String)],
    ) -> Result<HashSet<OrgId>> {
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
            out.extend(rows.iter().map(|r| r.get::<OrgId, _>(0)));
        }
        Ok(out)
    }

    /// The components of an asset's current inventory.
    pub async fn current_components(
        &self,
        scope: Scope,
        asset_id: AssetId,
    ) -> Result<Vec<Component>> {
        Ok(self
            .version_components(scope, asset_id, None)
            .await?
            .unwrap_or_default())
    }

    /// The components of one inventory version of an asset (`None`: the newest), or `None`
    /// when there is no such version or it no longer keeps its components (pruned by policy).
    pub async fn version_components(
        &self,
        scope: Scope,
        asset_id: AssetId,
        version: Option<i64>,
    ) -> Result<Option<Vec<Component>>> {
        let row = sqlx::query(
            "SELECT v.payload, v.payload_encoding FROM inventory_version v JOIN asset a ON a.id = v.asset_id
             WHERE v.asset_id = $1 AND ($2 IS NULL OR a.organisation_id = $2) AND ($3 IS NULL OR v.version = $3)
             ORDER BY v.version DESC LIMIT 1",
        )
        .bind(asset_id)
        .bind(scope.organisation())
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let encoding: String = r.try_get("payload_encoding")?;
        if encoding == "pruned" {
            return Ok(None);
        }
        let payload: String = r.try_get("payload")?;
        crate::cpu::run(move || decode_payload(&encoding, &payload))
            .await
            .map(Some)
            .map_err(|message| StoreError::Unreadable {
                table: "inventory_version",
                row: format!("asset {asset_id}"),
                column: "payload",
                message,
            })
    }

    pub async fn inventory_history(
        &self,
        scope: Scope,
        asset_id: AssetId,
    ) -> Result<Vec<InventoryVersion>> {
        let rows = sqlx::query(
            "SELECT v.version, v.format, v.file_name, v.components, v.content_hash, v.uploaded_at, v.uploaded_by,
                    v.payload_encoding
             FROM inventory_version v JOIN asset a ON a.id = v.asset_id
             WHERE v.asset_id = $1 AND ($2 IS NULL OR a.organisation_id = $2) ORDER BY v.version",
        )
        .bind(asset_id)
        .bind(scope.organisation())
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
                components_kept: r.get::<&str, _>("payload_encoding") != "pruned",
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
        alert_threshold: Priority,
    ) -> Result<UploadOutcome> {
        let InventoryUpload {
            format,
            file_name,
            bytes,
            components,
            keys,
            findings,
            knowledge_mark,
            keep_versions,
        } = *upload;
        let organisation_id = asset.organisation_id;
        // Compressed, and the findings readied, before the write lock is taken, off the
        // async workers.
        let (payload, findings) = {
            let components = components.to_vec();
            let findings = findings.to_vec();
            let facts = self.facts.clone();
            crate::cpu::run(move || {
                (
                    encode_payload(&components),
                    crate::rematch::prepare(&findings, &facts),
                )
            })
            .await
        };
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
            "INSERT INTO inventory_version (asset_id, version, format, file_name, components, content_hash, payload, uploaded_at, uploaded_by,
                                            payload_encoding)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'deflate')",
        )
        .bind(asset.id)
        .bind(version)
        .bind(format)
        .bind(file_name)
        .bind(components.len() as i64)
        .bind(hex::encode(Sha256::digest(bytes)))
        .bind(payload)
        .bind(&at)
        .bind(actor)
        .execute(&mut *change.tx)
        .await?;
        // Retention: the newest `keep_versions` keep their components.
        sqlx::query(
            "UPDATE inventory_version SET payload = '', payload_encoding = 'pruned'
             WHERE asset_id = $1 AND version <= $2 AND payload_encoding <> 'pruned'",
        )
        .bind(asset.id)
        .bind(version - keep_versions.max(1) as i64)
        .execute(&mut *change.tx)
        .await?;

        let upload = format!(
            "version {version} of the inventory of {} ({file_name}, uploaded by {actor})",
            asset.name
        );
        let mut written = [crate::rematch::AssetFindings {
            asset_id: asset.id,
            organisation_id,
            findings: &findings,
            cause: crate::rematch::Cause::Inventory(upload.clone()),
            outcome: UploadOutcome::empty(asset.id, version, components.len()),
        }];
        apply_findings(&mut change, &mut written, None, &at).await?;
        let [written] = written;
        let mut outcome = written.outcome;
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
        outcome.alerts = crate::alerts::sync::sync_alerts(
            &mut change,
            organisation_id,
            alert_threshold,
            &outcome.touched(),
            &crate::alerts::sync::Why::inventory(upload),
        )
        .await?;
        change.commit().await?;
        Ok(outcome)
    }
}

/// A version's components as stored: JSON, DEFLATE-compressed (a CSV's components repeat the
/// same field names and values; they shrink about tenfold), base64 so that the column stays
/// text on both databases and in `ward db copy`.
fn encode_payload(components: &[Component]) -> String {
    use base64::Engine as _;
    use std::io::Write as _;
    let json = serde_json::to_vec(components).expect("serialisable");
    let mut z = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(json.len() / 8),
        flate2::Compression::fast(),
    );
    z.write_all(&json).expect("writing to memory");
    base64::engine::general_purpose::STANDARD.encode(z.finish().expect("writing to memory"))
}

/// The most a stored inventory's components inflate to (an upload's own limits are far lower).
const MAX_INVENTORY_JSON: u64 = 1 << 30;

/// DEFLATE-d bytes inflated, refused past `cap` bytes: a stored inventory is Ward's own
/// writing, but a database can be edited.
fn inflate(z: &[u8], cap: u64) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read as _;
    let mut out = Vec::with_capacity(z.len().saturating_mul(8).min(cap as usize));
    flate2::read::DeflateDecoder::new(z)
        .take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("not DEFLATE-compressed: {e}"))?;
    if out.len() as u64 > cap {
        return Err(format!("inflates to more than {cap} bytes"));
    }
    Ok(out)
}

/// Reads a stored payload back; the error says what is wrong with it.
fn decode_payload(encoding: &str, payload: &str) -> std::result::Result<Vec<Component>, String> {
    use base64::Engine as _;
    match encoding {
        "json" => serde_json::from_str(payload).map_err(|e| e.to_string()),
        "deflate" => {
            let z = base64::engine::general_purpose::STANDARD
                .decode(payload)
                .map_err(|e| format!("not base64: {e}"))?;
            // Inflated whole, then parsed from the slice: serde_json reading through the
            // decoder went a byte at a time, and with the inflating was most of the CPU time
            // of re-matching 7,472 assets for one KEV entry (perf, 200 members).
            let json = inflate(&z, MAX_INVENTORY_JSON)?;
            serde_json::from_slice(&json).map_err(|e| format!("not DEFLATE-compressed JSON: {e}"))
        }
        "pruned" => Ok(Vec::new()),
        other => Err(format!("unknown payload encoding {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_inventory_reads_back_and_a_bad_one_says_why() {
        let components = vec![Component {
            name: "endpoint_manager_mobile".into(),
            version: Some("12.5.0.0".into()),
            cpe: Some(
                "cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*"
                    .parse()
                    .unwrap(),
            ),
            ..Component::default()
        }];
        let stored = encode_payload(&components);
        assert_eq!(decode_payload("deflate", &stored).unwrap(), components);
        let e = decode_payload("deflate", "%%%").unwrap_err();
        assert!(e.starts_with("not base64"), "{e}");
        use base64::Engine as _;
        let e = decode_payload(
            "deflate",
            &base64::engine::general_purpose::STANDARD.encode(b"plain text"),
        )
        .unwrap_err();
        assert!(e.starts_with("not DEFLATE"), "{e}");
        // Past the cap: refused, not inflated.
        let z = base64::engine::general_purpose::STANDARD
            .decode(&stored)
            .unwrap();
        let whole = inflate(&z, 1 << 20).unwrap();
        let e = inflate(&z, whole.len() as u64 - 1).unwrap_err();
        assert!(e.contains("more than"), "{e}");
    }
}
