//! Who is calling: a bearer token or a browser session (whose unsafe requests carry its CSRF
//! token), and the [`Scope`] of member data that caller may see.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::Deserialize;
use ward_store::{Principal, Scope};

use crate::AppState;
use crate::error::ApiError;

/// The authenticated caller.
pub struct Auth(pub Principal);

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ward_session";

/// The value of a cookie in the request.
pub(crate) fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
}

impl FromRequestParts<Arc<AppState>> for Auth {
    type Rejection = ApiError;

    /// A bearer token, or a browser session whose unsafe requests carry the session's CSRF
    /// token (`X-CSRF-Token`): a cookie alone never authorises a change.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        if let Some(token) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            return match state.store.authenticate(token.trim()).await? {
                Some(p) => Ok(Self(p)),
                None => Err(ApiError::unauthorised()),
            };
        }
        let secret = cookie(parts, SESSION_COOKIE).ok_or_else(ApiError::unauthorised)?;
        let (principal, csrf) = state
            .store
            .session(secret)
            .await?
            .ok_or_else(ApiError::unauthorised)?;
        if !parts.method.is_safe() {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "missing or wrong CSRF token (X-CSRF-Token)",
                ));
            }
        }
        Ok(Self(principal))
    }
}

/// The session cookie: HttpOnly (no script reads it), Secure, SameSite=Strict.
pub(crate) fn session_cookie(secret: &str) -> String {
    format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
        ward_store::users::SESSION_HOURS * 3600
    )
}

pub(crate) const CLEAR_SESSION_COOKIE: &str =
    "ward_session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0";

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The scope of a request: the caller's own, narrowed to one organisation when the caller
/// names one with `?organisation=slug` (central roles: any; member roles: only their own,
/// another's is 403).
pub(crate) async fn request_scope(
    state: &AppState,
    who: &Principal,
    requested: Option<&str>,
) -> Result<Scope, ApiError> {
    let scope = who.scope();
    let Some(slug) = requested else {
        return Ok(scope);
    };
    if !who.role.is_central() {
        // A member names only itself; another organisation is refused without a look-up.
        return if slug == who.organisation.slug {
            Ok(scope)
        } else {
            Err(ApiError::forbidden("see another organisation's data"))
        };
    }
    let organisation = state
        .store
        .organisation_by_slug(slug)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no such organisation {slug:?}"),
            )
        })?;
    scope
        .within(organisation.id)
        .ok_or_else(|| ApiError::forbidden("see another organisation's data"))
}

#[derive(Deserialize)]
pub(crate) struct ScopeQuery {
    pub(crate) organisation: Option<String>,
}
