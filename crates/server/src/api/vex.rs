//! VEX in and out (#21): members' and the central team's statements, applied by matching,
//! and each member's decisions exported as OpenVEX, CycloneDX VEX or CSAF VEX.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ward_model::{VexProduct, VexStatement, VexStatus};
use ward_store::{NewStatement, Principal, Scope, StatementId, StatementRow};

use crate::AppState;
use crate::auth::{Auth, request_scope};
use crate::error::{ApiError, ApiResult};
use crate::jobs::{MatchRun, rematch};

#[derive(Deserialize)]
pub(crate) struct ExportQuery {
    organisation: Option<String>,
    /// `openvex` (default), `cyclonedx` or `csaf`.
    format: Option<String>,
}

/// `GET /api/v1/vex`: the decisions and statements within the caller's scope as one VEX
/// document — a member's own (and the central statements that speak to it); the central team
/// one member's (`?organisation=`) or the federation's.
pub(crate) async fn export(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    let mut statements = state.store.vex_decisions(scope).await?;
    statements.extend(
        state
            .store
            .statements(scope, false)
            .await?
            .into_iter()
            .map(|r| r.statement),
    );
    let publisher = publisher(&state, &who, q.organisation.as_deref()).await?;
    let document = match q.format.as_deref().unwrap_or("openvex") {
        "openvex" => ward_feeds::vex_out::openvex(&statements, &publisher),
        "cyclonedx" => ward_feeds::vex_out::cyclonedx(&statements, &publisher),
        "csaf" => ward_feeds::vex_out::csaf(&statements, &publisher),
        other => {
            return Err(ApiError::bad_request(format!(
                "format: {other:?} is not one of openvex, cyclonedx, csaf"
            )));
        }
    };
    Ok(Json(document).into_response())
}

/// Who a document is from: the member named (or the caller's own organisation).
async fn publisher(
    state: &AppState,
    who: &Principal,
    requested: Option<&str>,
) -> ApiResult<ward_feeds::vex_out::Publisher> {
    let org = match requested {
        Some(slug) if slug != who.organisation.slug => state
            .store
            .organisation_by_slug(slug)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("no such organisation {slug:?}"),
                )
            })?,
        _ => who.organisation.clone(),
    };
    Ok(ward_feeds::vex_out::Publisher {
        name: org.name.clone(),
        namespace: format!("urn:ward:org:{}", org.slug),
        category: if who.role.is_central() && requested.is_none() {
            "coordinator"
        } else {
            "user"
        },
        timestamp: Utc::now(),
    })
}

/// A VEX document, in the format `format` asks for: OpenVEX 0.2 (`@context`, `statements`),
/// CycloneDX 1.5 VEX (`bomFormat`, `components`, `vulnerabilities`) or CSAF 2.0 `csaf_vex`
/// (`document`, `product_tree`, `vulnerabilities`). Each is valid against its official schema.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct VexExport {
    #[serde(rename = "@context")]
    pub context: Option<String>,
    pub statements: Option<Vec<serde_json::Value>>,
    #[serde(rename = "bomFormat")]
    pub bom_format: Option<String>,
    pub components: Option<Vec<serde_json::Value>>,
    pub document: Option<serde_json::Value>,
    pub product_tree: Option<serde_json::Value>,
    pub vulnerabilities: Option<Vec<serde_json::Value>>,
}

/// What storing statements did.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Published {
    pub statements: Vec<StatementRow>,
    /// The re-match of the assets the statements' vulnerabilities can touch.
    #[schemars(with = "serde_json::Value")]
    pub matching: MatchRun,
    /// Members told through their alerts (central statements).
    pub members_told: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct StatementList {
    pub statements: Vec<StatementRow>,
}

/// Where statements go: one member (its own, or the one a central role names), or the
/// federation (a central role naming none).
async fn target(
    state: &AppState,
    who: &Principal,
    requested: Option<&str>,
) -> ApiResult<(Option<ward_store::OrgId>, &'static str)> {
    if !who.role.can_write() {
        return Err(ApiError::forbidden("publish VEX statements"));
    }
    if who.role.is_central() {
        // The central team's statements: for every member, or for the one it names.
        let scope = match requested {
            None => return Ok((None, "central")),
            Some(_) => request_scope(state, who, requested).await?,
        };
        return Ok((scope.organisation(), "central"));
    }
    let scope = request_scope(state, who, requested).await?;
    Ok((scope.organisation(), "upload"))
}

