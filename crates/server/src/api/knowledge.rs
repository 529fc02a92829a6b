//! Feed imports over HTTP (central admins).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ward_import::Summary;

use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use ward_store::Role;

use crate::MAX_IMPORT;

#[derive(Deserialize)]
pub(crate) struct ImportQuery {
    /// The file's name: it says what the bytes are (`.json`, `.csv`, `.zip`, `.tar.gz`, …).
    filename: String,
    /// Stop at the first bad record and import nothing.
    #[serde(default)]
    strict: bool,
}

/// A feed file or archive, streamed to a private temporary folder and imported in one
/// transaction exactly as `ward db import` would; continuous matching then takes the
/// changed vulnerabilities to every affected member.
pub(crate) async fn import(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(query): Query<ImportQuery>,
    body: axum::body::Body,
) -> ApiResult<(StatusCode, Json<ImportAnswer>)> {
    use tokio::io::AsyncWriteExt;
    if who.role != Role::CentralAdmin {
        return Err(ApiError::forbidden("import into the knowledge base"));
    }
    // Only a plain file name: the name chooses the parser, never a place on disk.
    let name = query.filename.as_str();
    if name.is_empty()
        || name.starts_with('.')
        || name.len() > 200
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(ApiError::bad_request(format!(
            "filename {:?}: a file name of letters, digits, '.', '-' and '_' (e.g. known_exploited_vulnerabilities.json)",
            query.filename
        )));
    }
    let dir = tempfile::tempdir().map_err(ApiError::internal)?;
    let path = dir.path().join(name);
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("the upload broke off: {e}")))?;
        size += chunk.len() as u64;
        if size > MAX_IMPORT {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "imports over HTTP are limited to {MAX_IMPORT} bytes: use `ward db import` on the server"
                ),
            ));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    drop(file);
    if size == 0 {
        return Err(ApiError::bad_request(format!(
            "{name}: the upload is empty"
        )));
    }
    // Messages name the uploaded file, not the temporary folder.

    let prefix = format!("{}/", dir.path().display());
    let mut warnings = Vec::new();
    let summary = ward_import::import_paths(
        &state.store,
        vec![path],
        ward_import::Options {
            kev_catalogue: false,
            strict: query.strict,
            limits: state.import_limits,
            ..Default::default()
        },
        &|_| {},
        &mut warnings,
    )
    .await
    .map_err(|e| ApiError::bad_request(e.to_string().replace(&prefix, "")))?;
    let mut summary = summary;
    for e in &mut summary.errors {
        *e = e.replace(&prefix, "");
    }
    let report = ImportReport {
        summary,
        warning_messages: warnings
            .iter()
            .take(100)
            .map(|w| w.to_string().replace(&prefix, ""))
            .collect(),
    };
    state
        .store
        .audit(
            &who.actor(),
            "knowledge.import",
            name,
            &serde_json::to_value(&report).expect("serialisable"),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(ImportAnswer { import: report })))
}

/// `POST /api/v1/knowledge/imports`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ImportAnswer {
    import: ImportReport,
}

/// What the import did, as `ward db import --format json` says it, with the first 100 warnings.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ImportReport {
    #[serde(flatten)]
    summary: Summary,
    warning_messages: Vec<String>,
}

/// `GET /api/v1/feeds`: each source's freshness (central roles).
#[derive(Serialize, JsonSchema)]
pub(crate) struct FeedList {
    feeds: Vec<crate::feeds::FeedStatus>,
}

/// `GET /api/v1/feeds`.
pub(crate) async fn feeds(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
) -> ApiResult<Json<FeedList>> {
    if !who.role.is_central() {
        return Err(ApiError::forbidden("see the feeds' status"));
    }
    let states = state.store.feed_states().await?;
    Ok(Json(FeedList {
        feeds: crate::feeds::statuses(states, state.feeds.as_ref(), chrono::Utc::now()),
    }))
}

/// `GET /api/v1/knowledge/bundles/latest`: the newest `.tar.gz` in `--bundle-dir` (any role:
/// it holds public knowledge, no member's data).
pub(crate) async fn latest_bundle(
    State(state): State<Arc<AppState>>,
    Auth(_who): Auth,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse as _;
    let Some(dir) = state.bundle_dir.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "this server publishes no bundles (ward serve --bundle-dir DIR)",
        ));
    };
    let newest = tokio::task::spawn_blocking(move || {
        std::fs::read_dir(&dir)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tar.gz"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .max()
            .map(|(_, path)| path)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let Some(path) = newest else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no bundle has been written yet",
        ));
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::internal(format!("the bundle: {e}")))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().replace(['"', '\\', '\r', '\n'], "_"))
        .unwrap_or_default();
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/gzip".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response())
}
