//! Outside-in exposure: members' footprints (proposed, approved, withdrawn), the member's
//! authorisation to be probed, scan reports in, observations and the exposure summary out, and
//! a probe's plan (the ranges it may touch, audited before its first packet).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ward_store::{Attributed, Contradiction, FootprintEntry, ObservationRow, Role};

use crate::AppState;
use crate::auth::{Auth, ScopeQuery, request_scope};
use crate::error::{ApiError, ApiResult};
use crate::exposure::{ObservationImport, import_observations};

#[derive(Serialize, JsonSchema)]
pub(crate) struct FootprintList {
    pub(crate) entries: Vec<FootprintEntry>,
    /// When one member is in view: whether (and when, by whom) it authorised probing.
    pub(crate) probe_consent: Option<ProbeConsent>,
    /// Central roles: proposed blocks inside or holding another member's approved block
    /// ("inside hscn's 198.51.100.0/24"), to approve knowingly.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) overlaps: Vec<Overlap>,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct Overlap {
    /// The footprint entry.
    pub(crate) id: i64,
    pub(crate) note: String,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct ProbeConsent {
    pub(crate) at: String,
    pub(crate) by: String,
}

/// `GET /api/v1/footprint`.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<FootprintList>> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    let entries = state.store.footprint(scope).await?;
    let probe_consent = state
        .store
        .probe_consent(scope)
        .await?
        .map(|(at, by)| ProbeConsent { at, by });
    let overlaps = crate::exposure::overlap_notes(&state, &who, &entries)
        .await?
        .into_iter()
        .map(|(id, note)| Overlap { id, note })
        .collect();
    Ok(Json(FootprintList {
        entries,
        probe_consent,
        overlaps,
    }))
}