/// Stores statements, re-matches what they can touch, and (central ones) tells the members.
async fn publish(
    state: &AppState,
    who: &Principal,
    organisation: Option<ward_store::OrgId>,
    origin: &str,
    statements: Vec<NewStatement>,
    supersedes: Option<StatementId>,
) -> ApiResult<Published> {
    let rows = state
        .store
        .publish_statements(&who.actor(), organisation, origin, statements, supersedes)
        .await?;
    let mut vulns: Vec<String> = rows.iter().map(|r| r.vulnerability.clone()).collect();
    if let Some(old) = supersedes
        && let Some(before) = state
            .store
            .statements(Scope::operator(), true)
            .await?
            .into_iter()
            .find(|r| r.id == old)
    {
        vulns.push(before.vulnerability);
    }
    let matching = rematch_vulnerabilities(state, vulns).await?;
    let mut members_told = 0;
    if origin == "central" {
        for r in &rows {
            let orgs = state
                .store
                .organisations_touched_by(&r.vulnerability, r.id)
                .await?;
            members_told += state
                .store
                .announce_statement(&who.actor(), r, &orgs)
                .await?;
        }
    }
    Ok(Published {
        statements: rows,
        matching,
        members_told,
    })
}

async fn rematch_vulnerabilities(state: &AppState, mut vulns: Vec<String>) -> ApiResult<MatchRun> {
    vulns.sort();
    vulns.dedup();
    let mut run = MatchRun::default();
    let touched = state.store.assets_touched(&vulns).await?;
    rematch(
        &state.store,
        &state.policy,
        &touched,
        Some(&vulns),
        &mut run,
    )
    .await?;
    run.vulnerabilities = vulns.len();
    Ok(run)
}

#[derive(Deserialize)]
pub(crate) struct TargetQuery {
    organisation: Option<String>,
}

/// `POST /api/v1/vex`: a VEX document (OpenVEX, CycloneDX VEX, CSAF) for the caller's
/// organisation, or — a central role naming no member — for the whole federation.
pub(crate) async fn upload(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<TargetQuery>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Published>)> {
    let (organisation, origin) = target(&state, &who, q.organisation.as_deref()).await?;
    // Parsing a large document is CPU work: off the async workers.
    let parsed = ward_store::cpu::run(move || ward_feeds::vex::parse_vex("upload", &body))
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if parsed.statements.is_empty() {
        return Err(ApiError::bad_request("the document holds no statements"));
    }
    let statements = parsed
        .statements
        .into_iter()
        .map(|mut s| {
            if s.author.is_none() {
                s.author = Some(who.organisation.name.clone());
            }
            s.document = format!("{} document", parsed.format);
            NewStatement {
                statement: s,
                remediate_by: None,
                references: Vec::new(),
            }
        })
        .collect();
    let out = publish(&state, &who, organisation, origin, statements, None).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    organisation: Option<String>,
    #[serde(default)]
    revoked: bool,
}

/// `GET /api/v1/vex/statements`: the statements within the scope (a member's own and the
/// central team's), revoked ones with `?revoked=true`.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<StatementList>> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    Ok(Json(StatementList {
        statements: state.store.statements(scope, q.revoked).await?,
    }))
}

/// A statement written by hand: the central team's for every member, or a member's own answer.
#[derive(Deserialize)]
pub(crate) struct StatementBody {
    pub(crate) vulnerability: String,
    /// purls or CPEs; empty: every product the vulnerability is found in.
    #[serde(default)]
    pub(crate) products: Vec<String>,
    pub(crate) status: VexStatus,
    pub(crate) justification: Option<String>,
    /// The condition or impact ("not exploitable when the admin portal is not internet-facing").
    pub(crate) impact: Option<String>,
    /// What to do: a mitigation, a workaround, a fix.
    pub(crate) action: Option<String>,
    /// `mitigation`, `workaround` or `vendor_fix`: how the action is offered.
    pub(crate) action_category: Option<String>,
    pub(crate) remediate_by: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) references: Vec<String>,
    /// A statement this one replaces (its next version).
    pub(crate) supersedes: Option<StatementId>,
    /// A central role: for one member only (its slug).
    pub(crate) organisation: Option<String>,
}

