//! Outside-in exposure (0022): members' declared footprints (IP blocks, AS numbers, domains),
//! the member's authorisation to be probed, what internet scanners saw (observations,
//! attributed to a member or not), and the declared assets observations contradict.
//!
//! Claims arrive canonical (the caller parses them with `ward_inventory::footprint::Claim`);
//! the store keeps one holder per claim: a second one is a conflict that does not say whose
//! the claim is (a member must not learn another member's address space from an error).

use serde::Serialize;
use sqlx::Row;

use crate::audit::now;
use crate::{AssetId, OrgId, Result, Scope, Store, StoreError};

/// One entry of a member's footprint.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FootprintEntry {
    pub id: i64,
    /// The organisation's internal id (what the store's queries filter on).
    #[serde(skip)]
    pub organisation_id: OrgId,
    pub organisation: String,
    /// `range`, `asn` or `domain`.
    pub kind: String,
    /// `203.0.113.0/24`, `AS64500`, `trust.example`.
    pub value: String,
    /// `proposed` (by the member, awaiting the central team), `approved`, `rejected`,
    /// `withdrawn`. Only approved entries attribute observations and bound probes.
    pub state: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub reason: Option<String>,
}

/// An approved claim, for attribution and probing.
#[derive(Debug, Clone)]
pub struct ApprovedClaim {
    pub organisation_id: OrgId,
    pub organisation: String,
    pub kind: String,
    pub value: String,
}

/// An observation to record, attributed (or not) by the caller.
#[derive(Debug, Clone)]
pub struct NewObservation {
    pub organisation_id: Option<OrgId>,
    /// The claim that attributed it (`203.0.113.0/24`).
    pub attributed_by: Option<String>,
    /// `''` when the report names only a host.
    pub address: String,
    pub port: u16,
    pub hostname: String,
    pub asn: Option<u32>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub cpe: Option<String>,
    pub tag: Option<String>,
    pub detail: Option<String>,
    pub source: String,
    /// RFC 3339, UTC.
    pub seen_at: String,
}

/// A recorded observation.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ObservationRow {
    #[serde(skip)]
    pub organisation_id: Option<OrgId>,
    /// The member it was attributed to (`null`: unattributed).
    pub organisation: Option<String>,
    /// The observed asset it belongs to.
    pub asset: Option<AssetId>,
    pub address: Option<String>,
    pub port: Option<u16>,
    pub hostname: Option<String>,
    pub asn: Option<u32>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub cpe: Option<String>,
    pub tag: Option<String>,
    pub detail: Option<String>,
    pub source: String,
    pub attributed_by: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
}

/// A declared asset an observation contradicts.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Contradiction {
    pub asset: AssetId,
    pub asset_name: String,
    pub organisation: String,
    /// The exposure the member declared (`small`, `controlled`).
    pub declared: String,
    /// What was seen, where and when.
    pub evidence: String,
    pub flagged_at: String,
}

/// Which observations to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attributed {
    /// Those of the scope's members.
    Yes,
    /// Those no member's footprint holds (central roles only).
    No,
}

macro_rules! footprint_select {
    () => {
        "SELECT f.id, f.organisation_id, o.slug, f.kind, f.value, f.state, f.proposed_by, f.proposed_at,
            f.decided_by, f.decided_at, f.reason
         FROM footprint f JOIN organisation o ON o.id = f.organisation_id"
    };
}

fn footprint_row(r: &sqlx::any::AnyRow) -> FootprintEntry {
    FootprintEntry {
        id: r.get("id"),
        organisation_id: r.get("organisation_id"),
        organisation: r.get("slug"),
        kind: r.get("kind"),
        value: r.get("value"),
        state: r.get("state"),
        proposed_by: r.get("proposed_by"),
        proposed_at: r.get("proposed_at"),
        decided_by: r.get("decided_by"),
        decided_at: r.get("decided_at"),
        reason: r.get("reason"),
    }
}

macro_rules! observation_select {
    () => {
        "SELECT b.organisation_id, o.slug, b.asset_id, b.address, b.port, b.hostname, b.asn,
            b.vendor, b.product, b.version, b.cpe, b.tag, b.detail, b.source, b.attributed_by,
            b.first_seen, b.last_seen
         FROM observation b LEFT JOIN organisation o ON o.id = b.organisation_id"
    };
}

