//! TAXII 2.1 (OASIS): the central team publishes STIX 2.1 collections — indicators, and Sigma
//! rules carried as indicators with `pattern_type: "sigma"` — and members pull them with any
//! TAXII 2.1 client. Discovery, the API root, collections, objects (`added_after`, `limit`,
//! `next`, `match[type]`, `match[id]`) and manifests, in `application/taxii+json;version=2.1`;
//! read access per collection and member, with Ward's tokens and sessions. Collections are
//! created and filled through Ward's own API (central roles).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ward_store::Principal;
use ward_store::taxii::{AddedObjects, CollectionRow};

use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};

/// TAXII 2.1's media type.
pub(crate) const MEDIA: &str = "application/taxii+json;version=2.1";
const STIX_MEDIA: &str = "application/stix+json;version=2.1";
const API_ROOT: &str = "/taxii2/api/";

/// 406 unless the client accepts TAXII 2.1 (or anything).
fn accepts(headers: &HeaderMap) -> ApiResult<()> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    if accept.contains("application/taxii+json") || accept.contains("*/*") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!("this server speaks {MEDIA}"),
        ))
    }
}

fn taxii<T: Serialize>(body: &T) -> Response {
    let mut r = Json(body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA));
    r
}

/// The TAXII server's discovery resource.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Discovery {
    pub title: String,
    pub description: String,
    /// The default API root (a path on this server).
    pub default: String,
    pub api_roots: Vec<String>,
}

/// The API root's information.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ApiRootInfo {
    pub title: String,
    pub versions: Vec<String>,
    pub max_content_length: usize,
}

/// A collection as TAXII describes it.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TaxiiCollection {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub can_read: bool,
    pub can_write: bool,
    pub media_types: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Collections {
    pub collections: Vec<TaxiiCollection>,
}

/// A page of objects.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Envelope {
    pub more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    pub objects: Vec<Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ManifestRecord {
    pub id: String,
    pub date_added: String,
    pub version: String,
    pub media_type: String,
}

/// A page of a collection's manifest.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Manifest {
    pub more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    pub objects: Vec<ManifestRecord>,
}

fn describe(c: &CollectionRow) -> TaxiiCollection {
    TaxiiCollection {
        id: c.id.clone(),
        title: c.title.clone(),
        description: c.description.clone(),
        can_read: true,
        can_write: false,
        media_types: vec![STIX_MEDIA.to_owned()],
    }
}

/// The collection if the caller may read it; otherwise 404, as for one that does not exist
/// (a member learns nothing of collections it may not read).
async fn readable(state: &AppState, who: &Principal, id: &str) -> ApiResult<CollectionRow> {
    state
        .store
        .collection(id)
        .await?
        .filter(|c| c.readable_by(&who.organisation.slug, who.role.is_central()))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no collection {id:?}")))
}

pub(crate) async fn discovery(Auth(_who): Auth, headers: HeaderMap) -> ApiResult<Response> {
    accepts(&headers)?;
    Ok(taxii(&Discovery {
        title: "Ward".into(),
        description: "Indicators and detection rules the central team shares with its members"
            .into(),
        default: API_ROOT.into(),
        api_roots: vec![API_ROOT.into()],
    }))
}

pub(crate) async fn api_root(Auth(_who): Auth, headers: HeaderMap) -> ApiResult<Response> {
    accepts(&headers)?;
    Ok(taxii(&ApiRootInfo {
        title: "Ward".into(),
        versions: vec![MEDIA.into()],
        max_content_length: crate::MAX_BODY,
    }))
}

pub(crate) async fn collections(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    headers: HeaderMap,
) -> ApiResult<Response> {
    accepts(&headers)?;
    let all = state.store.collections().await?;
    Ok(taxii(&Collections {
        collections: all
            .iter()
            .filter(|c| c.readable_by(&who.organisation.slug, who.role.is_central()))
            .map(describe)
            .collect(),
    }))
}

pub(crate) async fn collection(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    accepts(&headers)?;
    let c = readable(&state, &who, &id).await?;
    Ok(taxii(&describe(&c)))
}

#[derive(Deserialize)]
pub(crate) struct ObjectsQuery {
    added_after: Option<String>,
    limit: Option<i64>,
    next: Option<String>,
    #[serde(rename = "match[type]")]
    types: Option<String>,
    #[serde(rename = "match[id]")]
    ids: Option<String>,
}

