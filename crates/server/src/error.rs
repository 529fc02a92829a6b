//! Errors as the API returns them: a status and `{"error": "…"}`; a fault of Ward's own is
//! logged and shown as "internal error (logged)".

use std::sync::atomic::{AtomicI64, Ordering};

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
            StoreError::Sql(e) if is_storage_full(&e) => {
                STORAGE_FULL_AT.store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
                tracing::error!("store: the database's disk is full: {e}");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server cannot store anything now (its disk is full); nothing was changed: try again later",
                )
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

/// When a write last failed for want of space (Unix milliseconds; 0: never).
static STORAGE_FULL_AT: AtomicI64 = AtomicI64::new(0);

/// Whether the database refused a write for want of space: SQLite's `SQLITE_FULL` (13, also
/// when the file reached its page limit), PostgreSQL's `disk_full` (53100), or the OS's.
pub(crate) fn is_storage_full(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("13" | "53100"))
                || db.message().contains("database or disk is full")
        }
        sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::StorageFull,
        _ => false,
    }
}

/// Why the server is degraded, if a write failed for want of space in the last minute.
pub(crate) fn degraded() -> Option<&'static str> {
    let at = STORAGE_FULL_AT.load(Ordering::Relaxed);
    (at != 0 && chrono::Utc::now().timestamp_millis() - at < 60_000)
        .then_some("a write failed in the last minute because the database's disk is full")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection, Executor};

    /// A real SQLite database that reaches its page limit refuses the write with SQLITE_FULL:
    /// the API answers 503 saying why, and health reports degraded.
    #[tokio::test]
    async fn a_full_database_answers_503_and_health_is_degraded() {
        let mut c = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        c.execute("PRAGMA max_page_count = 8").await.unwrap();
        c.execute("CREATE TABLE t (v TEXT)").await.unwrap();
        let mut failure = None;
        for _ in 0..100 {
            if let Err(e) = sqlx::query("INSERT INTO t VALUES ($1)")
                .bind("x".repeat(4000))
                .execute(&mut c)
                .await
            {
                failure = Some(e);
                break;
            }
        }
        let e = failure.expect("the page limit is reached");
        assert!(is_storage_full(&e), "{e}");
        assert_eq!(degraded(), None);
        let api = ApiError::from(StoreError::Sql(e));
        assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(api.message.contains("disk is full"), "{}", api.message);
        assert!(degraded().is_some());
        // Other database errors stay 500s.
        let e = sqlx::query("SELECT * FROM missing")
            .execute(&mut c)
            .await
            .unwrap_err();
        assert!(!is_storage_full(&e));
    }
}
