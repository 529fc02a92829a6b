//! Continuous matching's state: the knowledge changes imports log, the assets they touch,
//! re-matched findings written a batch of assets per transaction, and the cursor.

use std::collections::{HashMap, HashSet};

use sqlx::Row;
use ward_model::Finding;

use crate::assets::{FindingChange, UploadOutcome, component_key, component_ref_key};
use crate::audit::now;
use crate::{AlertRow, AssetId, AssetRow, OrgId, Result, Store};
use ward_model::Priority;

/// Findings per multi-row statement: 15 parameters each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535.
const FINDING_CHUNK: usize = 500;

/// Why an asset's findings are replaced: what resolved findings, and the alerts they close,
/// record as their cause.
pub(crate) enum Cause<'a> {
    /// An upload, named ("version 3 of the inventory of epmm-1 (epmm.csv, uploaded by …)").
    Inventory(String),
    /// The knowledge changed. For components a more precise source now calls not affected,
    /// its word, by (vulnerability, component key).
    Knowledge(&'a HashMap<(String, String), String>),
}

/// A source's verdict on a finding in words: "nvd says affected (range: >= 12.3.0.0, < 12.3.0.2)".
fn verdict(e: &ward_model::Explanation) -> String {
    let basis = e.sources.first().map_or("", |s| s.basis.as_str());
    let how = match (basis, e.range.as_str()) {
        ("", "") => String::new(),
        ("", one) | (one, "") => format!(" ({one})"),
        (basis, range) => format!(" ({basis}: {range})"),
    };
    format!("{} says affected{how}", e.source)
}

/// One finding made ready to be written: its key, its two stored parts and what an outcome
/// says of it. Preparing serialises and hashes each finding (the CPU work of writing), so a
/// re-match does it off the async runtime, beside the writing of the batch before.
pub(crate) struct Prepared {
    /// (vulnerability, component key).
    key: (String, String),
    priority: Priority,
    parts: crate::finding_detail::Parts,
    /// The source's verdict in words, for a finding the knowledge brought.
    verdict: String,
}

/// An asset's findings as [`Store::prepare_findings`] readies them for writing.
pub struct PreparedFindings(Vec<Prepared>);

impl PreparedFindings {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One row per (vulnerability, component), the last finding for a key being the one stored;
/// the facts alert sync reads of each detail not seen before are put in `facts`.
pub(crate) fn prepare<F: std::borrow::Borrow<Finding>>(
    findings: &[F],
    facts: &crate::alerts::sync::FactsCache,
) -> PreparedFindings {
    let mut rows: Vec<Prepared> = Vec::with_capacity(findings.len());
    let mut index: HashMap<(String, String), usize> = HashMap::with_capacity(findings.len());
    let mut seen: HashMap<String, crate::alerts::sync::DetailFacts> = HashMap::new();
    for f in findings {
        let f = f.borrow();
        let key = (f.vulnerability.clone(), component_key(f));
        let parts = crate::finding_detail::split(f);
        if !seen.contains_key(&parts.hash) && !facts.contains(&parts.hash) {
            seen.insert(
                parts.hash.clone(),
                crate::alerts::sync::DetailFacts::of_body(&parts.body),
            );
        }
        let row = Prepared {
            priority: f.priority,
            parts,
            verdict: verdict(&f.explanation),
            key: key.clone(),
        };
        match index.get(&key) {
            Some(&i) => rows[i] = row,
            None => {
                index.insert(key, rows.len());
                rows.push(row);
            }
        }
    }
    facts.insert(seen);
    PreparedFindings(rows)
}

impl Store {
    /// Readies an asset's findings for [`Store::rematch_assets`]: CPU work, for the caller to
    /// run off the async runtime.
    pub fn prepare_findings<F: std::borrow::Borrow<Finding>>(
        &self,
        findings: &[F],
    ) -> PreparedFindings {
        prepare(findings, &self.facts)
    }
}

/// One asset's findings for [`apply_findings`] to write, and what writing them did.
pub(crate) struct AssetFindings<'a> {
    pub asset_id: AssetId,
    pub organisation_id: OrgId,
    pub findings: &'a PreparedFindings,
    pub cause: Cause<'a>,
    /// Filled in: the findings new, changed, unchanged and resolved.
    pub outcome: UploadOutcome,
}

