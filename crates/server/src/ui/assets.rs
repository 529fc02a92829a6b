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
    /// The current inventory's components matching `q`, one page.
    components: Vec<ComponentView>,
    /// Components matching `q` in all.
    matching: usize,
    q: String,
    page: usize,
    pages: usize,
    /// What changed in one version against the one before it.
    diff: Option<VersionDiff>,
}

/// Components per page of the asset page.
const COMPONENTS_PER_PAGE: usize = 50;

pub(super) struct ComponentView {
    name: String,
    vendor: String,
    version: String,
    id: String,
    /// For a service observed from outside: what was seen, where and when.
    evidence: String,
}

/// A component's vendor and version as written, or else as its CPE or purl says.
fn vendor_and_version(c: &ward_model::Component) -> (String, String) {
    let vendor = c
        .vendor
        .clone()
        .or_else(|| {
            c.cpe
                .as_ref()
                .and_then(|p| p.vendor.literal().map(str::to_owned))
        })
        .unwrap_or_default();
    let version = c
        .version
        .clone()
        .or_else(|| {
            c.cpe
                .as_ref()
                .and_then(|p| p.version.literal().map(str::to_owned))
        })
        .or_else(|| {
            c.purl.as_ref().and_then(|p| {
                p.split_once('@')
                    .map(|(_, v)| v.split(['?', '#']).next().unwrap_or(v).to_owned())
            })
        })
        .unwrap_or_default();
    (vendor, version)
}

impl ComponentView {
    fn new(c: &ward_model::Component) -> Self {
        let (vendor, version) = vendor_and_version(c);
        Self {
            name: c.name.clone(),
            vendor,
            version,
            id: c
                .purl
                .clone()
                .or_else(|| c.cpe.as_ref().map(ToString::to_string))
                .unwrap_or_default(),
            evidence: c.evidence.clone().unwrap_or_default(),
        }
    }

    fn matches(&self, q: &str) -> bool {
        [&self.name, &self.vendor, &self.version, &self.id]
            .iter()
            .any(|f| f.to_lowercase().contains(q))
    }
}

/// Version `version` against the one before it: components added, removed, and changed
/// version (a component is the same one when its purl without version, or vendor and name, is).
pub(super) struct VersionDiff {
    version: i64,
    /// `None`: the earlier version's components are no longer kept (or there is none).
    against: Option<i64>,
    added: Vec<String>,
    removed: Vec<String>,
    /// (component, from, to)
    changed: Vec<(String, String, String)>,
}

/// What identifies a component across versions.
fn identity(c: &ward_model::Component) -> String {
    match &c.purl {
        Some(p) => p.split(['@', '?', '#']).next().unwrap_or(p).to_owned(),
        None => format!(
            "{}/{}",
            vendor_and_version(c).0.to_lowercase(),
            c.name.to_lowercase()
        ),
    }
}

fn diff(
    version: i64,
    before: Option<(i64, Vec<ward_model::Component>)>,
    after: &[ward_model::Component],
) -> VersionDiff {
    let index = |cs: &[ward_model::Component]| -> BTreeMap<String, (String, String)> {
        cs.iter()
            .map(|c| {
                let (vendor, version) = vendor_and_version(c);
                let label = if vendor.is_empty() || c.purl.is_some() {
                    c.name.clone()
                } else {
                    format!("{vendor} {}", c.name)
                };
                (identity(c), (label, version))
            })
            .collect()
    };
    let now = index(after);
    let Some((against, before)) = before else {
        return VersionDiff {
            version,
            against: None,
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
        };
    };
    let then = index(&before);
    let mut d = VersionDiff {
        version,
        against: Some(against),
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
    };
    for (key, (name, v)) in &now {
        match then.get(key) {
            None => d.added.push(format!("{name} {v}").trim().to_owned()),
            Some((_, old)) if old != v => d.changed.push((name.clone(), old.clone(), v.clone())),
            Some(_) => {}
        }
    }
    for (key, (name, v)) in &then {
        if !now.contains_key(key) {
            d.removed.push(format!("{name} {v}").trim().to_owned());
        }
    }
    d
}

#[derive(Deserialize, Default)]
pub(super) struct AssetQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<usize>,
    /// Which version's changes to show (default: the newest).
    #[serde(default)]
    diff: Option<i64>,
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
    asset_view_with(state, session, id, errors, uploaded, AssetQuery::default()).await
}

pub(super) async fn asset_view_with(
    state: &AppState,
    session: &Session,
    id: AssetId,
    errors: Vec<String>,
    uploaded: Option<UploadSummary>,
    query: AssetQuery,
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
    let current = state
        .store
        .version_components(session.scope(), asset.id, None)
        .await?
        .unwrap_or_default();
    let q = query.q.trim().to_lowercase();
    let all: Vec<ComponentView> = current
        .iter()
        .map(ComponentView::new)
        .filter(|c| q.is_empty() || c.matches(&q))
        .collect();
    let matching = all.len();
    let pages = matching.div_ceil(COMPONENTS_PER_PAGE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let components = all
        .into_iter()
        .skip((page - 1) * COMPONENTS_PER_PAGE)
        .take(COMPONENTS_PER_PAGE)
        .collect();
    let newest = asset.inventory_version;
    let shown = query.diff.unwrap_or(newest).clamp(0, newest);
    let diff = if shown >= 1 {
        let after = if shown == newest {
            Some(current)
        } else {
            state
                .store
                .version_components(session.scope(), asset.id, Some(shown))
                .await?
        };
        match after {
            Some(after) => {
                let before = if shown > 1 {
                    state
                        .store
                        .version_components(session.scope(), asset.id, Some(shown - 1))
                        .await?
                        .map(|b| (shown - 1, b))
                } else {
                    None
                };
                Some(self::diff(shown, before, &after))
            }
            None => None,
        }
    } else {
        None
    };
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
        components,
        matching,
        q: query.q,
        page,
        pages,
        diff,
    })
}

pub(super) async fn asset_page(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<AssetId>,
    Query(query): Query<AssetQuery>,
) -> PageResult {
    Ok(html(
        &asset_view_with(&state, &session, id, Vec::new(), None, query).await?,
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
