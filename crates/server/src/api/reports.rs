//! Compliance reports as JSON or CSV.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Auth, request_scope};
use crate::error::ApiResult;

use crate::app::report;

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
    report(
        "alerts",
        &state.store.alert_compliance(scope).await?,
        q.format.as_deref(),
    )
}

/// `GET /api/v1/compliance/members`: each member's scorecard by month.
pub(crate) async fn compliance_members(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    report(
        "members",
        &state.store.member_scorecards(scope).await?,
        q.format.as_deref(),
    )
}