/// A stored finding as [`apply_findings`] compares with: (id, priority, resolved).
type Stored = (i64, String, bool);

/// Assets whose stored findings are read in one statement.
const READ_CHUNK: usize = 200;

/// Replaces each asset's open findings with its `findings`: new ones added, changed ones
/// updated, missing ones resolved (recorded in its `outcome`). A batch of assets is read and
/// written in a few statements, not a few per asset: at 200 members, a KEV listing re-matched
/// 7,472 assets, and their five statements each (rows read, ids, details, rows written) were
/// most of its time.
pub(crate) async fn apply_findings(
    change: &mut crate::Change,
    assets: &mut [AssetFindings<'_>],
    scope: Option<&HashSet<String>>,
    at: &str,
) -> Result<()> {
    // Each asset's rows are read by the unique key (asset, vulnerability, component) and the
    // resolved ones dropped here: with `resolved_at IS NULL` in the statement, PostgreSQL's
    // generic plan joined the key's bitmap with the federation's partial index of open
    // findings (0023) — a scan of every open finding for each asset: a 20-member federation's
    // full matching took 163 s on PostgreSQL, 47 s read this way (SQLite's plan was the key's).
    let mut stored: HashMap<AssetId, HashMap<(String, String), Stored>> = HashMap::new();
    let ids: Vec<AssetId> = assets.iter().map(|a| a.asset_id).collect();
    for chunk in ids.chunks(READ_CHUNK) {
        let mut q = crate::sql::Sql::new(
            crate::Backend::of(&change.tx),
            "SELECT asset_id, vuln_id, component, priority, resolved_at, id FROM finding WHERE asset_id IN (",
        );
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        // A few changed vulnerabilities: only their rows are read.
        if let Some(vulns) = scope.filter(|v| v.len() <= 100) {
            q.push(" AND vuln_id IN (");
            let mut sep = q.separated(", ");
            for v in vulns {
                sep.push_bind(v);
            }
            q.push(")");
        }
        for r in q.build().fetch_all(&mut *change.tx).await? {
            stored.entry(r.get("asset_id")).or_default().insert(
                (r.get("vuln_id"), r.get("component")),
                (
                    r.get("id"),
                    r.get("priority"),
                    r.get::<Option<&str>, _>("resolved_at").is_some(),
                ),
            );
        }
    }
    // A row already stored keeps its id (the upsert below does not change it); the others
    // take new ones, all of the batch's at once.
    let fresh = assets
        .iter()
        .map(|a| {
            let rows = stored.get(&a.asset_id);
            a.findings
                .0
                .iter()
                .filter(|p| rows.is_none_or(|r| !r.contains_key(&p.key)))
                .count()
        })
        .sum();
    let mut fresh = change.new_finding_ids(fresh).await?.into_iter();
    let mut rows: Vec<(i64, &AssetFindings<'_>, &Prepared)> = Vec::new();
    for a in assets.iter() {
        let old = stored.get(&a.asset_id);
        for p in &a.findings.0 {
            let id = match old.and_then(|r| r.get(&p.key)) {
                Some((id, _, _)) => *id,
                None => fresh.next().expect("an id for each finding not stored"),
            };
            rows.push((id, a, p));
        }
    }
    // The details assets alike share, and the components, once for the batch.
    let mut details: Vec<(&str, &str)> = rows
        .iter()
        .flat_map(|(_, _, p)| {
            [
                (p.parts.hash.as_str(), p.parts.body.as_str()),
                (
                    p.parts.component_hash.as_str(),
                    p.parts.component_body.as_str(),
                ),
            ]
        })
        .collect();
    details.sort_unstable_by_key(|(hash, _)| *hash);
    details.dedup_by_key(|(hash, _)| *hash);
    crate::finding_detail::store_details(&mut change.tx, &details).await?;
    // Written many rows per statement (a round trip per few hundred findings, which matters
    // on PostgreSQL over the network), in the change's transaction.
    for chunk in rows.chunks(FINDING_CHUNK) {
        let mut q = crate::sql::Sql::new(crate::Backend::of(&change.tx), "INSERT INTO finding (id, organisation_id, asset_id, vuln_id, component, priority, payload, detail, first_seen, updated_at,
                                  priority_rank, remediate_by, remediate_order, component_detail, acknowledge_by) ",
        );
        q.push_values(chunk, |mut b, (id, asset, row)| {
            b.push_bind(*id)
                .push_bind(asset.organisation_id)
                .push_bind(asset.asset_id)
                .push_bind(row.key.0.as_str())
                .push_bind(row.key.1.as_str())
                .push_bind(row.priority.as_str())
                .push_bind(row.parts.payload.as_str())
                .push_bind(row.parts.hash.as_str())
                .push_bind(at)
                .push_bind(at)
                .push_bind(
                    ward_model::Priority::ALL
                        .iter()
                        .position(|p| *p == row.priority)
                        .expect("every priority is listed") as i64,
                )
                .push_bind(row.parts.remediate_by.as_deref())
                .push_bind(
                    row.parts
                        .remediate_by
                        .as_deref()
                        .unwrap_or(crate::findings::NO_DEADLINE),
                )
                .push_bind(row.parts.component_hash.as_str())
                .push_bind(row.parts.acknowledge_by.as_deref());
        });
        q.push(
            " ON CONFLICT (asset_id, vuln_id, component) DO UPDATE SET
                 priority = excluded.priority, payload = excluded.payload, detail = excluded.detail,
                 updated_at = excluded.updated_at, resolved_at = NULL,
                 resolution = NULL, resolution_reason = NULL,
                 priority_rank = excluded.priority_rank, remediate_by = excluded.remediate_by,
                 remediate_order = excluded.remediate_order,
                 component_detail = excluded.component_detail, acknowledge_by = excluded.acknowledge_by",
        );
        q.build().execute(&mut *change.tx).await?;
    }
    for a in assets.iter_mut() {
        // Scoped (a knowledge change): findings of other vulnerabilities are left as they are.
        let open: HashMap<(String, String), String> = stored
            .remove(&a.asset_id)
            .unwrap_or_default()
            .into_iter()
            .filter(|((vuln, _), (_, _, resolved))| {
                !resolved && scope.is_none_or(|s| s.contains(vuln))
            })
            .map(|(key, (_, priority, _))| (key, priority))
            .collect();
        resolve_missing(change, a, open, at).await?;
    }
    Ok(())
}

/// Compares one asset's findings just written with its open ones before (`open`): each is
/// new, changed or unchanged, and the open ones it no longer has are resolved.
async fn resolve_missing(
    change: &mut crate::Change,
    asset: &mut AssetFindings<'_>,
    mut open: HashMap<(String, String), String>,
    at: &str,
) -> Result<()> {
    let (asset_id, cause, outcome) = (asset.asset_id, &asset.cause, &mut asset.outcome);
    let rows = &asset.findings.0;
    for row in rows {
        let priority = row.priority.as_str().to_owned();
        let previous = open.remove(&row.key);
        let entry = FindingChange {
            reason: match (cause, &previous) {
                (Cause::Knowledge(_), None) => Some(format!(
                    "the knowledge changed: {} of {}",
                    row.verdict, row.key.1
                )),
                _ => None,
            },
            vulnerability: row.key.0.clone(),
            component: row.key.1.clone(),
            previous_priority: previous.clone().filter(|p| *p != priority),
            priority,
        };
        match previous {
            None => outcome.new.push(entry),
            Some(p) if Some(&p) != Some(&entry.priority) => outcome.changed.push(entry),
            Some(_) => outcome.unchanged += 1,
        }
    }
    let mut gone: Vec<((String, String), String)> = open.into_iter().collect();
    gone.sort();
    let mut reasons: Vec<String> = Vec::with_capacity(gone.len());
    match cause {
        Cause::Inventory(sentence) => {
            for chunk in gone.chunks(FINDING_CHUNK) {
                let mut q = crate::sql::Sql::new(
                    crate::Backend::of(&change.tx),
                    "UPDATE finding SET resolution = 'inventory', resolution_reason = ",
                );
                q.push_bind(format!("{sentence} no longer has it"));
                q.push(", resolved_at = ").push_bind(at);
                q.push(", updated_at = ").push_bind(at);
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
                reasons.extend(chunk.iter().map(|_| String::new()));
            }
        }
        // Each finding the knowledge took away says what was said of it before and after.
        Cause::Knowledge(overruled) => {
            for (key, _) in &gone {
                let before: Option<String> = sqlx::query(
                    "SELECT f.payload, d.body AS detail_body, c.body AS component_body, f.acknowledge_by, f.remediate_by,
                            a.name AS asset
                     FROM finding f JOIN asset a ON a.id = f.asset_id
                     LEFT JOIN finding_detail d ON d.hash = f.detail
                     LEFT JOIN finding_detail c ON c.hash = f.component_detail
                     WHERE f.asset_id = $1 AND f.vuln_id = $2 AND f.component = $3",
                )
                .bind(asset_id)
                .bind(&key.0)
                .bind(&key.1)
                .fetch_optional(&mut *change.tx)
                .await?
                .and_then(|r| {
                    let stored = crate::finding_detail::Stored::of_row(&r).ok()?;
                    crate::finding_detail::merge(&stored)
                        .ok()
                        .map(|f| verdict(&f.explanation))
                });
                let after = overruled
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| "no source says it is affected".to_owned());
                let reason = format!(
                    "the knowledge changed for {}: before, {}; now {after}",
                    key.1,
                    before.as_deref().unwrap_or("a source said affected")
                );
                sqlx::query(
                    "UPDATE finding SET resolution = 'knowledge', resolution_reason = $1, resolved_at = $2, updated_at = $2
                     WHERE asset_id = $3 AND vuln_id = $4 AND component = $5",
                )
                .bind(&reason)
                .bind(at)
                .bind(asset_id)
                .bind(&key.0)
                .bind(&key.1)
                .execute(&mut *change.tx)
                .await?;
                reasons.push(reason);
            }
        }
    }
    for (((vuln, component), priority), reason) in gone.into_iter().zip(reasons) {
        outcome.resolved.push(FindingChange {
            vulnerability: vuln,
            component,
            priority,
            previous_priority: None,
            reason: Some(reason).filter(|r| !r.is_empty()),
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
    /// product the vulnerabilities' records name, and those with open findings of them; each
    /// organisation's together (re-matched in batches, an organisation's alerts are then
    /// brought in line once for many of its assets: at 200 members, a KEV entry for 7,472
    /// assets in batches of 50 had each batch span about 45 organisations).
    pub async fn assets_touched(&self, vulns: &[String]) -> Result<Vec<AssetId>> {
        let mut ids = std::collections::BTreeSet::new();
        for chunk in vulns.chunks(300) {
            let mut q = crate::sql::Sql::new(self.backend, "SELECT t.asset_id, a.organisation_id FROM (SELECT DISTINCT ap.asset_id FROM asset_product ap JOIN advisory_product v ON v.product = ap.product
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
            q.push(")) t JOIN asset a ON a.id = t.asset_id");
            for r in q.build().fetch_all(&self.pool).await? {
                ids.insert((r.get::<OrgId, _>(1), r.get::<AssetId, _>(0)));
            }
        }
        Ok(ids.into_iter().map(|(_, asset)| asset).collect())
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
        batch: &[(AssetRow, PreparedFindings, Vec<Overruled>)],
        scope: Option<&HashSet<String>>,
        alert_threshold: Priority,
    ) -> Result<Rematch> {
        let mut change = self.begin_change("ward:matching").await?;
        let at = now();
        // Read under the change's write lock, so no upload commits between this and the commit.
        let mut current: HashMap<AssetId, i64> = HashMap::with_capacity(batch.len());
        for chunk in batch.chunks(500) {
            let mut q = crate::sql::Sql::new(
                self.backend,
                "SELECT a.id, COALESCE(MAX(v.version), 0) AS version FROM asset a
                 LEFT JOIN inventory_version v ON v.asset_id = a.id WHERE a.id IN (",
            );
            let mut sep = q.separated(", ");
            for (asset, _, _) in chunk {
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
        let mut touched: std::collections::BTreeMap<OrgId, std::collections::BTreeSet<String>> =
            std::collections::BTreeMap::new();
        let mut why: std::collections::BTreeMap<OrgId, crate::alerts::sync::Why> =
            std::collections::BTreeMap::new();
        // What a more precise source overruled, by (vulnerability, component key), per asset.
        let overruled: Vec<HashMap<(String, String), String>> = batch
            .iter()
            .map(|(_, _, overruled)| {
                overruled
                    .iter()
                    .map(|o| {
                        (
                            (o.vulnerability.clone(), component_ref_key(&o.component)),
                            o.reason.clone(),
                        )
                    })
                    .collect()
            })
            .collect();
        let mut writes = Vec::with_capacity(batch.len());
        let mut names = Vec::with_capacity(batch.len());
        for ((asset, findings, _), overruled) in batch.iter().zip(&overruled) {
            if current.get(&asset.id) != Some(&asset.inventory_version) {
                superseded.push(asset.id);
                continue;
            }
            writes.push(AssetFindings {
                asset_id: asset.id,
                organisation_id: asset.organisation_id,
                findings,
                cause: Cause::Knowledge(overruled),
                outcome: UploadOutcome::empty(
                    asset.id,
                    asset.inventory_version,
                    asset.components as usize,
                ),
            });
            names.push(asset.name.as_str());
        }
        apply_findings(&mut change, &mut writes, scope, &at).await?;
        // One entry per asset whose findings changed, written together.
        let mut entries = Vec::new();
        for (written, name) in writes.into_iter().zip(names) {
            let (organisation_id, outcome) = (written.organisation_id, written.outcome);
            // A knowledge change with the same priorities still refreshes the findings'
            // explanations (a KEV listing, a new EPSS score); a full re-match that changed
            // nothing is not kept.
            wrote |= scope.is_some() && outcome.unchanged > 0;
            if !(outcome.new.is_empty()
                && outcome.changed.is_empty()
                && outcome.resolved.is_empty())
            {
                wrote = true;
                entries.push((
                    Some(organisation_id),
                    "findings.rematch",
                    format!("asset:{}", outcome.asset),
                    serde_json::json!({
                        "new": outcome.new.len(),
                        "changed": outcome.changed.len(),
                        "resolved": outcome.resolved.len(),
                    }),
                ));
                touched
                    .entry(organisation_id)
                    .or_default()
                    .extend(outcome.touched());
                why.entry(organisation_id)
                    .or_insert_with(crate::alerts::sync::Why::knowledge)
                    .add(Some(name), &outcome);
            }
            outcomes.push(outcome);
        }
        change.log_all(&entries).await?;
        let mut alerts = Vec::new();
        for (organisation_id, vulns) in touched {
            let vulns: Vec<String> = vulns.into_iter().collect();
            alerts.extend(
                crate::alerts::sync::sync_alerts(
                    &mut change,
                    organisation_id,
                    alert_threshold,
                    &vulns,
                    &why.remove(&organisation_id)
                        .unwrap_or_else(crate::alerts::sync::Why::knowledge),
                )
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

    /// On PostgreSQL, brings the planner's statistics of `finding` up to date (`ANALYZE`);
    /// nothing on SQLite, which keeps none unless asked. A full re-match calls it once its
    /// first assets are written: with statistics taken when the table was nearly empty, alert
    /// sync's read of an organisation's open findings of a few hundred vulnerabilities went
    /// through the index of all its open findings (for 300 vulnerabilities of a 27,706-finding
    /// member: all 27,706 read to return 1,814, 12.3 ms; once analysed, the plan took
    /// `finding_by_vulnerability`: 0.75 ms for another list of 300, 454 rows).
    pub async fn refresh_finding_statistics(&self) -> Result<()> {
        if self.backend == crate::Backend::Postgres {
            sqlx::query("ANALYZE finding").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Marks knowledge changes up to `seq` as matched.
    pub async fn advance_matching_cursor(&self, seq: i64) -> Result<()> {
        let _turn = self.write_turn().await;
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

/// A component that a less precise source calls affected and a more precise one now does not
/// (matching's `Suppressed`): why a finding the knowledge took away went.
#[derive(Debug, Clone)]
pub struct Overruled {
    pub vulnerability: String,
    pub component: ward_model::ComponentRef,
    pub reason: String,
}

/// What re-matching a batch of assets did.
#[derive(Debug)]
pub struct Rematch {
    /// One per asset re-matched, in the batch's order.
    pub outcomes: Vec<UploadOutcome>,
    /// Alerts raised, updated or remediated.
    pub alerts: Vec<AlertRow>,
    /// Assets left alone because a newer inventory was uploaded since they were read.
    pub superseded: Vec<AssetId>,
}

/// The knowledge mark as the transaction sees it.
pub(crate) async fn knowledge_mark_in(conn: &mut sqlx::AnyConnection) -> Result<i64> {
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
