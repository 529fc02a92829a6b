//! The web UI: pages rendered on the server from askama templates compiled into the binary
//! (`templates/`; every value is HTML-escaped, nothing a user typed is ever a template), forms
//! that work without JavaScript, and one small script (`static/ward.js`) that refreshes live
//! tables. Sign-in makes the same session as `POST /api/v1/login` (HttpOnly, Secure,
//! SameSite=Strict cookie); every form carries the session's CSRF token; the content security
//! policy allows no inline script or style.
//!
//! Tenancy is the API's: each handler asks the store within the caller's scope, so a member
//! never sees another member's alert, finding or asset (they do not exist for them: 404).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use ward_store::{AlertRow, FindingRow, Principal, Role};

mod alerts;
mod assets;
mod central;
mod exposure;
mod findings;
mod incidents;
mod people;
mod session;
mod statements;

use crate::auth::{CLEAR_SESSION_COOKIE, constant_time_eq, cookie, session_cookie};
use crate::{ApiError, AppState, SESSION_COOKIE};
use ward_model::{AlertExposure, AlertKind, AlertState, Priority};
use ward_store::{AlertId, AssetId, FindingId, Scope};

/// The UI's content security policy: scripts and styles from Ward itself only, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(session::home))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/dashboard", get(central::dashboard))
        .route("/alerts", get(alerts::alerts))
        .route("/alerts/issue", get(alerts::issue_form).post(alerts::issue))
        .route("/alerts/cve/{subject}", get(alerts::alert_subject))
        .route(
            "/alerts/{id}",
            get(alerts::alert_page).post(alerts::alert_action),
        )
        .route("/campaigns", get(incidents::campaigns))
        .route(
            "/exposure",
            get(exposure::exposure).post(exposure::exposure_action),
        )
        .route("/members", get(central::members))
        .route("/sources", get(central::sources))
        .route("/audit", get(central::audit))
        .route("/people", get(people::people).post(people::people_action))
        .route(
            "/statements",
            get(statements::statements).post(statements::statements_action),
        )
        .route("/worklist", get(findings::worklist))
        .route("/findings/{id}", get(findings::finding_page))
        .route("/assets", get(assets::assets).post(assets::create_asset))
        .route("/assets/{id}", get(assets::asset_page).post(assets::upload))
        .route("/static/ward.css", get(css))
        .route("/static/ward.js", get(js))
        .route("/favicon.ico", get(favicon))
        .route("/static/favicon.svg", get(favicon))
        .layer(axum::middleware::map_response(
            |mut response: Response| async move {
                let h = response.headers_mut();
                h.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(CSP),
                );
                h.insert("x-frame-options", HeaderValue::from_static("DENY"));
                h.insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
                response
            },
        ))
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/ward.css"),
    )
        .into_response()
}

async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        include_str!("../../static/favicon.svg"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../static/ward.js"),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Sessions, errors, the layout.

/// A signed-in person (browser session) and the CSRF token their forms carry.
struct Session {
    who: Principal,
    csrf: String,
    secret: String,
}

impl FromRequestParts<Arc<AppState>> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let secret = cookie(parts, SESSION_COOKIE).ok_or_else(to_login)?;
        match state.store.session(secret).await {
            Ok(Some((who, csrf))) => Ok(Self {
                who,
                csrf,
                secret: secret.to_owned(),
            }),
            Ok(None) => Err(to_login()),
            Err(e) => Err(PageError::from(ApiError::from(e)).into_response()),
        }
    }
}

impl Session {
    /// Forms carry the session's token; a cookie alone never changes anything.
    fn check(&self, sent: &str) -> Result<(), PageError> {
        if constant_time_eq(sent.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(PageError(ApiError::new(
                StatusCode::FORBIDDEN,
                "this form is stale or was not sent by Ward (CSRF token): reload the page and try again",
            )))
        }
    }

    fn scope(&self) -> Scope {
        self.who.scope()
    }

    /// The layout's navigation, with the counts of what is asked of the signed-in
    /// organisation (or, central, of every member).
    async fn nav(&self, state: &AppState, current: &'static str) -> Result<Nav, PageError> {
        let counts = state.store.attention(self.scope()).await?;
        Ok(Nav {
            counts,
            organisation: self.who.organisation.name.clone(),
            role: self.who.role.as_str(),
            user: self
                .who
                .credential
                .strip_prefix("user:")
                .unwrap_or(&self.who.credential)
                .to_owned(),
            central: self.who.role.is_central(),
            admin: self.who.role == Role::CentralAdmin,
            accounts: matches!(self.who.role, Role::CentralAdmin | Role::MemberAdmin),
            writer: self.who.role.can_write(),
            csrf: self.csrf.clone(),
            current,
        })
    }
}

