//! Errors as the API returns them: a status and `{"error": "…"}`; a fault of Ward's own is
//! logged and shown as "internal error (logged)".

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use ward_store::StoreError;

/// An error as the API returns it: a status and `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub(crate) fn unauthorised() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required (Authorization: Bearer ward_…)",
        )
    }
    pub(crate) fn forbidden(what: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, format!("your role may not {what}"))
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// A fault of the server's own (disk, temporary files): logged, not shown.
    pub(crate) fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!("{message}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error (logged)")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            StoreError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            StoreError::NotFound(m) => Self::new(StatusCode::NOT_FOUND, format!("no such {m}")),
            e @ StoreError::KnowledgeMoved => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, format!("{e}: try again"))
            }
            other => {
                tracing::error!("store: {other}");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error (logged)")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({"error": self.message}))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;