fn observation_row(r: &sqlx::any::AnyRow) -> ObservationRow {
    let address: String = r.get("address");
    let hostname: String = r.get("hostname");
    let port: i64 = r.get("port");
    ObservationRow {
        organisation_id: r.get("organisation_id"),
        organisation: r.get("slug"),
        asset: r.get("asset_id"),
        address: (!address.is_empty()).then_some(address),
        port: u16::try_from(port).ok().filter(|p| *p != 0),
        hostname: (!hostname.is_empty()).then_some(hostname),
        asn: r
            .get::<Option<i64>, _>("asn")
            .and_then(|a| u32::try_from(a).ok()),
        vendor: r.get("vendor"),
        product: r.get("product"),
        version: r.get("version"),
        cpe: r.get("cpe"),
        tag: r.get("tag"),
        detail: r.get("detail"),
        source: r.get("source"),
        attributed_by: r.get("attributed_by"),
        first_seen: r.get("first_seen"),
        last_seen: r.get("last_seen"),
    }
}

impl Store {
    /// The footprints the scope reaches, newest first within each member.
    pub async fn footprint(&self, scope: Scope) -> Result<Vec<FootprintEntry>> {
        let rows = sqlx::query(concat!(
            footprint_select!(),
            " WHERE ($1 IS NULL OR f.organisation_id = $1) ORDER BY o.slug, f.kind, f.value, f.id"
        ))
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(footprint_row).collect())
    }

    /// Claims `kind`/`value` for the organisation `owner` is narrowed to: `approved` when the
    /// central team sets it, else `proposed`. Audited (`footprint.set` / `footprint.propose`).
    pub async fn claim_footprint(
        &self,
        actor: &str,
        owner: Scope,
        kind: &str,
        value: &str,
        approved: bool,
    ) -> Result<FootprintEntry> {
        let organisation_id = owner.organisation().ok_or_else(|| {
            StoreError::Invalid("organisation: name the member the footprint belongs to".into())
        })?;
        if !matches!(kind, "range" | "asn" | "domain") {
            return Err(StoreError::Invalid(format!(
                "kind: `{kind}` is not one of range, asn, domain"
            )));
        }
        let mut change = self.begin_change(actor).await?;
        let held = sqlx::query(
            "SELECT organisation_id FROM footprint WHERE kind = $1 AND value = $2 AND state IN ('proposed', 'approved')",
        )
        .bind(kind)
        .bind(value)
        .fetch_optional(&mut *change.tx)
        .await?;
        if let Some(h) = held {
            let holder: OrgId = h.get("organisation_id");
            return Err(StoreError::Conflict(if holder == organisation_id {
                format!("{value} is in this footprint already")
            } else {
                format!(
                    "{value} is claimed by another organisation; the central team can settle it"
                )
            }));
        }
        let at = now();
        let id = change.new_id(crate::ids::Kind::Footprint).await?;
        sqlx::query(
            "INSERT INTO footprint (id, organisation_id, kind, value, state, proposed_by, proposed_at, decided_by, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(organisation_id)
        .bind(kind)
        .bind(value)
        .bind(if approved { "approved" } else { "proposed" })
        .bind(actor)
        .bind(&at)
        .bind(approved.then_some(actor))
        .bind(approved.then_some(&at))
        .execute(&mut *change.tx)
        .await?;
        let entry = footprint_by_id(&mut change, id).await?;
        change
            .log(
                Some(organisation_id),
                if approved {
                    "footprint.set"
                } else {
                    "footprint.propose"
                },
                &format!("footprint:{id}"),
                None,
                Some(&serde_json::to_value(&entry).expect("serialises")),
            )
            .await?;
        change.commit().await?;
        Ok(entry)
    }

    /// The central team's decision on a proposed entry (approve or reject, a rejection with its
    /// reason), or the withdrawal of a proposed or approved one. Audited.
    pub async fn decide_footprint(
        &self,
        actor: &str,
        scope: Scope,
        id: i64,
        decision: FootprintDecision,
        reason: Option<&str>,
    ) -> Result<FootprintEntry> {
        let mut change = self.begin_change(actor).await?;
        let before = match footprint_by_id(&mut change, id).await {
            Ok(e) if scope.reaches(e.organisation_id) => e,
            // Another organisation's entry does not exist for the caller.
            Ok(_) | Err(StoreError::NotFound(_)) => {
                return Err(StoreError::NotFound(format!("no footprint entry {id}")));
            }
            Err(e) => return Err(e),
        };
        let organisation_id = before.organisation_id;
        let (from, to, action) = match decision {
            FootprintDecision::Approve => (&["proposed"][..], "approved", "footprint.approve"),
            FootprintDecision::Reject => (&["proposed"][..], "rejected", "footprint.reject"),
            FootprintDecision::Withdraw => (
                &["proposed", "approved"][..],
                "withdrawn",
                "footprint.withdraw",
            ),
        };
        if !from.contains(&before.state.as_str()) {
            return Err(StoreError::Conflict(format!(
                "footprint entry {id} is {}; it cannot be {to}",
                before.state
            )));
        }
        if matches!(decision, FootprintDecision::Reject)
            && reason.is_none_or(|r| r.trim().is_empty())
        {
            return Err(StoreError::Invalid(
                "reason: say why the entry is rejected".into(),
            ));
        }
        let at = now();
        sqlx::query(
            "UPDATE footprint SET state = $1, decided_by = $2, decided_at = $3, reason = $4 WHERE id = $5",
        )
        .bind(to)
        .bind(actor)
        .bind(&at)
        .bind(reason.map(str::trim))
        .bind(id)
        .execute(&mut *change.tx)
        .await?;
        let after = footprint_by_id(&mut change, id).await?;
        change
            .log(
                Some(organisation_id),
                action,
                &format!("footprint:{id}"),
                Some(&serde_json::to_value(&before).expect("serialises")),
                Some(&serde_json::to_value(&after).expect("serialises")),
            )
            .await?;
        change.commit().await?;
        Ok(after)
    }

    /// Every approved claim the scope reaches: what attributes observations and bounds probes.
    pub async fn approved_claims(&self, scope: Scope) -> Result<Vec<ApprovedClaim>> {
        let rows = sqlx::query(
            "SELECT f.organisation_id, o.slug, f.kind, f.value FROM footprint f
             JOIN organisation o ON o.id = f.organisation_id
             WHERE f.state = 'approved' AND ($1 IS NULL OR f.organisation_id = $1)
             ORDER BY f.id",
        )
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ApprovedClaim {
                organisation_id: r.get("organisation_id"),
                organisation: r.get("slug"),
                kind: r.get("kind"),
                value: r.get("value"),
            })
            .collect())
    }

    /// Records (or withdraws, `consent: false`) the member's authorisation for the central
    /// team to probe its approved ranges. Audited.
    pub async fn set_probe_consent(&self, actor: &str, owner: Scope, consent: bool) -> Result<()> {
        let organisation_id = owner
            .organisation()
            .ok_or_else(|| StoreError::Invalid("organisation: name the member".into()))?;
        let mut change = self.begin_change(actor).await?;
        let at = now();
        sqlx::query(
            "UPDATE organisation SET probe_consent_at = $1, probe_consent_by = $2 WHERE id = $3",
        )
        .bind(consent.then_some(&at))
        .bind(consent.then_some(actor))
        .bind(organisation_id)
        .execute(&mut *change.tx)
        .await?;
        change
            .log(
                Some(organisation_id),
                if consent {
                    "probe.consent"
                } else {
                    "probe.consent-withdrawn"
                },
                &format!("organisation:{}", organisation_id.get()),
                None,
                None,
            )
            .await?;
        change.commit().await
    }

    /// When and by whom the member authorised probing, if it has.
    pub async fn probe_consent(&self, owner: Scope) -> Result<Option<(String, String)>> {
        let Some(organisation_id) = owner.organisation() else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT probe_consent_at, probe_consent_by FROM organisation WHERE id = $1",
        )
        .bind(organisation_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| {
            Some((
                r.get::<Option<String>, _>("probe_consent_at")?,
                r.get::<Option<String>, _>("probe_consent_by")?,
            ))
        }))
    }

    /// Notes in the audit log that `actor` probes the member `owner` is narrowed to, with what
    /// it will send (`targets`): every probe is audited before its first packet.
    pub async fn log_probe(
        &self,
        actor: &str,
        owner: Scope,
        targets: &serde_json::Value,
    ) -> Result<()> {
        let organisation_id = owner
            .organisation()
            .ok_or_else(|| StoreError::Invalid("organisation: name the member".into()))?;
        let mut change = self.begin_change(actor).await?;
        change
            .log(
                Some(organisation_id),
                "probe.start",
                &format!("organisation:{}", organisation_id.get()),
                None,
                Some(targets),
            )
            .await?;
        change.commit().await
    }

    /// Stores observations (one row per address, port, host name and source: seen again, its
    /// last sighting and fingerprint move on), in one audited transaction, 500 rows a statement.
    pub async fn record_observations(
        &self,
        actor: &str,
        observations: &[NewObservation],
    ) -> Result<()> {
        // One row per key: a report that names the same service twice keeps its first and last
        // sighting and its newest fingerprint (a multi-row upsert may not touch a row twice).
        // (address, port, host, source) → (the newest row's index, first seen, last seen)
        type Key<'a> = (&'a str, u16, &'a str, &'a str);
        let mut merged: std::collections::HashMap<Key<'_>, (usize, &str, &str)> =
            std::collections::HashMap::with_capacity(observations.len());
        for (i, o) in observations.iter().enumerate() {
            let key = (
                o.address.as_str(),
                o.port,
                o.hostname.as_str(),
                o.source.as_str(),
            );
            merged
                .entry(key)
                .and_modify(|(newest, first, last)| {
                    if o.seen_at.as_str() < *first {
                        *first = &o.seen_at;
                    }
                    if o.seen_at.as_str() >= *last {
                        *last = &o.seen_at;
                        *newest = i;
                    }
                })
                .or_insert((i, &o.seen_at, &o.seen_at));
        }
        let mut rows: Vec<(usize, &str, &str)> = merged.into_values().collect();
        rows.sort_unstable_by_key(|r| r.0);
        let mut change = self.begin_change(actor).await?;
        // 16 parameters a row: 500 rows stay well under SQLite's 32,766.
        for chunk in rows.chunks(500) {
            let mut q = crate::sql::Sql::new(
                self.backend,
                "INSERT INTO observation (organisation_id, attributed_by, address, port, hostname, asn, vendor,
                     product, version, cpe, tag, detail, source, first_seen, last_seen) ",
            );
            q.push_values(chunk, |mut b, (i, first, last)| {
                let o = &observations[*i];
                b.push_bind(o.organisation_id)
                    .push_bind(o.attributed_by.clone())
                    .push_bind(o.address.clone())
                    .push_bind(i64::from(o.port))
                    .push_bind(o.hostname.clone())
                    .push_bind(o.asn.map(i64::from))
                    .push_bind(o.vendor.clone())
                    .push_bind(o.product.clone())
                    .push_bind(o.version.clone())
                    .push_bind(o.cpe.clone())
                    .push_bind(o.tag.clone())
                    .push_bind(o.detail.clone())
                    .push_bind(o.source.clone())
                    .push_bind((*first).to_owned())
                    .push_bind((*last).to_owned());
            });
            q.push(
                " ON CONFLICT (address, port, hostname, source) DO UPDATE SET
                     organisation_id = excluded.organisation_id,
                     attributed_by = excluded.attributed_by,
                     asn = COALESCE(excluded.asn, observation.asn),
                     vendor = CASE WHEN excluded.last_seen >= observation.last_seen THEN excluded.vendor ELSE observation.vendor END,
                     product = CASE WHEN excluded.last_seen >= observation.last_seen THEN excluded.product ELSE observation.product END,
                     version = CASE WHEN excluded.last_seen >= observation.last_seen THEN excluded.version ELSE observation.version END,
                     cpe = CASE WHEN excluded.last_seen >= observation.last_seen THEN excluded.cpe ELSE observation.cpe END,
                     tag = CASE WHEN excluded.last_seen >= observation.last_seen THEN excluded.tag ELSE observation.tag END,
                     detail = CASE WHEN excluded.last_seen >= observation.last_seen THEN excluded.detail ELSE observation.detail END,
                     first_seen = CASE WHEN excluded.first_seen < observation.first_seen THEN excluded.first_seen ELSE observation.first_seen END,
                     last_seen = CASE WHEN excluded.last_seen > observation.last_seen THEN excluded.last_seen ELSE observation.last_seen END",
            );
            q.build().execute(&mut *change.tx).await?;
        }
        let attributed = observations
            .iter()
            .filter(|o| o.organisation_id.is_some())
            .count();
        change
            .log(
                None,
                "observations.import",
                "observations",
                None,
                Some(&serde_json::json!({
                    "observations": observations.len(),
                    "attributed": attributed,
                    "unattributed": observations.len() - attributed,
                })),
            )
            .await?;
        change.commit().await
    }

    /// Observations the scope reaches (`Attributed::No`: the unattributed ones, for a scope
    /// that reaches every member only), newest first, at most `limit`.
    pub async fn observations(
        &self,
        scope: Scope,
        which: Attributed,
        limit: i64,
    ) -> Result<Vec<ObservationRow>> {
        let rows =
            match which {
                Attributed::Yes => {
                    sqlx::query(concat!(
                observation_select!(),
                " WHERE b.organisation_id IS NOT NULL AND ($1 IS NULL OR b.organisation_id = $1)
                     ORDER BY b.last_seen DESC, b.id DESC LIMIT $2"
            ))
                    .bind(scope.organisation())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
                }
                Attributed::No if scope.organisation().is_none() => sqlx::query(concat!(
                    observation_select!(),
                    " WHERE b.organisation_id IS NULL ORDER BY b.last_seen DESC, b.id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
                Attributed::No => Vec::new(),
            };
        Ok(rows.iter().map(observation_row).collect())
    }

    /// Every observation of one member at one address (or host name, when `address` is
    /// empty): the services an observed asset is made of.
    pub async fn observations_at(
        &self,
        owner: Scope,
        address: &str,
        hostname: &str,
    ) -> Result<Vec<ObservationRow>> {
        let Some(organisation_id) = owner.organisation() else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(concat!(
            observation_select!(),
            " WHERE b.organisation_id = $1 AND b.address = $2 AND ($2 <> '' OR b.hostname = $3)
             ORDER BY b.port, b.source"
        ))
        .bind(organisation_id)
        .bind(address)
        .bind(hostname)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(observation_row).collect())
    }

    /// The observed asset of a member's observations at an address (or host name).
    pub async fn link_observations(
        &self,
        owner: Scope,
        address: &str,
        hostname: &str,
        asset: AssetId,
    ) -> Result<()> {
        let Some(organisation_id) = owner.organisation() else {
            return Ok(());
        };
        let _turn = self.write_turn().await;
        sqlx::query(
            "UPDATE observation SET asset_id = $1 WHERE organisation_id = $2 AND address = $3 AND ($3 <> '' OR hostname = $4)",
        )
        .bind(asset)
        .bind(organisation_id)
        .bind(address)
        .bind(hostname)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Flags a declared asset an observation contradicts (declared `small` or `controlled`,
    /// seen answering from the internet): once per asset, audited
    /// (`asset.exposure-contradicted`) and told to the member's and the central team's
    /// channels. Returns whether it was newly flagged.
    pub async fn flag_contradiction(
        &self,
        actor: &str,
        asset: &crate::AssetRow,
        evidence: &str,
    ) -> Result<bool> {
        let declared = asset
            .exposure
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default();
        let mut change = self.begin_change(actor).await?;
        let at = now();
        let inserted = sqlx::query(
            "INSERT INTO exposure_contradiction (asset_id, organisation_id, declared, evidence, flagged_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (asset_id) DO NOTHING RETURNING asset_id",
        )
        .bind(asset.id)
        .bind(asset.organisation_id)
        .bind(&declared)
        .bind(evidence)
        .bind(&at)
        .fetch_optional(&mut *change.tx)
        .await?;
        if inserted.is_none() {
            change.tx.rollback().await?;
            return Ok(false);
        }
        let detail = serde_json::json!({
            "asset": asset.id, "asset_name": asset.name, "declared": declared, "evidence": evidence,
        });
        change
            .log(
                Some(asset.organisation_id),
                "asset.exposure-contradicted",
                &format!("asset:{}", asset.id),
                None,
                Some(&detail),
            )
            .await?;
        let event = crate::events::ExposureEvent {
            version: crate::events::EVENT_VERSION,
            event: "asset.exposure-contradicted",
            at: &at,
            organisation: &asset.organisation,
            asset: asset.id.get(),
            asset_name: &asset.name,
            declared: &declared,
            evidence,
            audit_seq: change.seq,
            audit_hash: &change.hash,
        };
        let payload = serde_json::to_value(&event).expect("an event serialises");
        let seq = change.seq;
        change
            .enqueue(
                asset.organisation_id,
                "asset.exposure-contradicted",
                &payload,
                seq,
            )
            .await?;
        change.commit().await?;
        Ok(true)
    }

    /// The declared assets observations contradict, within the scope.
    pub async fn contradictions(&self, scope: Scope) -> Result<Vec<Contradiction>> {
        let rows = sqlx::query(
            "SELECT c.asset_id, a.name, o.slug, c.declared, c.evidence, c.flagged_at
             FROM exposure_contradiction c JOIN asset a ON a.id = c.asset_id
             JOIN organisation o ON o.id = c.organisation_id
             WHERE ($1 IS NULL OR c.organisation_id = $1) ORDER BY c.flagged_at DESC",
        )
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Contradiction {
                asset: r.get("asset_id"),
                asset_name: r.get("name"),
                organisation: r.get("slug"),
                declared: r.get("declared"),
                evidence: r.get("evidence"),
                flagged_at: r.get("flagged_at"),
            })
            .collect())
    }
}

/// What the central team does with a footprint entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FootprintDecision {
    Approve,
    Reject,
    Withdraw,
}

async fn footprint_by_id(change: &mut crate::audit::Change, id: i64) -> Result<FootprintEntry> {
    let row = sqlx::query(concat!(footprint_select!(), " WHERE f.id = $1"))
        .bind(id)
        .fetch_optional(&mut *change.tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no footprint entry {id}")))?;
    Ok(footprint_row(&row))
}
