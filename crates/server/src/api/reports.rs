//! Compliance reports as JSON or CSV.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Auth, request_scope};
use crate::error::ApiResult;

use crate::app::{csv, json};
use schemars::JsonSchema;
use serde::Serialize;
use ward_store::{AlertCompliance, MemberScore};

#[derive(Deserialize)]
pub(crate) struct ReportQuery {
    organisation: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// `GET /api/v1/compliance/alerts`: per vulnerability alert, how many members acknowledged and
/// remediated within their deadlines.
pub(crate) async fn compliance_alerts(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    let alerts = state.store.alert_compliance(scope).await?;
    match q.format.as_deref() {
        Some("csv") => csv(&alerts),
        _ => json(AlertComplianceReport { alerts }, q.format.as_deref()),
    }
}

/// `GET /api/v1/compliance/members`: each member's scorecard by month.
pub(crate) async fn compliance_members(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    let members = state.store.member_scorecards(scope).await?;
    match q.format.as_deref() {
        Some("csv") => csv(&members),
        _ => json(MemberReport { members }, q.format.as_deref()),
    }
}

/// `GET /api/v1/compliance/alerts`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AlertComplianceReport {
    alerts: Vec<AlertCompliance>,
}

/// `GET /api/v1/compliance/members`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct MemberReport {
    members: Vec<MemberScore>,
}
