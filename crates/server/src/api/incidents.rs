//! Incidents (possible-compromise alerts with their sightings) and the campaign view: which
//! members sighted what, when, and how far each incident has got; sightings published upward
//! as STIX 2.1 `sighting` objects in a TAXII collection (to a national CERT).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ward_model::AlertKind;
use ward_store::{AlertId, AlertRow, Campaign, SightingRow};

use crate::AppState;
use crate::auth::{Auth, ScopeQuery, request_scope};
use crate::error::{ApiError, ApiResult};

/// Sightings shown with one incident, at most (the rest are counted).
pub(crate) const SIGHTINGS_SHOWN: i64 = 500;

/// What the sightings behind an incident add up to.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub(crate) struct SightingSummary {
    /// Sightings (each STIX sighting's count).
    pub(crate) count: i64,
    pub(crate) first_seen: Option<String>,
    pub(crate) last_seen: Option<String>,
    /// Client addresses the sighted lines named, most frequent first, with their counts.
    pub(crate) sources: Vec<SourceCount>,
    /// Assets the member named as the logs' hosts.
    pub(crate) assets: Vec<String>,
    /// Logs the sightings came from (as the member named them).
    pub(crate) files: Vec<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct SourceCount {
    pub(crate) source: String,
    pub(crate) count: i64,
}

/// `GET /api/v1/incidents/{id}`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct IncidentDetail {
    pub(crate) incident: AlertRow,
    pub(crate) summary: SightingSummary,
    /// The first [`SIGHTINGS_SHOWN`] sightings, oldest first.
    pub(crate) sightings: Vec<SightingRow>,
}

pub(crate) fn summarise(sightings: &[SightingRow]) -> SightingSummary {
    let mut s = SightingSummary::default();
    let mut sources: BTreeMap<&str, i64> = BTreeMap::new();
    for x in sightings {
        s.count += x.count;
        if s.first_seen.as_ref().is_none_or(|f| x.first_seen < *f) {
            s.first_seen = Some(x.first_seen.clone());
        }
        if s.last_seen.as_ref().is_none_or(|l| x.last_seen > *l) {
            s.last_seen = Some(x.last_seen.clone());
        }
        if let Some(src) = &x.source {
            *sources.entry(src).or_default() += x.count;
        }
        if let Some(a) = &x.asset
            && !s.assets.contains(a)
        {
            s.assets.push(a.clone());
        }
        if let Some(f) = &x.file
            && !s.files.contains(f)
            && s.files.len() < 50
        {
            s.files.push(f.clone());
        }
    }
    let mut sources: Vec<SourceCount> = sources
        .into_iter()
        .map(|(source, count)| SourceCount {
            source: source.to_owned(),
            count,
        })
        .collect();
    sources.sort_by(|a, b| b.count.cmp(&a.count).then(a.source.cmp(&b.source)));
    sources.truncate(50);
    s.sources = sources;
    s
}

/// One incident within the caller's scope, with its sightings (404 for a vulnerability alert
/// or another member's incident).
pub(crate) async fn incident(
    state: &AppState,
    who: &ward_store::Principal,
    id: AlertId,
) -> ApiResult<IncidentDetail> {
    let alert = state
        .store
        .alert(who.scope(), id)
        .await?
        .filter(|a| a.kind == AlertKind::PossibleCompromise)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("incident {id}: not found")))?;
    detail(state, who, alert).await
}

/// An incident's detail, from the alert already read within the caller's scope.
pub(crate) async fn detail(
    state: &AppState,
    who: &ward_store::Principal,
    alert: AlertRow,
) -> ApiResult<IncidentDetail> {
    let sightings = state
        .store
        .incident_sightings(who.scope(), alert.id, SIGHTINGS_SHOWN)
        .await?;
    let mut summary = summarise(&sightings);
    // Beyond the sightings shown, the incident's evidence counts them all.
    summary.count = summary.count.max(alert.evidence);
    Ok(IncidentDetail {
        incident: alert,
        summary,
        sightings,
    })
}

pub(crate) async fn show(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<AlertId>,
) -> ApiResult<Json<IncidentDetail>> {
    Ok(Json(incident(&state, &who, id).await?))
}

/// `GET /api/v1/campaigns`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct CampaignList {
    campaigns: Vec<Campaign>,
}

