//! Every request gets an id (the caller's `X-Request-Id` when it is a plain token, else a new
//! UUIDv7), a span that every log line of the request carries, an access log line, and the id
//! echoed in `X-Request-Id`, so an operator can find a user's "internal error" in the log.
//! Nothing of the request's headers, query or body is logged: they may hold tokens, passwords
//! or search text.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub(crate) const REQUEST_ID: &str = "x-request-id";

/// A caller's request id is kept when it is 1–64 letters, digits, `-`, `_` or `.`.
fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub(crate) async fn trace(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let method = request.method().clone();
    // The path only: UI paths hold ids and CVE names, never a secret.
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", id = %id, %method, %path, %client);
    let value =
        HeaderValue::from_str(&id).expect("an acceptable or generated id is a header value");
    request.headers_mut().insert(REQUEST_ID, value.clone());
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, ms, "request failed");
        } else {
            tracing::info!(status, ms, "request");
        }
    });
    response.headers_mut().insert(REQUEST_ID, value);
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_plain_request_ids_are_kept() {
        assert!(super::acceptable("3f2a-b_c.1"));
        assert!(!super::acceptable(""));
        assert!(!super::acceptable("a\r\nSet-Cookie: x"));
        assert!(!super::acceptable(&"a".repeat(65)));
    }
}
