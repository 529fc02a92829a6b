//! Outside-in exposure, the rules the API and the UI share: footprint claims, observation
//! imports (attributed by the approved footprints, turned into observed assets, matched like
//! any inventory), contradictions of what members declared, and what a probe may touch.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};
use ward_inventory::footprint::{Attributor, Claim};
use ward_inventory::observations::{Observation, parse_observations};
use ward_model::Exposure;
use ward_store::{AssetId, NewObservation, ObservationRow, OrgId, Principal, Scope};

use crate::AppState;
use crate::app::store_components;
use crate::error::{ApiError, ApiResult};

/// The format an observed asset's inventory versions are stored as.
pub(crate) const OBSERVED_FORMAT: &str = "observation";

/// What importing a scan report did.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ObservationImport {
    /// The format it was read as (`Shadowserver CSV`, `nmap (XML)`, `Ward observation CSV`).
    pub(crate) format: String,
    pub(crate) observations: usize,
    pub(crate) attributed: usize,
    /// Observations no member's approved footprint holds: `GET
    /// /api/v1/observations?attributed=false` lists them.
    pub(crate) unattributed: usize,
    /// The observed assets the report created or brought up to date.
    pub(crate) assets: Vec<ObservedAsset>,
    /// Declared assets the report contradicts (declared small or controlled, seen answering).
    pub(crate) contradictions: Vec<String>,
    /// Rows skipped, each naming file, line and field.
    pub(crate) warnings: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ObservedAsset {
    pub(crate) organisation: String,
    pub(crate) asset: AssetId,
    pub(crate) name: String,
    /// Services seen on it (every source, every port).
    pub(crate) services: usize,
    /// Vulnerabilities whose findings the report added.
    pub(crate) new_findings: Vec<String>,
    /// Alerts raised, reopened or made affected.
    pub(crate) alerts: Vec<ward_store::AlertId>,
}

/// A footprint entry as typed (`203.0.113.0/24`, `AS64500`, `trust.example`): read, or a 422
/// naming the field.
pub(crate) fn parse_claim(value: &str) -> ApiResult<Claim> {
    value.parse::<Claim>().map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("value: {e}"),
        )
    })
}

/// Claims `value` for the member `owner` is narrowed to: a central admin's claim is approved
/// at once, a member admin's is proposed for the central team to approve.
pub(crate) async fn claim(
    state: &AppState,
    who: &Principal,
    owner: Scope,
    value: &str,
) -> ApiResult<ward_store::FootprintEntry> {
    if !who.role.is_admin() {
        return Err(ApiError::forbidden("change footprints"));
    }
    let claim = parse_claim(value)?;
    Ok(state
        .store
        .claim_footprint(
            &who.actor(),
            owner,
            claim.kind(),
            &claim.to_string(),
            who.role.is_central(),
        )
        .await?)
}

/// A decision on a footprint entry by its word (`approve`, `reject`, `withdraw`): the central
/// admin approves and rejects; an admin (central, or the member's own) withdraws.
pub(crate) async fn decide(
    state: &AppState,
    who: &Principal,
    id: i64,
    decision: &str,
    reason: Option<&str>,
) -> ApiResult<ward_store::FootprintEntry> {
    use ward_store::FootprintDecision as D;
    if !who.role.is_admin() {
        return Err(ApiError::forbidden("decide on footprint entries"));
    }
    let decision = match decision {
        "approve" => D::Approve,
        "reject" => D::Reject,
        "withdraw" => D::Withdraw,
        other => {
            return Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("decision: `{other}` is not one of approve, reject, withdraw"),
            ));
        }
    };
    let allowed = match decision {
        D::Withdraw => who.role.is_admin(),
        _ => who.role == ward_store::Role::CentralAdmin,
    };
    if !allowed {
        return Err(ApiError::forbidden("decide on footprint entries"));
    }
    Ok(state
        .store
        .decide_footprint(&who.actor(), who.scope(), id, decision, reason)
        .await?)
}

/// An observation as stored, read back as the inventory crate's (for its component and
/// evidence).
fn observation(row: &ObservationRow) -> Observation {
    Observation {
        address: row.address.as_deref().and_then(|a| a.parse().ok()),
        port: row.port,
        hostname: row.hostname.clone(),
        asn: row.asn,
        vendor: row.vendor.clone(),
        product: row.product.clone(),
        version: row.version.clone(),
        cpe: row
            .cpe
            .as_deref()
            .and_then(|c| c.parse().ok())
            .map(Box::new),
        tag: row.tag.clone(),
        detail: row.detail.clone(),
        seen_at: DateTime::parse_from_rfc3339(&row.last_seen)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
        source: row.source.clone(),
        record: String::new(),
    }
}

/// The name of the asset Ward keeps for what answers at an address (or host name).
pub(crate) fn observed_name(key: &str) -> String {
    format!("{key} (observed)")
}

