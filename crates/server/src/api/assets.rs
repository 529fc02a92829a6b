//! Assets, their inventories, and the worklist of findings.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Auth, ScopeQuery, request_scope};
use crate::error::{ApiError, ApiResult};
use ward_store::{AssetId, NewAsset};

use crate::app::{self, scoped_asset, store_inventory};

pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<Value>> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    Ok(Json(json!({"assets": state.store.assets(scope).await?})))
}

#[derive(Deserialize)]
pub(crate) struct AssetBody {
    name: String,
    exposure: Option<String>,
    criticality: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// For the central team acting on a member's behalf.
    organisation: Option<String>,
}

pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Json(body): Json<AssetBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let exposure = body
        .exposure
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| ApiError::bad_request(format!("exposure: {e}")))?;
    let criticality = body
        .criticality
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| ApiError::bad_request(format!("criticality: {e}")))?;
    let asset = app::create_asset(
        &state,
        &who,
        body.organisation.as_deref(),
        &NewAsset {
            name: body.name,
            exposure,
            criticality,
            tags: body.tags,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"asset": asset}))))
}

pub(crate) async fn one(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<AssetId>,
) -> ApiResult<Json<Value>> {
    let asset = scoped_asset(&state, &who, id).await?;
    let components = state
        .store
        .current_components(who.scope(), asset.id)
        .await?;
    Ok(Json(json!({"asset": asset, "components": components})))
}

pub(crate) async fn inventory_history(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<AssetId>,
) -> ApiResult<Json<Value>> {
    let asset = scoped_asset(&state, &who, id).await?;
    Ok(Json(
        json!({"asset": asset.id, "versions": state.store.inventory_history(who.scope(), asset.id).await?}),
    ))
}

#[derive(Deserialize)]
pub(crate) struct UploadQuery {
    /// The file's name: it tells CSV from JSON and XML, and names the file in errors.
    filename: Option<String>,
}

/// `POST /api/v1/assets/{id}/inventory`: an SBOM (CycloneDX JSON/XML, SPDX JSON) or Ward CSV
/// for the asset. It becomes the asset's current inventory (earlier ones stay in its history),
/// is matched against the knowledge base at once, and the asset's findings are replaced: the
/// answer lists the new, changed and resolved ones. A malformed file changes nothing.
pub(crate) async fn upload_inventory(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<AssetId>,
    Query(q): Query<UploadQuery>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !who.role.can_write() {
        return Err(ApiError::forbidden("upload inventories"));
    }
    let asset = scoped_asset(&state, &who, id).await?;
    let name = q.filename.unwrap_or_else(|| "upload".into());
    let (outcome, warnings) = store_inventory(&state, &who, &asset, &name, &body).await?;
    let mut answer = serde_json::to_value(outcome).expect("serialisable");
    answer["warnings"] = json!(warnings);
    Ok((StatusCode::CREATED, Json(answer)))
}

#[derive(Deserialize)]
pub(crate) struct FindingsQuery {
    organisation: Option<String>,
    /// Only this priority (immediate, out-of-cycle, scheduled, defer).
    priority: Option<String>,
    /// Include resolved findings.
    #[serde(default)]
    resolved: bool,
    /// Text in the vulnerability id, the asset's name or the component.
    search: Option<String>,
    /// Only this asset's findings.
    asset: Option<AssetId>,
    /// Only this vulnerability's findings.
    vulnerability: Option<String>,
    /// Page size (default 100, at most 1000) and offset.
    limit: Option<i64>,
    #[serde(default)]
    offset: i64,
}

/// `GET /api/v1/findings`: the worklist, most urgent first (priority, then the remediation
/// deadline), a page at a time (`total` says how many there are).
pub(crate) async fn findings(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<FindingsQuery>,
) -> ApiResult<Json<Value>> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    let priority = q
        .priority
        .as_deref()
        .map(str::parse::<ward_model::Priority>)
        .transpose()
        .map_err(|e: String| ApiError::bad_request(format!("priority: {e}")))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) || q.offset < 0 {
        return Err(ApiError::bad_request("limit: 1 to 1000; offset: 0 or more"));
    }
    let (rows, total) = state
        .store
        .findings(&ward_store::FindingQuery {
            scope,
            resolved: q.resolved,
            priority,
            search: q.search,
            asset_id: q.asset,
            vulnerability: q.vulnerability,
            limit,
            offset: q.offset,
        })
        .await?;
    Ok(Json(
        json!({"findings": rows, "total": total, "limit": limit, "offset": q.offset}),
    ))
}