/// What the layout shows around every page.
struct Nav {
    counts: ward_store::Attention,
    organisation: String,
    role: &'static str,
    user: String,
    central: bool,
    admin: bool,
    /// May administer people and tokens (central and member admins).
    accounts: bool,
    writer: bool,
    csrf: String,
    current: &'static str,
}

impl Nav {
    /// `aria-current` for the link of the page being shown.
    fn here(&self, page: &str) -> &'static str {
        if self.current == page {
            "page"
        } else {
            "false"
        }
    }
}

/// An error as a page: the status and the message, escaped like everything else.
struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<ward_store::StoreError> for PageError {
    fn from(e: ward_store::StoreError) -> Self {
        Self(ApiError::from(e))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message: &self.0.message,
        };
        (status, html(&page)).into_response()
    }
}

type PageResult = Result<Response, PageError>;

fn html<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(body) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!("template: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error (logged)").into_response()
        }
    }
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn not_found(what: &str) -> PageError {
    PageError(ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such {what}"),
    ))
}

fn forbidden(what: &str) -> PageError {
    PageError(ApiError::forbidden(what))
}

// ---------------------------------------------------------------------------------------------
// Time, for people.

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `2025-05-21 10:00 UTC` (a time as text: a finding's deadline in its payload).
fn when(s: Option<&str>) -> String {
    when_at(s.and_then(parse_time))
}

/// `2025-05-21 10:00 UTC`.
fn when_at(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "—".to_owned(),
        |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// "in 1 d 4 h" or "3 h overdue" (or "" when there is no deadline).
fn timer(deadline: Option<DateTime<Utc>>, done: bool, now: DateTime<Utc>) -> (String, bool) {
    let Some(d) = deadline else {
        return (String::new(), false);
    };
    if done {
        return (String::new(), false);
    }
    let span = |s: chrono::Duration| {
        let (d, h, m) = (s.num_days(), s.num_hours() % 24, s.num_minutes() % 60);
        if d > 0 {
            format!("{d} d {h} h")
        } else if h > 0 {
            format!("{h} h {m} min")
        } else {
            format!("{} min", m.max(1))
        }
    };
    if d >= now {
        (format!("in {}", span(d - now)), false)
    } else {
        (format!("{} overdue", span(now - d)), true)
    }
}

/// An alert as the pages show it.
struct AlertView {
    id: AlertId,
    organisation: String,
    organisation_name: String,
    kind: String,
    subject: String,
    title: String,
    state: String,
    exposure: String,
    priority: String,
    acknowledge_by: String,
    acknowledge_timer: String,
    acknowledge_late: bool,
    remediate_by: String,
    remediate_timer: String,
    remediate_late: bool,
    acknowledged_at: String,
    resolved_at: String,
    escalated: bool,
    justification: String,
    accepted_until: String,
    note: String,
    evidence: i64,
    created_at: String,
    /// How it ended, in words ("" while open).
    resolution: String,
    resolution_reason: String,
    /// CVSS words ("" when unknown).
    severity: String,
    /// A confirm-exposure alert's answer.
    answer: String,
}

impl AlertView {
    fn new(a: &AlertRow, now: DateTime<Utc>) -> Self {
        let resolved = a.resolved_at.is_some();
        let (acknowledge_timer, acknowledge_late) = timer(
            a.acknowledge_by,
            a.acknowledged_at.is_some() || resolved,
            now,
        );
        // A contained incident waits only for closing: its containment deadline is met.
        let (remediate_timer, remediate_late) = timer(
            a.remediate_by,
            resolved || a.state == AlertState::Contained,
            now,
        );
        Self {
            id: a.id,
            organisation: a.organisation.clone(),
            organisation_name: a.organisation_name.clone(),
            kind: a.kind.as_str().to_owned(),
            subject: a.subject.clone(),
            title: a.title.clone(),
            state: a.state.as_str().to_owned(),
            exposure: a
                .exposure
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            priority: a
                .priority
                .map(|p| p.as_str().to_owned())
                .or_else(|| a.level.clone())
                // An issued alert not yet confirmed by an inventory has no priority of its own.
                .unwrap_or_else(|| {
                    if a.exposure == Some(AlertExposure::ConfirmExposure) {
                        "unconfirmed".into()
                    } else {
                        "unknown".into()
                    }
                }),
            acknowledge_by: when_at(a.acknowledge_by),
            acknowledge_timer,
            acknowledge_late,
            remediate_by: when_at(a.remediate_by),
            remediate_timer,
            remediate_late,
            acknowledged_at: when_at(a.acknowledged_at),
            resolved_at: when_at(a.resolved_at),
            escalated: a.escalated_at.is_some(),
            justification: a.justification.clone().unwrap_or_default(),
            accepted_until: when_at(a.accepted_until),
            note: a.note.clone().unwrap_or_default(),
            evidence: a.evidence,
            created_at: when_at(Some(a.created_at)),
            resolution: a
                .resolution
                .map(resolution_words)
                .unwrap_or_default()
                .to_owned(),
            resolution_reason: a.resolution_reason.clone().unwrap_or_default(),
            severity: a.severity.clone().unwrap_or_default(),
            answer: a.answer.clone().unwrap_or_default(),
        }
    }

    fn is_open(&self) -> bool {
        self.state
            .parse::<ward_model::AlertState>()
            .is_ok_and(|s| !s.is_resolved())
    }

    fn exposure_text(&self) -> &'static str {
        match self.exposure.as_str() {
            "affected" => "affected (inventory)",
            "confirm-exposure" => "asked to confirm",
            _ => "",
        }
    }
}

/// A CSAF/OpenVEX justification in words.
fn vex_words(code: &str) -> &'static str {
    match code {
        "component_not_present" => "The product is not present: we do not run it",
        "vulnerable_code_not_present" => "The vulnerable code is not in the version we run",
        "vulnerable_code_not_in_execute_path" => "The vulnerable code is never run in our use",
        "vulnerable_code_cannot_be_controlled_by_adversary" => {
            "An attacker cannot reach or control the vulnerable code"
        }
        "inline_mitigations_already_exist" => "Mitigations in place already prevent exploitation",
        _ => "",
    }
}

