//! Signing in and out, who am I, and health.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ward_store::{Organisation, Role};

use crate::AppState;
use crate::auth::Auth;
use crate::auth::{CLEAR_SESSION_COOKIE, SESSION_COOKIE, cookie, session_cookie};
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize)]
pub(crate) struct LoginBody {
    email: String,
    password: String,
}

/// `POST /api/v1/login`: email and password → a session cookie (HttpOnly, Secure,
/// SameSite=Strict) and the CSRF token its unsafe requests must carry. Five failures per email
/// or per address within 15 minutes refuse further attempts for a while.
pub(crate) async fn login(
    State(state): State<Arc<AppState>>,
    axum::extract::ConnectInfo(addr): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Json(body): Json<LoginBody>,
) -> ApiResult<Response> {
    match state
        .store
        .login(&body.email, &body.password, &addr.ip().to_string())
        .await?
    {
        ward_store::Login::Ok(session) => {
            let mut r = Json(LoginAnswer {
                csrf_token: session.csrf_token,
                organisation: session.principal.organisation,
                role: session.principal.role,
                user: session.principal.credential,
            })
            .into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&session_cookie(&session.secret)).expect("hex and ASCII"),
            );
            Ok(r)
        }
        ward_store::Login::Refused => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong email or password",
        )),
        ward_store::Login::Throttled => {
            let mut r = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins: try again in 15 minutes",
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("900"));
            Ok(r)
        }
    }
}

/// `POST /api/v1/logout`: ends the session and clears the cookie.
pub(crate) async fn logout(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> ApiResult<Response> {
    let (parts, _) = request.into_parts();
    if let Some(secret) = cookie(&parts, SESSION_COOKIE) {
        state.store.logout(secret).await?;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(CLEAR_SESSION_COOKIE),
    );
    Ok(r)
}

/// `GET /api/v1/health`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Health {
    /// `ok`, or `degraded` when the server cannot store what it is sent.
    status: &'static str,
    /// Why the server is degraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// Ward's version.
    version: &'static str,
}

pub(crate) async fn health() -> Json<Health> {
    let reason = crate::error::degraded();
    Json(Health {
        status: if reason.is_some() { "degraded" } else { "ok" },
        reason,
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// `GET /api/v1/me`: who the caller is.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Me {
    organisation: Organisation,
    role: Role,
    /// `token:<id>` or `user:<email>`.
    credential: String,
}

pub(crate) async fn me(Auth(who): Auth) -> Json<Me> {
    Json(Me {
        organisation: who.organisation,
        role: who.role,
        credential: who.credential,
    })
}

/// `POST /api/v1/login`: the session's CSRF token (the session itself is the cookie).
#[derive(Serialize, JsonSchema)]
pub(crate) struct LoginAnswer {
    /// Send it as `X-CSRF-Token` with every unsafe request of the session.
    csrf_token: String,
    organisation: Organisation,
    role: Role,
    /// `user:<email>`.
    user: String,
}