/// Reads a scan report (central roles), attributes each observation to the member whose
/// approved footprint holds it, records them, and brings each touched member's observed
/// assets up to date: exposure `open`, a component per identified service with what was seen,
/// matched like any inventory (so alerts follow); a declared asset of the same address or
/// host name that the member called `small` or `controlled` is flagged.
pub(crate) async fn import_observations(
    state: &AppState,
    who: &Principal,
    name: &str,
    body: &[u8],
    source: Option<&str>,
) -> ApiResult<ObservationImport> {
    if !(who.role.is_central() && who.role.can_write()) {
        return Err(ApiError::forbidden("import observations"));
    }
    let claims = state.store.approved_claims(who.scope()).await?;
    let (file, bytes, source) = (name.to_owned(), body.to_vec(), source.map(str::to_owned));
    let (parsed, attributed) = ward_store::cpu::run(move || {
        let parsed = parse_observations(&file, &bytes, source.as_deref(), Utc::now())?;
        let attributor = attributor(&claims);
        let attributed: Vec<NewObservation> = parsed
            .observations
            .iter()
            .map(|o| {
                let hit = attributor.attribute(o.address, o.hostname.as_deref(), o.asn);
                new_observation(o, hit.map(|h| (*h.owner, h.by.to_string())))
            })
            .collect();
        Ok::<_, ward_inventory::InventoryError>((parsed, attributed))
    })
    .await
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    state
        .store
        .record_observations(&who.actor(), &attributed)
        .await?;
    let mut answer = ObservationImport {
        format: parsed.format.to_owned(),
        observations: attributed.len(),
        attributed: attributed
            .iter()
            .filter(|o| o.organisation_id.is_some())
            .count(),
        unattributed: attributed
            .iter()
            .filter(|o| o.organisation_id.is_none())
            .count(),
        assets: Vec::new(),
        contradictions: Vec::new(),
        warnings: parsed.warnings.iter().map(ToString::to_string).collect(),
    };
    // Each member's addresses (or host names, for observations without one) once.
    let mut touched: BTreeSet<(OrgId, String, String)> = BTreeSet::new();
    for o in &attributed {
        if let Some(org) = o.organisation_id {
            let host = if o.address.is_empty() {
                o.hostname.clone()
            } else {
                String::new()
            };
            touched.insert((org, o.address.clone(), host));
        }
    }
    for (org, address, hostname) in touched {
        let Some(owner) = who.scope().within(org) else {
            continue;
        };
        let (asset, contradicted) =
            refresh_observed_asset(state, who, owner, &address, &hostname).await?;
        answer.contradictions.extend(contradicted);
        answer.assets.extend(asset);
    }
    tracing::info!(
        observations = answer.observations,
        attributed = answer.attributed,
        unattributed = answer.unattributed,
        assets = answer.assets.len(),
        "observations imported"
    );
    Ok(answer)
}

fn attributor(claims: &[ward_store::ApprovedClaim]) -> Attributor<OrgId> {
    Attributor::new(claims.iter().filter_map(|c| {
        // Stored canonical, so each reads back as itself.
        let claim: Claim = c.value.parse().ok()?;
        Some((c.organisation_id, claim))
    }))
}

fn new_observation(o: &Observation, owner: Option<(OrgId, String)>) -> NewObservation {
    let (organisation_id, attributed_by) = owner.unzip();
    NewObservation {
        organisation_id,
        attributed_by,
        address: o.address.map(|a| a.to_string()).unwrap_or_default(),
        port: o.port.unwrap_or(0),
        hostname: o.hostname.clone().unwrap_or_default(),
        asn: o.asn,
        vendor: o.vendor.clone(),
        product: o.product.clone(),
        version: o.version.clone(),
        cpe: o.cpe.as_ref().map(ToString::to_string),
        tag: o.tag.clone(),
        detail: o.detail.clone(),
        source: o.source.clone(),
        seen_at: ward_model::timestamp::format(&o.seen_at),
    }
}

