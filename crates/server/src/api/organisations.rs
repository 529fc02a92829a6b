//! Organisations and their notification channels.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ward_store::{Channel, Organisation};

use crate::AppState;
use crate::auth::{Auth, ScopeQuery, request_scope};
use crate::error::{ApiError, ApiResult};
use ward_model::ChannelKind;
use ward_store::Role;

pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
) -> ApiResult<Json<OrganisationList>> {
    let all = state.store.organisations().await?;
    let visible: Vec<_> = if who.role.is_central() {
        all
    } else {
        all.into_iter()
            .filter(|o| o.id == who.organisation.id)
            .collect()
    };
    Ok(Json(OrganisationList {
        organisations: visible,
    }))
}

#[derive(Deserialize)]
pub(crate) struct NewOrganisation {
    slug: String,
    name: String,
}

pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Json(body): Json<NewOrganisation>,
) -> ApiResult<(StatusCode, Json<OrganisationAnswer>)> {
    if who.role != Role::CentralAdmin {
        return Err(ApiError::forbidden("create organisations"));
    }
    let org = state
        .store
        .create_organisation(&who.actor(), &body.slug, &body.name, false)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(OrganisationAnswer { organisation: org }),
    ))
}

pub(crate) async fn channels(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<ChannelList>> {
    let scope = request_scope(&state, &who, q.organisation.as_deref()).await?;
    let mut channels = state.store.channels(scope).await?;
    if !who.role.is_central() {
        // Members see how delivery goes, never the network's words for it.
        channels = channels.into_iter().map(Channel::for_member).collect();
    }
    Ok(Json(ChannelList { channels }))
}

#[derive(Deserialize)]
pub(crate) struct ChannelBody {
    kind: String,
    target: String,
    secret: Option<String>,
    /// The central admin may add a channel for a member (default: the caller's organisation).
    organisation: Option<String>,
}

/// `POST /api/v1/channels`: where an organisation hears about its alerts (the central team's
/// channels hear about every member's). Admins only; the secret is never returned.
pub(crate) async fn add_channel(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Json(body): Json<ChannelBody>,
) -> ApiResult<(StatusCode, Json<ChannelAnswer>)> {
    if !who.role.is_admin() {
        return Err(ApiError::forbidden("add notification channels"));
    }
    let kind: ChannelKind = body
        .kind
        .parse()
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("kind: {e}")))?;
    // A target whose host is an address literal is checked now; a name, whenever Ward
    // connects.
    state
        .targets
        .check_target(kind, &body.target)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("target: {e}")))?;
    // The caller's own organisation unless it names one (the central admin, for a member).
    let owner = match body.organisation.as_deref() {
        Some(slug) => request_scope(&state, &who, Some(slug)).await?,
        None => who
            .scope()
            .within(who.organisation.id)
            .expect("a caller reaches its own organisation"),
    };
    let channel = state
        .store
        .add_channel(
            &who.actor(),
            owner,
            kind,
            &body.target,
            body.secret.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(ChannelAnswer { channel })))
}

/// `GET /api/v1/organisations`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct OrganisationList {
    organisations: Vec<Organisation>,
}

/// `POST /api/v1/organisations`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct OrganisationAnswer {
    organisation: Organisation,
}

/// `GET /api/v1/channels`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ChannelList {
    channels: Vec<Channel>,
}

/// `POST /api/v1/channels` (the secret is never returned).
#[derive(Serialize, JsonSchema)]
pub(crate) struct ChannelAnswer {
    channel: Channel,
}
