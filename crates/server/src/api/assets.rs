//! Assets, their inventories, and the worklist of findings.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ward_model::Component;
use ward_store::{AssetRow, FindingRow, InventoryVersion, UploadOutcome};

use crate::AppState;
use crate::auth::{Auth, ScopeQuery, request_scope};
use crate::error::{ApiError, ApiResult};
use ward_store::{AssetId, NewAsset};

use crate::app::{self, scoped_asset, store_inventory};

pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<AssetList>> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    Ok(Json(AssetList {
        assets: state.store.assets(scope).await?,
    }))
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
) -> ApiResult<(StatusCode, Json<AssetAnswer>)> {
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
    Ok((StatusCode::CREATED, Json(AssetAnswer { asset })))
}

pub(crate) async fn one(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<AssetId>,
) -> ApiResult<Json<AssetWithComponents>> {
    let asset = scoped_asset(&state, &who, id).await?;
    let components = state
        .store
        .current_components(who.scope(), asset.id)
        .await?;
    Ok(Json(AssetWithComponents { asset, components }))
}

pub(crate) async fn inventory_history(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<AssetId>,
) -> ApiResult<Json<InventoryHistory>> {
    let asset = scoped_asset(&state, &who, id).await?;
    Ok(Json(InventoryHistory {
        asset: asset.id,
        versions: state.store.inventory_history(who.scope(), asset.id).await?,
    }))
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
) -> ApiResult<(StatusCode, Json<UploadAnswer>)> {
    if !who.role.can_write() {
        return Err(ApiError::forbidden("upload inventories"));
    }
    let asset = scoped_asset(&state, &who, id).await?;
    let name = q.filename.unwrap_or_else(|| "upload".into());
    let (outcome, warnings) = store_inventory(&state, &who, &asset, &name, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadAnswer { outcome, warnings }),
    ))
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
    /// The page after this place: the previous page's `next` (keyset paging, as fast at the
    /// millionth finding as at the first; `offset` is then ignored).
    after: Option<String>,
    /// `summary`: each finding without its `explanation` (the step-by-step account of the
    /// verdict, most of a finding's size; the finding's page shows it); `full` (default): as
    /// stored.
    view: Option<String>,
}

/// `GET /api/v1/findings`: the worklist, most urgent first (priority, then the remediation
/// deadline), a page at a time (`total` says how many there are).
pub(crate) async fn findings(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<FindingsQuery>,
) -> ApiResult<Json<Worklist>> {
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
    let summary = match q.view.as_deref() {
        None | Some("full") => false,
        Some("summary") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "view: {other:?} is not summary or full"
            )));
        }
    };
    let after = q
        .after
        .as_deref()
        .map(str::parse::<ward_store::WorklistCursor>)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("after: {e}")))?;
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
            after: after.clone(),
        })
        .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.position.to_string()))
        .flatten();
    let mut rows = rows;
    if summary {
        for r in &mut rows {
            if let Some(f) = r.finding.as_object_mut() {
                f.remove("explanation");
            }
        }
    }
    Ok(Json(Worklist {
        findings: rows,
        total,
        limit,
        offset: if after.is_some() { 0 } else { q.offset },
        next,
    }))
}

/// `GET /api/v1/assets`: with their current inventory version and open findings.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AssetList {
    assets: Vec<AssetRow>,
}

/// `POST /api/v1/assets`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AssetAnswer {
    asset: AssetRow,
}

/// `GET /api/v1/assets/{id}`: the asset and its current inventory's components.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AssetWithComponents {
    asset: AssetRow,
    components: Vec<Component>,
}

/// `GET /api/v1/assets/{id}/inventory`: every inventory uploaded, oldest first.
#[derive(Serialize, JsonSchema)]
pub(crate) struct InventoryHistory {
    asset: AssetId,
    versions: Vec<InventoryVersion>,
}

/// `POST /api/v1/assets/{id}/inventory`: what the upload changed, and what the parser ignored.
#[derive(Serialize, JsonSchema)]
pub(crate) struct UploadAnswer {
    #[serde(flatten)]
    outcome: UploadOutcome,
    /// Parts of the file that were passed over (a bad CPE, say), each naming file, record, field.
    warnings: Vec<String>,
}

/// `GET /api/v1/findings`: one page of the worklist.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Worklist {
    findings: Vec<FindingRow>,
    /// Findings matching the query, on every page.
    total: i64,
    limit: i64,
    offset: i64,
    /// Where the next page starts (pass it as `after`); absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}
