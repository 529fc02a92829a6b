//! Exposure: what the internet sees of each member (central: every member, then one; a member:
//! its own) — observed services, the vulnerable ones, the age of the data, declared assets
//! observations contradict, the footprint with its approvals, and the probe authorisation.

use super::*;
use crate::api::exposure::{ExposureSummary, exposure_summary};

#[derive(Template)]
#[template(path = "exposure.html")]
pub(super) struct ExposurePage {
    nav: Nav,
    central: bool,
    /// The member in view (a member: itself; central: `?organisation=`), if one.
    member: String,
    summary: ExposureSummary,
    observations: Vec<ward_store::ObservationRow>,
    unattributed: Vec<ward_store::ObservationRow>,
    footprint: Vec<ward_store::FootprintEntry>,
    /// Per footprint row (central roles): the other member's block a proposal lies in or holds.
    overlaps: Vec<String>,
    consent: String,
    /// May propose (member admin) or set (central admin, a member in view) footprint entries.
    may_claim: bool,
    may_decide: bool,
    may_consent: bool,
    message: String,
    error: String,
}

#[derive(Deserialize)]
pub(super) struct ExposureQuery {
    organisation: Option<String>,
}

async fn page(
    state: &AppState,
    session: &Session,
    organisation: Option<&str>,
    message: String,
    error: String,
) -> Result<ExposurePage, PageError> {
    let who = &session.who;
    let scope =
        crate::auth::request_scope(state, who, organisation.filter(|o| !o.is_empty())).await?;
    let narrowed = scope.organisation().is_some();
    let member = if who.role.is_central() {
        organisation.unwrap_or_default().to_owned()
    } else {
        who.organisation.slug.clone()
    };
    let observations = if narrowed {
        state
            .store
            .observations(scope, ward_store::Attributed::Yes, 500)
            .await?
    } else {
        Vec::new()
    };
    let unattributed = if who.role.is_central() && !narrowed {
        state
            .store
            .observations(scope, ward_store::Attributed::No, 100)
            .await?
    } else {
        Vec::new()
    };
    let consent = match state.store.probe_consent(scope).await? {
        Some((at, by)) => format!("authorised by {by} at {}", when(Some(&at))),
        None => String::new(),
    };
    let footprint: Vec<ward_store::FootprintEntry> = if narrowed {
        state.store.footprint(scope).await?
    } else {
        state
            .store
            .footprint(scope)
            .await?
            .into_iter()
            .filter(|f| f.state == "proposed")
            .collect()
    };
    let notes = crate::exposure::overlap_notes(state, who, &footprint).await?;
    let overlaps = footprint
        .iter()
        .map(|f| notes.get(&f.id).cloned().unwrap_or_default())
        .collect();
    Ok(ExposurePage {
        nav: session.nav(state, "exposure").await?,
        central: who.role.is_central(),
        summary: exposure_summary(state, scope).await?,
        footprint,
        overlaps,
        may_claim: who.role == Role::MemberAdmin || (who.role == Role::CentralAdmin && narrowed),
        may_decide: who.role == Role::CentralAdmin,
        may_consent: who.role == Role::MemberAdmin,
        member,
        observations,
        unattributed,
        consent,
        message,
        error,
    })
}

/// `GET /exposure`.
pub(super) async fn exposure(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(q): Query<ExposureQuery>,
) -> PageResult {
    Ok(html(
        &page(
            &state,
            &session,
            q.organisation.as_deref(),
            String::new(),
            String::new(),
        )
        .await?,
    ))
}

#[derive(Deserialize)]
pub(super) struct ExposureForm {
    csrf: String,
    action: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    reason: String,
}

/// `POST /exposure`: claim, approve, reject, withdraw, consent, stop-consent.
pub(super) async fn exposure_action(
    State(state): State<Arc<AppState>>,
    session: Session,
    axum::Form(form): axum::Form<ExposureForm>,
) -> PageResult {
    session.check(&form.csrf)?;
    let who = &session.who;
    let named = Some(form.organisation.as_str()).filter(|o| !o.is_empty());
    let result: Result<String, ApiError> = match form.action.as_str() {
        "claim" => match crate::auth::request_scope(&state, who, named).await {
            Ok(owner) => crate::exposure::claim(&state, who, owner, &form.value)
                .await
                .map(|e| match e.state.as_str() {
                    "approved" => format!("{} is in {}'s footprint.", e.value, e.organisation),
                    _ => format!("{} is proposed; the central team approves it.", e.value),
                }),
            Err(e) => Err(e),
        },
        "approve" | "reject" | "withdraw" => {
            let reason = Some(form.reason.trim()).filter(|r| !r.is_empty());
            crate::exposure::decide(&state, who, form.id.unwrap_or(0), &form.action, reason)
                .await
                .map(|e| format!("{} is {}.", e.value, e.state))
        }
        "consent" | "stop-consent" if who.role == Role::MemberAdmin => state
            .store
            .set_probe_consent(&who.actor(), session.scope(), form.action == "consent")
            .await
            .map(|()| {
                if form.action == "consent" {
                    "The central team may now probe your approved ranges.".to_owned()
                } else {
                    "The central team may no longer probe your ranges.".to_owned()
                }
            })
            .map_err(ApiError::from),
        "consent" | "stop-consent" => Err(ApiError::forbidden(
            "authorise probing (only the member's own admin can)",
        )),
        other => Err(ApiError::bad_request(format!(
            "action: {other:?} is not claim, approve, reject, withdraw, consent or stop-consent"
        ))),
    };
    match result {
        Ok(message) => Ok(html(
            &page(&state, &session, named, message, String::new()).await?,
        )),
        Err(e) => {
            let mut r = html(&page(&state, &session, named, String::new(), e.message).await?);
            *r.status_mut() = e.status;
            Ok(r)
        }
    }
}