/// The member's observed asset at one address: created if new, its inventory the services
/// seen there (stored only when it changed), matched; a declared asset of that address or host
/// name the member called small or controlled is flagged.
async fn refresh_observed_asset(
    state: &AppState,
    who: &Principal,
    owner: Scope,
    address: &str,
    hostname: &str,
) -> ApiResult<(Option<ObservedAsset>, Vec<String>)> {
    let rows = state
        .store
        .observations_at(owner, address, hostname)
        .await?;
    if rows.is_empty() {
        return Ok((None, Vec::new()));
    }
    let seen: Vec<Observation> = rows.iter().map(observation).collect();
    let key = if address.is_empty() {
        hostname
    } else {
        address
    };
    let name = observed_name(key);
    let existing = state.store.assets_named(owner, &[&name]).await?;
    let asset = match existing.into_iter().next() {
        Some(a) => a,
        None => {
            state
                .store
                .create_asset(
                    &who.actor(),
                    owner,
                    &ward_store::NewAsset {
                        name: name.clone(),
                        exposure: Some(Exposure::Open),
                        criticality: None,
                        tags: vec!["observed".into()],
                    },
                )
                .await?
        }
    };
    let mut components: Vec<ward_model::Component> =
        seen.iter().filter_map(Observation::component).collect();
    components.sort_by(|a, b| (&a.location, &a.name).cmp(&(&b.location, &b.name)));
    components.dedup_by(|a, b| {
        a.location == b.location && a.cpe == b.cpe && a.name == b.name && a.version == b.version
    });
    let body = serde_json::to_vec(&components).expect("components serialise");
    let hash = hex::encode(Sha256::digest(&body));
    let unchanged = state
        .store
        .inventory_history(owner, asset.id)
        .await?
        .last() // oldest first: the current version is the last
        .is_some_and(|v| v.content_hash == hash);
    let mut observed = ObservedAsset {
        organisation: asset.organisation.clone(),
        asset: asset.id,
        name: asset.name.clone(),
        services: seen.len(),
        new_findings: Vec::new(),
        alerts: Vec::new(),
    };
    if !unchanged {
        let sources: Vec<&str> = {
            let mut s: Vec<&str> = seen.iter().map(|o| o.source.as_str()).collect();
            s.sort_unstable();
            s.dedup();
            s
        };
        let outcome = store_components(
            state,
            who,
            &asset,
            OBSERVED_FORMAT,
            &sources.join(", "),
            &body,
            components,
        )
        .await?;
        observed.new_findings = outcome
            .new
            .iter()
            .map(|f| f.vulnerability.clone())
            .collect();
        observed.alerts = outcome.alerts.iter().map(|a| a.id).collect();
    }
    state
        .store
        .link_observations(owner, address, hostname, asset.id)
        .await?;
    // A declared asset named by the address or a host name seen there, declared not to face
    // the internet, contradicted.
    let mut contradicted = Vec::new();
    let mut names: Vec<&str> = std::iter::once(key)
        .chain(seen.iter().filter_map(|o| o.hostname.as_deref()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let evidence = seen
        .iter()
        .find(|o| o.port.is_some())
        .unwrap_or(&seen[0])
        .evidence();
    for declared in state.store.assets_named(owner, &names).await? {
        if declared.id == asset.id
            || !matches!(
                declared.exposure,
                Some(Exposure::Small | Exposure::Controlled)
            )
        {
            continue;
        }
        if state
            .store
            .flag_contradiction(&who.actor(), &declared, &evidence)
            .await?
        {
            contradicted.push(format!(
                "{} (declared {}): {evidence}",
                declared.name,
                declared.exposure.map_or("", |e| e.as_str())
            ));
        }
    }
    Ok((Some(observed), contradicted))
}

/// The overlap notes a caller may see for these entries: central roles only (a note names the
/// other member), by entry id.
pub(crate) async fn overlap_notes(
    state: &AppState,
    who: &Principal,
    entries: &[ward_store::FootprintEntry],
) -> ApiResult<BTreeMap<i64, String>> {
    if !who.role.is_central() {
        return Ok(BTreeMap::new());
    }
    let approved = state.store.approved_claims(who.scope()).await?;
    Ok(overlaps(entries, &approved))
}

/// For the central team deciding on proposals: each proposed block that lies inside, or holds,
/// another member's approved block (a delegation to approve knowingly, or a claim on another
/// member's addresses), by entry id. Never shown to members: it names the other member.
fn overlaps(
    entries: &[ward_store::FootprintEntry],
    approved: &[ward_store::ApprovedClaim],
) -> BTreeMap<i64, String> {
    let blocks: Vec<(&str, ipnet::IpNet)> = approved
        .iter()
        .filter(|c| c.kind == "range")
        .filter_map(|c| Some((c.organisation.as_str(), c.value.parse().ok()?)))
        .collect();
    let mut out = BTreeMap::new();
    for e in entries
        .iter()
        .filter(|e| e.kind == "range" && e.state == "proposed")
    {
        let Ok(net) = e.value.parse::<ipnet::IpNet>() else {
            continue;
        };
        let notes: Vec<String> = blocks
            .iter()
            .filter(|(org, _)| *org != e.organisation)
            .filter_map(|(org, other)| {
                if other.contains(&net) {
                    Some(format!("inside {org}'s {other}"))
                } else if net.contains(other) {
                    Some(format!("holds {org}'s {other}"))
                } else {
                    None
                }
            })
            .take(5)
            .collect();
        if !notes.is_empty() {
            out.insert(e.id, notes.join("; "));
        }
    }
    out
}

/// The ranges a probe of the member may touch: its approved footprint's blocks.
pub(crate) async fn probe_ranges(state: &AppState, owner: Scope) -> ApiResult<Vec<ipnet::IpNet>> {
    Ok(state
        .store
        .approved_claims(owner)
        .await?
        .iter()
        .filter(|c| c.kind == "range")
        .filter_map(|c| c.value.parse().ok())
        .collect())
}