/// The campaign view: the central team sees every member; a member sees its own part.
pub(crate) async fn campaigns(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<CampaignList>> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    Ok(Json(CampaignList {
        campaigns: state.store.campaigns(scope).await?,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishBody {
    /// The TAXII collection to add the sightings to.
    collection: String,
    /// Only these things sighted (STIX ids); all when absent.
    #[serde(default)]
    subjects: Vec<String>,
    /// Name members by a pseudonym instead of their names.
    #[serde(default)]
    anonymise: bool,
    /// Leave out incidents found to be false positives (the default: true).
    #[serde(default = "yes")]
    skip_false_positives: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/v1/campaigns/publish`'s answer.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Published {
    collection: String,
    /// STIX `sighting` objects added (one per member and thing sighted).
    sightings: usize,
    /// `identity` objects added (one per member).
    identities: usize,
    /// Objects already in the collection as they are.
    already_present: usize,
}

/// Ward's STIX namespace for the ids of what it publishes (UUID v5).
const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x7c1e_53a0_4b9d_4f1e_a2c3_6d8e_9f0a_1b2c);

fn stix_id(kind: &str, name: &str) -> String {
    format!(
        "{kind}--{}",
        uuid::Uuid::new_v5(&NAMESPACE, name.as_bytes())
    )
}

/// The campaigns as STIX 2.1: per member and thing sighted a `sighting` (count, first and last
/// seen, where sighted: the member's `identity`), the identities, and the central team's own
/// indicator object when the thing sighted is one it published. Ids are stable, so a new
/// publication of the same facts adds nothing and changed facts add a new version.
pub(crate) fn campaign_bundle(
    campaigns: &[Campaign],
    indicators: &BTreeMap<String, Value>,
    pseudonyms: Option<&BTreeMap<String, [u8; 16]>>,
    skip_false_positives: bool,
    now: &str,
) -> (Vec<Value>, usize, usize) {
    let mut objects = Vec::new();
    let mut identities: BTreeMap<String, Value> = BTreeMap::new();
    let mut sightings = 0;
    for c in campaigns {
        let before = sightings;
        for m in &c.members {
            if skip_false_positives && m.state == Some(ward_model::AlertState::FalsePositive) {
                continue;
            }
            // Named, or by a keyed pseudonym (stable across publications; the id too, so that
            // neither can be tied to a member by trying names).
            let pseudonym = pseudonyms
                .and_then(|p| p.get(&m.organisation))
                .map(|bytes| uuid::Builder::from_random_bytes(*bytes).into_uuid());
            let identity = match pseudonym {
                Some(u) => format!("identity--{u}"),
                None => stix_id("identity", &format!("organisation:{}", m.organisation)),
            };
            identities.entry(identity.clone()).or_insert_with(|| {
                let name = match pseudonym {
                    Some(u) => format!("Member {}", &u.simple().to_string()[..8]),
                    None => m.organisation_name.clone(),
                };
                json!({
                    "type": "identity", "spec_version": "2.1", "id": identity,
                    "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
                    "name": name, "identity_class": "organization",
                })
            });
            let id = stix_id("sighting", &format!("{}:{}", c.subject, m.organisation));
            let mut s = json!({
                "type": "sighting", "spec_version": "2.1", "id": id,
                "created": m.first_seen, "modified": if m.last_seen.as_str() > now { now } else { m.last_seen.as_str() },
                "first_seen": m.first_seen, "last_seen": m.last_seen,
                "count": m.sightings.clamp(1, 999_999_999),
                "sighting_of_ref": c.subject,
                "where_sighted_refs": [identity],
                "description": c.title,
            });
            if let Some(state) = m.state {
                s["x_ward_incident_state"] = json!(state.as_str());
            }
            if !c.vulnerabilities.is_empty() {
                s["external_references"] = Value::Array(
                    c.vulnerabilities
                        .iter()
                        .map(|v| json!({"source_name": "cve", "external_id": v}))
                        .collect(),
                );
            }
            objects.push(s);
            sightings += 1;
        }
        // What was sighted, when the central team published it (and something is sighted).
        if sightings > before
            && let Some(ind) = indicators.get(&c.subject)
        {
            objects.push(ind.clone());
        }
    }
    let n = identities.len();
    objects.extend(identities.into_values());
    (objects, sightings, n)
}

/// `POST /api/v1/campaigns/publish`: the central team adds the federation's sightings to a
/// TAXII collection (a national CERT reads it with any TAXII 2.1 client).
pub(crate) async fn publish(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Published>)> {
    if !who.role.is_central() {
        return Err(ApiError::forbidden("publish sightings"));
    }
    let body: PublishBody =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("body: {e}")))?;
    let mut campaigns = state.store.campaigns(who.scope()).await?;
    if !body.subjects.is_empty() {
        campaigns.retain(|c| body.subjects.contains(&c.subject));
    }
    let mut indicators = BTreeMap::new();
    for c in &campaigns {
        if let Some(o) = state.store.published_object(&c.subject).await? {
            indicators.insert(c.subject.clone(), o);
        }
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut pseudonyms = BTreeMap::new();
    if body.anonymise {
        for c in &campaigns {
            for m in &c.members {
                if !pseudonyms.contains_key(&m.organisation) {
                    let p = state.store.pseudonym(&m.organisation).await?;
                    pseudonyms.insert(m.organisation.clone(), p);
                }
            }
        }
    }
    let (objects, sightings, identities) = campaign_bundle(
        &campaigns,
        &indicators,
        body.anonymise.then_some(&pseudonyms),
        body.skip_false_positives,
        &now,
    );
    if objects.is_empty() {
        return Err(ApiError::bad_request("nothing to publish: no sightings"));
    }
    let added = state
        .store
        .add_objects(&who.actor(), &body.collection, &objects)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Published {
            collection: body.collection,
            sightings,
            identities,
            already_present: added.unchanged,
        }),
    ))
}
