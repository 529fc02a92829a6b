//! Ward's federation server: the REST API under `/api/v1`.
//!
//! Every request but `/api/v1/health` carries a bearer token; the token decides the
//! organisation and the role, and every handler asks the store only for that organisation's
//! data unless the role is a central one. Nothing a client sends is ever evaluated: bodies are
//! parsed as JSON into types, stored as data, and returned as data.

use std::sync::Arc;

mod api;
mod app;
mod auth;
mod error;
mod exposure;
pub mod feeds;
mod jobs;
pub mod notify;
pub mod openapi;
pub mod outbound;
mod requests;
mod serve;
pub mod summary;
mod ui;

pub use app::parse_sightings;
pub use auth::{Auth, SESSION_COOKIE};
pub use error::ApiError;
pub use jobs::{MatchRun, match_all, match_asset, match_knowledge_changes};
pub use serve::{ServeOptions, serve};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use ward_priority::Policy;
use ward_store::Store;

/// Largest request body accepted (a sightings report, later an SBOM).
pub const MAX_BODY: usize = 16 << 20;
/// The largest feed file or archive a central admin may import over HTTP (streamed to disk).
pub const MAX_IMPORT: u64 = 4 << 30;

pub struct AppState {
    pub store: Store,
    /// Prioritises findings (per organisation, as of the request's time).
    pub policy: Policy,
    /// Where notification channels may point (`ward serve --allow-targets`).
    pub targets: outbound::Targets,
    /// How far a feed imported over HTTP may expand (`ward serve --max-document/--max-archive`).
    pub import_limits: ward_import::Limits,
    /// The feeds this server syncs (`ward serve --feeds`), for their schedule in the status.
    pub feeds: Option<ward_sync::Config>,
    /// Where offline bundles are published from (`ward serve --bundle-dir`).
    pub bundle_dir: Option<std::path::PathBuf>,
}

/// The API, with no internal destination allowed for channels.
pub fn router(store: Store, policy: Policy) -> Router {
    router_with(store, policy, outbound::Targets::default())
}

/// The API, channels allowed to reach `targets` besides the public internet.
pub fn router_with(store: Store, policy: Policy, targets: outbound::Targets) -> Router {
    router_for(AppState {
        store,
        policy,
        targets,
        import_limits: ward_import::Limits::DEFAULT,
        feeds: None,
        bundle_dir: None,
    })
}

/// The API over `state`.
pub fn router_for(state: AppState) -> Router {
    let state = Arc::new(state);
    // Every operation from the one table (the OpenAPI document is made from it too); a path's
    // methods are merged by axum.
    let api = openapi::ROUTES.iter().fold(Router::new(), |router, r| {
        router.route(r.path, (r.handler)())
    });
    api.merge(ui::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(serve::security_headers))
        .layer(axum::middleware::from_fn(requests::trace))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use axum::http::StatusCode;

    /// Every operation in the OpenAPI table is routed (a request for it is not 404 "no route"
    /// nor 405), so the document cannot describe a route that does not exist.
    #[tokio::test]
    async fn every_documented_operation_is_routed() {
        let dir = std::env::temp_dir().join(format!("ward-openapi-{}", std::process::id()));
        let store = Store::open(dir.join("t.db").to_str().unwrap())
            .await
            .unwrap();
        let app = router(store, Policy::load("ssvc-deployer").unwrap());
        for r in openapi::ROUTES {
            let path = r
                .path
                .replace("{id}", "1")
                .replace("{action}", "acknowledge");
            let request = Request::builder()
                .method(r.method.to_uppercase().as_str())
                .uri(&path)
                .header("content-type", "application/json")
                .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                    [127, 0, 0, 1],
                    1,
                ))))
                .body(Body::from("{}"))
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            // A routed operation answers with its own error (401 without a token, 400/422 for
            // an empty body); axum's "no route" 404 has an empty body.
            assert!(
                status != StatusCode::METHOD_NOT_ALLOWED
                    && !(status == StatusCode::NOT_FOUND && bytes.is_empty()),
                "{} {path}: {status}",
                r.method
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