#[derive(Deserialize)]
pub(crate) struct NewClaim {
    organisation: Option<String>,
    value: String,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct FootprintAnswer {
    pub(crate) entry: FootprintEntry,
}

/// `POST /api/v1/footprint`: a member admin proposes, a central admin sets.
pub(crate) async fn claim(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Json(body): Json<NewClaim>,
) -> ApiResult<(StatusCode, Json<FootprintAnswer>)> {
    let owner = request_scope(&state, &who, body.organisation.as_deref()).await?;
    let entry = crate::exposure::claim(&state, &who, owner, &body.value).await?;
    Ok((StatusCode::CREATED, Json(FootprintAnswer { entry })))
}

#[derive(Deserialize)]
pub(crate) struct Decision {
    decision: String,
    reason: Option<String>,
}

/// `POST /api/v1/footprint/{id}/decision`: the central admin approves or rejects a proposed
/// entry; an admin (central, or the member's own) withdraws one.
pub(crate) async fn decide(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    Json(body): Json<Decision>,
) -> ApiResult<Json<FootprintAnswer>> {
    let entry =
        crate::exposure::decide(&state, &who, id, &body.decision, body.reason.as_deref()).await?;
    Ok(Json(FootprintAnswer { entry }))
}

#[derive(Deserialize)]
pub(crate) struct ConsentBody {
    consent: bool,
}

/// `PUT /api/v1/probe-consent`: the member's own admin authorises (or stops) the central
/// team's probes of its approved ranges. Nobody else can give it.
pub(crate) async fn consent(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Json(body): Json<ConsentBody>,
) -> ApiResult<Json<FootprintList>> {
    if who.role != Role::MemberAdmin {
        return Err(ApiError::forbidden(
            "authorise probing (only the member's own admin can)",
        ));
    }
    let scope = who.scope();
    state
        .store
        .set_probe_consent(&who.actor(), scope, body.consent)
        .await?;
    list(
        State(state),
        Auth(who),
        Query(ScopeQuery { organisation: None }),
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct ImportQuery {
    /// Who saw it (`shadowserver`, `nmap`, …) when the file does not say.
    source: Option<String>,
    /// The file's name, for messages.
    filename: Option<String>,
}

/// `POST /api/v1/observations`: a scan report (Shadowserver CSV, nmap XML, Ward's CSV).
pub(crate) async fn import(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ImportQuery>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<ObservationImport>)> {
    let name = q.filename.unwrap_or_else(|| "report".into());
    let answer = import_observations(&state, &who, &name, &body, q.source.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

#[derive(Deserialize)]
pub(crate) struct ObservationsQuery {
    organisation: Option<String>,
    /// `false`: the observations no member's footprint holds (central roles).
    attributed: Option<bool>,
    /// At most this many, newest first (default 500, at most 10,000).
    limit: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct ObservationList {
    pub(crate) observations: Vec<ObservationRow>,
}

/// `GET /api/v1/observations`.
pub(crate) async fn observations(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ObservationsQuery>,
) -> ApiResult<Json<ObservationList>> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    let which = if q.attributed == Some(false) {
        if !who.role.is_central() {
            return Err(ApiError::forbidden("see unattributed observations"));
        }
        Attributed::No
    } else {
        Attributed::Yes
    };
    let limit = q.limit.unwrap_or(500).clamp(1, 10_000);
    Ok(Json(ObservationList {
        observations: state.store.observations(scope, which, limit).await?,
    }))
}

/// One member's exposure as seen from outside.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub(crate) struct MemberExposure {
    pub(crate) organisation: String,
    /// Services seen answering (address, port, source).
    pub(crate) services: usize,
    /// Observed assets (addresses) and those with open findings.
    pub(crate) observed_assets: usize,
    pub(crate) vulnerable_assets: usize,
    /// The newest and the oldest last sighting: how fresh the picture is.
    pub(crate) newest: Option<String>,
    pub(crate) oldest: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct ExposureSummary {
    pub(crate) members: Vec<MemberExposure>,
    /// Observations no member's footprint holds (central roles; 0 for members).
    pub(crate) unattributed: usize,
    pub(crate) contradictions: Vec<Contradiction>,
}

/// The summary's rows are read at most this many observations deep.
const SUMMARY_DEPTH: i64 = 50_000;

/// `GET /api/v1/exposure`: per member, what was seen, how much of it is vulnerable and how old
/// the picture is; declared assets seen from the internet.
pub(crate) async fn summary(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<ExposureSummary>> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    Ok(Json(exposure_summary(&state, scope).await?))
}

pub(crate) async fn exposure_summary(
    state: &AppState,
    scope: ward_store::Scope,
) -> ApiResult<ExposureSummary> {
    let seen = state
        .store
        .observations(scope, Attributed::Yes, SUMMARY_DEPTH)
        .await?;
    let assets = state.store.assets(scope).await?;
    let mut members: BTreeMap<String, MemberExposure> = BTreeMap::new();
    for o in &seen {
        let Some(org) = &o.organisation else { continue };
        let m = members
            .entry(org.clone())
            .or_insert_with(|| MemberExposure {
                organisation: org.clone(),
                ..MemberExposure::default()
            });
        m.services += 1;
        if m.newest.as_ref().is_none_or(|n| o.last_seen > *n) {
            m.newest = Some(o.last_seen.clone());
        }
        if m.oldest.as_ref().is_none_or(|n| o.last_seen < *n) {
            m.oldest = Some(o.last_seen.clone());
        }
    }
    for a in assets
        .iter()
        .filter(|a| a.tags.iter().any(|t| t == "observed"))
    {
        if let Some(m) = members.get_mut(&a.organisation) {
            m.observed_assets += 1;
            if a.open_findings > 0 {
                m.vulnerable_assets += 1;
            }
        }
    }
    let unattributed = if scope.organisation().is_none() {
        state
            .store
            .observations(scope, Attributed::No, SUMMARY_DEPTH)
            .await?
            .len()
    } else {
        0
    };
    Ok(ExposureSummary {
        members: members.into_values().collect(),
        unattributed,
        contradictions: state.store.contradictions(scope).await?,
    })
}

#[derive(Deserialize)]
pub(crate) struct ProbeRequest {
    /// Required; optional here so that a caller without the role hears 403, not 422.
    organisation: Option<String>,
    /// The TCP ports the probe will try.
    ports: Vec<u16>,
    /// The fingerprints it will use (their ids), for the audit log.
    #[serde(default)]
    fingerprints: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct ProbePlan {
    pub(crate) organisation: String,
    /// The member's approved blocks: the only addresses the probe may touch.
    pub(crate) ranges: Vec<String>,
    pub(crate) ports: Vec<u16>,
    /// When the member authorised probing.
    pub(crate) consent_at: String,
}

/// Addresses one probe may cover at most (a /16).
pub(crate) const MAX_PROBE_ADDRESSES: u128 = 1 << 16;

/// `POST /api/v1/probes`: a central writer asks to probe a member. Refused unless the member's
/// own admin authorised it and the member has approved ranges; the plan is audited
/// (`probe.start`) before it is returned, so no probe runs unrecorded.
pub(crate) async fn plan(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Json(body): Json<ProbeRequest>,
) -> ApiResult<(StatusCode, Json<ProbePlan>)> {
    if !(who.role.is_central() && who.role.can_write()) {
        return Err(ApiError::forbidden("probe members"));
    }
    let Some(organisation) = body.organisation.filter(|o| !o.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "organisation: name the member to probe",
        ));
    };
    let owner = request_scope(&state, &who, Some(&organisation)).await?;
    let Some((consent_at, _)) = state.store.probe_consent(owner).await? else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{organisation} has not authorised probing (its admin gives consent: PUT /api/v1/probe-consent)"
            ),
        ));
    };
    let ranges = crate::exposure::probe_ranges(&state, owner).await?;
    if ranges.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{organisation} has no approved IP ranges to probe"),
        ));
    }
    let addresses: u128 = ranges
        .iter()
        .map(|r| 1u128 << (u32::from(r.max_prefix_len() - r.prefix_len())).min(127))
        .sum();
    if addresses > MAX_PROBE_ADDRESSES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{organisation}'s ranges hold {addresses} addresses; a probe covers at most {MAX_PROBE_ADDRESSES}"
            ),
        ));
    }
    if body.ports.is_empty() || body.ports.len() > 64 || body.ports.contains(&0) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ports: between 1 and 64 TCP ports, none 0",
        ));
    }
    let ranges: Vec<String> = ranges.iter().map(ToString::to_string).collect();
    state
        .store
        .log_probe(
            &who.actor(),
            owner,
            &serde_json::json!({
                "ranges": ranges, "ports": body.ports, "fingerprints": body.fingerprints,
            }),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ProbePlan {
            organisation,
            ranges,
            ports: body.ports,
            consent_at,
        }),
    ))
}