/// How an alert ended, for people.
fn resolution_words(r: ward_model::Resolution) -> &'static str {
    use ward_model::Resolution as R;
    match r {
        R::Inventory => "Remediated: an uploaded inventory no longer has it",
        R::Statement => "Remediated: the member said so",
        R::NotAffected => "Not affected: the member declared it (VEX)",
        R::RiskAccepted => "Risk accepted by the member",
        R::Withdrawn => "Withdrawn: the knowledge changed (nothing was patched)",
        R::Closed => "Closed by the member",
        R::FalsePositive => "False positive: not an attack",
    }
}

/// A finding as the pages show it.
struct FindingView {
    id: FindingId,
    organisation: String,
    asset_id: AssetId,
    asset: String,
    vulnerability: String,
    title: String,
    component: String,
    priority: String,
    remediate_by: String,
    kev: bool,
    epss: String,
    fixed: String,
    resolved: bool,
    /// For a service observed from outside: what was seen, where and when ("" otherwise).
    evidence: String,
}

impl FindingView {
    fn new(f: &FindingRow) -> Self {
        let p = &f.finding;
        Self {
            id: f.id,
            organisation: f.organisation.clone(),
            asset_id: f.asset_id,
            asset: f.asset.clone(),
            vulnerability: f.vulnerability.clone(),
            title: p["title"].as_str().unwrap_or_default().to_owned(),
            component: f.component.clone(),
            evidence: p["component"]["evidence"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            resolved: f.resolved_at.is_some(),
            priority: f.priority.as_str().to_owned(),
            remediate_by: when(p["deadlines"]["remediate_by"].as_str()),
            kev: !p["kev"].is_null(),
            epss: p["epss"]["score"]
                .as_f64()
                .map(|s| format!("{:.1}%", s * 100.0))
                .unwrap_or_default(),
            fixed: p["fixed_versions"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
        }
    }
}

/// The members a central user may choose between (slug, name); nobody else chooses.
async fn member_choices(
    state: &AppState,
    session: &Session,
) -> Result<Vec<(String, String)>, PageError> {
    if !session.who.role.is_central() {
        return Ok(Vec::new());
    }
    Ok(state
        .store
        .organisations()
        .await?
        .into_iter()
        .filter(|o| !o.central)
        .map(|o| (o.slug, o.name))
        .collect())
}

/// A path segment from an id (CVE ids need nothing, but ids are not trusted to be CVEs).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