fn product(text: &str) -> ApiResult<VexProduct> {
    let t = text.trim();
    if t.starts_with("pkg:") {
        t.parse::<ward_model::Purl>()
            .map_err(|e| ApiError::bad_request(format!("products: {t:?} is not a purl: {e}")))?;
        Ok(VexProduct {
            id: t.to_owned(),
            purl: Some(t.to_owned()),
            cpe: None,
        })
    } else if t.starts_with("cpe:") {
        t.parse::<ward_model::Cpe>()
            .map_err(|e| ApiError::bad_request(format!("products: {t:?} is not a CPE: {e}")))?;
        Ok(VexProduct {
            id: t.to_owned(),
            purl: None,
            cpe: Some(t.to_owned()),
        })
    } else {
        Err(ApiError::bad_request(format!(
            "products: {t:?} is neither a purl (pkg:…) nor a CPE (cpe:…)"
        )))
    }
}

/// `POST /api/v1/vex/statements`: publish a statement.
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Published>)> {
    // The role before the body: a caller who may not publish learns nothing from its errors.
    if !who.role.can_write() {
        return Err(ApiError::forbidden("publish VEX statements"));
    }
    let body: StatementBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not a statement: {e}")))?;
    let out = publish_statement(&state, &who, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Publishes one hand-written statement (the API's and the web form's).
pub(crate) async fn publish_statement(
    state: &AppState,
    who: &Principal,
    body: StatementBody,
) -> ApiResult<Published> {
    let (organisation, origin) = target(state, who, body.organisation.as_deref()).await?;
    if let Some(j) = &body.justification
        && body.status == VexStatus::NotAffected
        && !ward_feeds::csaf::is_justification(j)
    {
        return Err(ApiError::bad_request(format!(
            "justification: {j:?} is not a VEX justification (component_not_present, vulnerable_code_not_present, vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary, inline_mitigations_already_exist)"
        )));
    }
    let products = body
        .products
        .iter()
        .map(|p| product(p))
        .collect::<ApiResult<Vec<_>>>()?;
    let action = match (&body.action, body.action_category.as_deref()) {
        (Some(a), Some(c @ ("mitigation" | "workaround" | "vendor_fix"))) => {
            Some(format!("{c}: {a}"))
        }
        (Some(_), Some(c)) => {
            return Err(ApiError::bad_request(format!(
                "action_category: {c:?} is not one of mitigation, workaround, vendor_fix"
            )));
        }
        (a, _) => a.clone(),
    };
    let statement = VexStatement {
        vulnerability: body.vulnerability.trim().to_owned(),
        aliases: Vec::new(),
        products,
        subcomponents: Vec::new(),
        status: body.status,
        justification: body.justification,
        impact: body.impact,
        action,
        author: Some(who.organisation.name.clone()),
        timestamp: Some(Utc::now()),
        document: "statement".into(),
    };
    for r in &body.references {
        if !(r.starts_with("https://") || r.starts_with("http://")) || r.len() > 2_000 {
            return Err(ApiError::bad_request(format!(
                "references: {r:?} is not a web address"
            )));
        }
    }
    publish(
        state,
        who,
        organisation,
        origin,
        vec![NewStatement {
            statement,
            remediate_by: body.remediate_by,
            references: body.references,
        }],
        body.supersedes,
    )
    .await
}

/// `POST /api/v1/vex/statements/{id}/revoke`.
pub(crate) async fn revoke(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<StatementId>,
) -> ApiResult<Json<Published>> {
    Ok(Json(revoke_statement(&state, &who, id).await?))
}

/// Revokes a statement and matches again what it spoke to (the API's and the web form's).
pub(crate) async fn revoke_statement(
    state: &AppState,
    who: &Principal,
    id: StatementId,
) -> ApiResult<Published> {
    if !who.role.can_write() {
        return Err(ApiError::forbidden("revoke VEX statements"));
    }
    let row = state
        .store
        .revoke_statement(&who.actor(), who.scope(), id)
        .await?;
    let matching = rematch_vulnerabilities(state, vec![row.vulnerability.clone()]).await?;
    Ok(Published {
        statements: vec![row],
        matching,
        members_told: 0,
    })
}