/// The page a request asks for, read from the store.
async fn page(
    state: &AppState,
    id: &str,
    q: &ObjectsQuery,
) -> ApiResult<(Vec<ward_store::taxii::StoredObject>, bool, i64)> {
    let added_after = match q.added_after.as_deref() {
        None => None,
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| ApiError::bad_request(format!("added_after: {t:?}: {e}")))?
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
    };
    let after_seq = match q.next.as_deref() {
        None => 0,
        Some(n) => n.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!("next: {n:?} is not a page this server gave"))
        })?,
    };
    let list = |v: &Option<String>| -> Vec<String> {
        v.as_deref()
            .map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(state
        .store
        .collection_objects(
            id,
            added_after.as_deref(),
            after_seq,
            q.limit.unwrap_or(100),
            &list(&q.types),
            &list(&q.ids),
        )
        .await?)
}

/// A page of a collection the caller may read, as the client accepts: the objects, whether
/// more follow, where the next page starts, and the first and last `date_added`.
type Page = (
    Vec<ward_store::taxii::StoredObject>,
    bool,
    i64,
    Option<String>,
    Option<String>,
);

async fn checked_page(
    state: &AppState,
    who: &Principal,
    headers: &HeaderMap,
    id: &str,
    q: &ObjectsQuery,
) -> ApiResult<Page> {
    accepts(headers)?;
    readable(state, who, id).await?;
    let (objects, more, next) = page(state, id, q).await?;
    let first = objects.first().map(|o| o.date_added.clone());
    let last = objects.last().map(|o| o.date_added.clone());
    Ok((objects, more, next, first, last))
}

fn with_dates(mut r: Response, first: Option<&str>, last: Option<&str>) -> Response {
    for (name, value) in [
        ("x-taxii-date-added-first", first),
        ("x-taxii-date-added-last", last),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            r.headers_mut().insert(name, v);
        }
    }
    r
}

pub(crate) async fn objects(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ObjectsQuery>,
) -> ApiResult<Response> {
    let (objects, more, next, first, last) = checked_page(&state, &who, &headers, &id, &q).await?;
    let body = Envelope {
        more,
        next: more.then(|| next.to_string()),
        objects: objects.into_iter().map(|o| o.payload).collect(),
    };
    Ok(with_dates(taxii(&body), first.as_deref(), last.as_deref()))
}

pub(crate) async fn manifest(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ObjectsQuery>,
) -> ApiResult<Response> {
    let (objects, more, next, first, last) = checked_page(&state, &who, &headers, &id, &q).await?;
    let body = Manifest {
        more,
        next: more.then(|| next.to_string()),
        objects: objects
            .into_iter()
            .map(|o| ManifestRecord {
                id: o.id,
                date_added: o.date_added,
                version: o.version,
                media_type: STIX_MEDIA.into(),
            })
            .collect(),
    };
    Ok(with_dates(taxii(&body), first.as_deref(), last.as_deref()))
}

#[derive(Deserialize)]
pub(crate) struct NewCollection {
    title: String,
    description: Option<String>,
    /// `["*"]` (default): every member; else members' slugs.
    #[serde(default)]
    readers: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CollectionAnswer {
    pub collection: CollectionRow,
}

/// `POST /api/v1/taxii/collections` (central roles).
pub(crate) async fn create_collection(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<CollectionAnswer>)> {
    if !who.role.is_central() {
        return Err(ApiError::forbidden("create TAXII collections"));
    }
    let body: NewCollection = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not a collection: {e}")))?;
    let readers = if body.readers.is_empty() {
        vec!["*".to_owned()]
    } else {
        body.readers
    };
    let c = state
        .store
        .create_collection(
            &who.actor(),
            &body.title,
            body.description.as_deref(),
            &readers,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CollectionAnswer { collection: c }),
    ))
}

/// `POST /api/v1/taxii/collections/{id}/objects` (central roles): a STIX 2.1 bundle's objects
/// added to the collection.
pub(crate) async fn add_objects(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<AddedObjects>)> {
    if !who.role.is_central() {
        return Err(ApiError::forbidden("publish to TAXII collections"));
    }
    let bundle: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not a STIX 2.1 bundle: {e}")))?;
    if bundle["type"] != "bundle" {
        return Err(ApiError::bad_request(
            "not a STIX 2.1 bundle: `type` is not \"bundle\"",
        ));
    }
    let objects = bundle["objects"]
        .as_array()
        .ok_or_else(|| ApiError::bad_request("not a STIX 2.1 bundle: no `objects`"))?;
    for (i, o) in objects.iter().enumerate() {
        if o.get("spec_version").is_some_and(|v| v != "2.1") {
            return Err(ApiError::bad_request(format!(
                "objects[{i}].spec_version: STIX 2.1 only"
            )));
        }
    }
    let added = state.store.add_objects(&who.actor(), &id, objects).await?;
    Ok((StatusCode::CREATED, Json(added)))
}
