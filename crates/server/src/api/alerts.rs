//! Alerts (issue, act on), sightings reported by hunts, and the audit log.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ward_store::{AlertRow, AuditEntry, ReportOutcome, SightingRow};

use crate::AppState;
use crate::auth::{Auth, ScopeQuery, request_scope};
use crate::error::{ApiError, ApiResult};
use ward_store::Role;

use ward_store::AlertId;

use crate::app::{act_on_alert, parse_sightings, plan_issue};

/// `POST /api/v1/sightings`: a STIX 2.1 bundle of `sighting` objects from `ward hunt --report`
/// (indicator objects in it give the titles of what was sighted). Recorded against the caller's
/// organisation; each thing sighted raises (or adds to) a possible-compromise alert.
pub(crate) async fn report_sightings(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<ReportOutcome>)> {
    if !who.role.can_write() {
        return Err(ApiError::forbidden("report sightings"));
    }
    let sightings = parse_sightings(&body).map_err(ApiError::bad_request)?;
    let outcome = state
        .store
        .record_sightings(&who, &sightings, state.policy.incidents)
        .await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

pub(crate) async fn sightings(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<SightingList>> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    Ok(Json(SightingList {
        sightings: state.store.sightings(scope).await?,
    }))
}

pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<AlertList>> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    Ok(Json(AlertList {
        alerts: state.store.alerts(scope).await?,
    }))
}

pub(crate) async fn audit(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
) -> ApiResult<Json<AuditEntries>> {
    if who.role != Role::CentralAdmin {
        return Err(ApiError::forbidden("read the audit log"));
    }
    Ok(Json(AuditEntries {
        entries: state.store.audit_log(who.scope()).await?,
    }))
}

#[derive(Deserialize)]
pub(crate) struct IssueBody {
    vulnerabilities: Vec<String>,
    note: Option<String>,
    /// Show who would be alerted, without alerting.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/alerts/issue`: a central analyst's high severity alert for one or more
/// vulnerabilities. It reaches every member with matching findings (`affected`) and every member
/// whose inventory says nothing about the product (`confirm-exposure`); members whose inventory
/// has the product at versions that are not affected get nothing.
pub(crate) async fn issue(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Json(body): Json<IssueBody>,
) -> ApiResult<(StatusCode, Json<IssueAnswer>)> {
    if !who.role.is_central() {
        return Err(ApiError::forbidden("issue alerts"));
    }
    let (targets, preview) = plan_issue(&state, &who, &body.vulnerabilities).await?;
    if body.dry_run {
        let preview = IssueAnswer {
            preview,
            alerts: None,
        };
        return Ok((StatusCode::OK, Json(preview)));
    }
    let alerts = state
        .store
        .issue_alerts(&who.actor(), who.scope(), &targets, body.note.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssueAnswer {
            preview,
            alerts: Some(alerts),
        }),
    ))
}

#[derive(Deserialize, Default)]
pub(crate) struct ActionBody {
    justification: Option<String>,
    /// Risk acceptances: until when (RFC 3339).
    until: Option<String>,
}

/// `POST /api/v1/alerts/{id}/{acknowledge|remediate|accept-risk|not-affected}`.
pub(crate) async fn act(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path((id, action)): Path<(AlertId, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<AlertAnswer>> {
    // The body is optional (acknowledge and remediate need none).
    let body: ActionBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("body: {e}")))?
    };
    let alert = act_on_alert(
        &state,
        &who,
        id,
        &action,
        body.justification,
        body.until.as_deref(),
    )
    .await?;
    Ok(Json(AlertAnswer { alert }))
}

/// `GET /api/v1/sightings`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct SightingList {
    sightings: Vec<SightingRow>,
}

/// `GET /api/v1/alerts`: latest change first.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AlertList {
    alerts: Vec<AlertRow>,
}

/// `GET /api/v1/audit`: the whole chain, oldest first.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AuditEntries {
    entries: Vec<AuditEntry>,
}

/// `POST /api/v1/alerts/{id}/{action}`: the alert as it now is.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AlertAnswer {
    alert: AlertRow,
}

/// `POST /api/v1/alerts/issue`: who it reaches, and (unless `dry_run`) the alerts issued.
#[derive(Serialize, JsonSchema)]
pub(crate) struct IssueAnswer {
    preview: Vec<crate::app::IssuePreview>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts: Option<Vec<AlertRow>>,
}
