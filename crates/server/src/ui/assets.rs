//! Assets and inventory uploads.

use super::*;

#[derive(Template)]
#[template(path = "assets.html")]
pub(super) struct AssetsPage {
    nav: Nav,
    assets: Vec<ward_store::AssetRow>,
    organisations: Vec<(String, String)>,
    error: String,
}

pub(super) async fn assets_view(
    state: &AppState,
    session: &Session,
    error: String,
) -> Result<AssetsPage, PageError> {
    let organisations = member_choices(state, session).await?;
    Ok(AssetsPage {
        nav: session.nav(state, "assets").await?,
        assets: state.store.assets(session.scope()).await?,
        organisations,
        error,
    })
}

pub(super) async fn assets(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    Ok(html(&assets_view(&state, &session, String::new()).await?))
}

#[derive(Deserialize)]
pub(super) struct AssetForm {
    csrf: String,
    name: String,
    #[serde(default)]
    exposure: String,
    #[serde(default)]
    criticality: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    organisation: String,
}

pub(super) async fn create_asset(
    State(state): State<Arc<AppState>>,
    session: Session,
    axum::Form(form): axum::Form<AssetForm>,
) -> PageResult {
    session.check(&form.csrf)?;
    if !session.who.role.can_write() {
        return Err(forbidden("create assets"));
    }
    // The central team names the member; a member creates in its own organisation.
    let named = session
        .who
        .role
        .is_central()
        .then_some(form.organisation.as_str());
    let result = match (
        parse_opt("exposure", &form.exposure),
        parse_opt("criticality", &form.criticality),
    ) {
        (Ok(exposure), Ok(criticality)) => crate::app::create_asset(
            &state,
            &session.who,
            named,
            &ward_store::NewAsset {
                name: form.name,
                exposure,
                criticality,
                tags: form
                    .tags
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
        )
        .await
        .map_err(|e| (e.status, e.message)),
        (Err(e), _) | (_, Err(e)) => Err((StatusCode::UNPROCESSABLE_ENTITY, e)),
    };
    match result {
        Ok(asset) => Ok(see_other(&format!("/assets/{}", asset.id))),
        Err((status, message)) => {
            let mut r = html(&assets_view(&state, &session, message).await?);
            *r.status_mut() = status;
            Ok(r)
        }
    }
}

/// An optional form field parsed as the model's word (empty: not given).
pub(super) fn parse_opt<T: std::str::FromStr<Err = String>>(
    field: &str,
    v: &str,
) -> Result<Option<T>, String> {
    if v.is_empty() {
        Ok(None)
    } else {
        v.parse()
            .map(Some)
            .map_err(|e: String| format!("{field}: {e}"))
    }
}

#[derive(Template)]
#[template(path = "asset.html")]
pub(super) struct AssetPage {
    nav: Nav,
    asset: ward_store::AssetRow,
    history: Vec<ward_store::InventoryVersion>,
    findings: Vec<FindingView>,
    errors: Vec<String>,
    uploaded: Option<UploadSummary>,
}

pub(super) struct UploadSummary {
    file: String,
    components: usize,
    new: usize,
    changed: usize,
    resolved: usize,
    warnings: Vec<String>,
}

pub(super) async fn asset_view(
    state: &AppState,
    session: &Session,
    id: AssetId,
    errors: Vec<String>,
    uploaded: Option<UploadSummary>,
) -> Result<AssetPage, PageError> {
    let asset = state
        .store
        .asset(session.scope(), id)
        .await?
        .ok_or_else(|| not_found("asset"))?;
    let (findings, _) = state
        .store
        .findings(&ward_store::FindingQuery {
            asset_id: Some(asset.id),
            limit: 500,
            ..ward_store::FindingQuery::new(session.scope())
        })
        .await?;
    Ok(AssetPage {
        nav: session.nav(state, "assets").await?,
        history: state
            .store
            .inventory_history(session.scope(), asset.id)
            .await?,
        findings: findings.iter().map(FindingView::new).collect(),
        asset,
        errors,
        uploaded,
    })
}

pub(super) async fn asset_page(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<AssetId>,
) -> PageResult {
    Ok(html(
        &asset_view(&state, &session, id, Vec::new(), None).await?,
    ))
}

/// The inventory upload form (multipart): the file replaces the asset's inventory, or the page
/// shows each error with where it is, and nothing changes.
pub(super) async fn upload(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<AssetId>,
    mut multipart: Multipart,
) -> PageResult {
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| PageError(ApiError::bad_request(format!("the upload: {e}"))))?
    {
        match field.name() {
            Some("csrf") => {
                csrf = field
                    .text()
                    .await
                    .map_err(|e| PageError(ApiError::bad_request(e.to_string())))?;
            }
            Some("file") => {
                let name = field.file_name().unwrap_or("upload").to_owned();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| PageError(ApiError::bad_request(e.to_string())))?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    session.check(&csrf)?;
    if !session.who.role.can_write() {
        return Err(forbidden("upload inventories"));
    }
    let asset = state
        .store
        .asset(session.scope(), id)
        .await?
        .ok_or_else(|| not_found("asset"))?;
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        let mut r = html(
            &asset_view(
                &state,
                &session,
                id,
                vec!["Choose a file to upload.".into()],
                None,
            )
            .await?,
        );
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(r);
    };
    match crate::app::store_inventory(&state, &session.who, &asset, &name, &bytes).await {
        Ok((outcome, warnings)) => {
            let summary = UploadSummary {
                file: name,
                components: outcome.components,
                new: outcome.new.len(),
                changed: outcome.changed.len(),
                resolved: outcome.resolved.len(),
                warnings,
            };
            Ok(html(
                &asset_view(&state, &session, id, Vec::new(), Some(summary)).await?,
            ))
        }
        Err(e) => {
            let status = e.status;
            let errors = e.message.lines().map(str::to_owned).collect();
            let mut r = html(&asset_view(&state, &session, id, errors, None).await?);
            *r.status_mut() = status;
            Ok(r)
        }
    }
}
