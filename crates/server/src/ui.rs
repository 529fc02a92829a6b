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

use crate::{ApiError, AppState, SESSION_COOKIE, constant_time_eq, cookie};

/// The UI's content security policy: scripts and styles from Ward itself only, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/dashboard", get(dashboard))
        .route("/alerts", get(alerts))
        .route("/alerts/issue", get(issue_form).post(issue))
        .route("/alerts/cve/{subject}", get(alert_subject))
        .route("/alerts/{id}", get(alert_page).post(alert_action))
        .route("/members", get(members))
        .route("/audit", get(audit))
        .route("/worklist", get(worklist))
        .route("/findings/{id}", get(finding_page))
        .route("/assets", get(assets).post(create_asset))
        .route("/assets/{id}", get(asset_page).post(upload))
        .route("/static/ward.css", get(css))
        .route("/static/ward.js", get(js))
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
        include_str!("../static/ward.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../static/ward.js"),
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

    fn scope(&self) -> Option<i64> {
        (!self.who.role.is_central()).then_some(self.who.organisation.id)
    }

    fn nav(&self, current: &'static str) -> Nav {
        Nav {
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
            writer: self.who.role.can_write(),
            csrf: self.csrf.clone(),
            current,
        }
    }
}

/// What the layout shows around every page.
struct Nav {
    organisation: String,
    role: &'static str,
    user: String,
    central: bool,
    admin: bool,
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

/// `2025-05-21 10:00 UTC`.
fn when(s: Option<&str>) -> String {
    s.and_then(parse_time).map_or_else(
        || "—".to_owned(),
        |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// "in 1 d 4 h" or "3 h overdue" (or "" when there is no deadline).
fn timer(deadline: Option<&str>, done: bool, now: DateTime<Utc>) -> (String, bool) {
    let Some(d) = deadline.and_then(parse_time) else {
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
    id: i64,
    organisation: String,
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
}

impl AlertView {
    fn new(a: &AlertRow, now: DateTime<Utc>) -> Self {
        let resolved = a.resolved_at.is_some();
        let (acknowledge_timer, acknowledge_late) = timer(
            a.acknowledge_by.as_deref(),
            a.acknowledged_at.is_some() || resolved,
            now,
        );
        let (remediate_timer, remediate_late) = timer(a.remediate_by.as_deref(), resolved, now);
        Self {
            id: a.id,
            organisation: a.organisation.clone(),
            kind: a.kind.clone(),
            subject: a.subject.clone(),
            title: a.title.clone(),
            state: a.state.clone(),
            exposure: a.exposure.clone().unwrap_or_default(),
            priority: a
                .priority
                .clone()
                .or_else(|| a.level.clone())
                .unwrap_or_else(|| "unknown".into()),
            acknowledge_by: when(a.acknowledge_by.as_deref()),
            acknowledge_timer,
            acknowledge_late,
            remediate_by: when(a.remediate_by.as_deref()),
            remediate_timer,
            remediate_late,
            acknowledged_at: when(a.acknowledged_at.as_deref()),
            resolved_at: when(a.resolved_at.as_deref()),
            escalated: a.escalated_at.is_some(),
            justification: a.justification.clone().unwrap_or_default(),
            accepted_until: when(a.accepted_until.as_deref()),
            note: a.note.clone().unwrap_or_default(),
            evidence: a.evidence,
            created_at: when(Some(&a.created_at)),
        }
    }

    fn is_open(&self) -> bool {
        matches!(self.state.as_str(), "open" | "acknowledged")
    }

    fn exposure_text(&self) -> &'static str {
        match self.exposure.as_str() {
            "affected" => "affected (inventory)",
            "confirm-exposure" => "asked to confirm",
            _ => "",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sign in and out.

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    email: String,
    error: String,
}

async fn login_form() -> Response {
    html(&LoginPage {
        email: String::new(),
        error: String::new(),
    })
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

async fn login(
    State(state): State<Arc<AppState>>,
    axum::extract::ConnectInfo(addr): axum::extract::ConnectInfo<std::net::SocketAddr>,
    axum::Form(form): axum::Form<LoginForm>,
) -> PageResult {
    let refused = |status: StatusCode, error: &str| {
        let mut r = html(&LoginPage {
            email: form.email.clone(),
            error: error.to_owned(),
        });
        *r.status_mut() = status;
        r
    };
    match state
        .store
        .login(&form.email, &form.password, &addr.ip().to_string())
        .await?
    {
        ward_store::Login::Ok(session) => {
            let mut r = see_other("/");
            r.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&crate::session_cookie(&session.secret))
                    .expect("hex and ASCII"),
            );
            Ok(r)
        }
        ward_store::Login::Refused => Ok(refused(
            StatusCode::UNAUTHORIZED,
            "Wrong email or password.",
        )),
        ward_store::Login::Throttled => Ok(refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins: try again in 15 minutes.",
        )),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<Arc<AppState>>,
    session: Session,
    axum::Form(form): axum::Form<CsrfForm>,
) -> PageResult {
    session.check(&form.csrf)?;
    state.store.logout(&session.secret).await?;
    let mut r = see_other("/login");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(crate::CLEAR_SESSION_COOKIE),
    );
    Ok(r)
}

async fn home(session: Session) -> Response {
    if session.who.role.is_central() {
        see_other("/dashboard")
    } else {
        see_other("/worklist")
    }
}

// ---------------------------------------------------------------------------------------------
// The central team's dashboard.

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Nav,
    /// Open vulnerability alerts by priority.
    by_priority: Vec<(String, usize)>,
    open_alerts: usize,
    /// Members with open alerts about KEV-listed vulnerabilities, and which.
    kev_members: Vec<(String, Vec<String>)>,
    breaches: Vec<AlertView>,
    chart: Chart,
    compromise: Vec<AlertView>,
}

/// A line chart drawn as SVG on the server (no script, no inline style).
struct Chart {
    points: String,
    max: usize,
    first: String,
    last: String,
    latest: usize,
    /// Day and value, for the table that the chart summarises (screen readers).
    days: Vec<(String, usize)>,
}

const CHART_W: f64 = 600.0;
const CHART_H: f64 = 160.0;

/// Open exposure on each of the last 30 days: vulnerability alerts raised by the end of the day
/// and not resolved by then.
fn trend(alerts: &[AlertRow], now: DateTime<Utc>) -> Chart {
    let days: Vec<(String, usize)> = (0..30)
        .rev()
        .map(|back| {
            let end = (now - chrono::Duration::days(back))
                .date_naive()
                .and_hms_opt(23, 59, 59)
                .expect("a valid time")
                .and_utc();
            let open = alerts
                .iter()
                .filter(|a| a.kind == "vulnerability")
                .filter(|a| parse_time(&a.created_at).is_some_and(|c| c <= end))
                .filter(|a| {
                    a.resolved_at
                        .as_deref()
                        .and_then(parse_time)
                        .is_none_or(|r| r > end)
                })
                .count();
            (end.format("%d %b").to_string(), open)
        })
        .collect();
    let max = days.iter().map(|d| d.1).max().unwrap_or(0).max(1);
    let step = CHART_W / (days.len() - 1) as f64;
    let points = days
        .iter()
        .enumerate()
        .map(|(i, (_, n))| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                CHART_H - (*n as f64 / max as f64) * (CHART_H - 10.0)
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    Chart {
        points,
        max,
        first: days[0].0.clone(),
        last: days[days.len() - 1].0.clone(),
        latest: days[days.len() - 1].1,
        days,
    }
}

async fn dashboard(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    if !session.who.role.is_central() {
        return Err(forbidden("see the federation's dashboard"));
    }
    let now = Utc::now();
    let alerts = state.store.alerts(None).await?;
    let open: Vec<&AlertRow> = alerts
        .iter()
        .filter(|a| {
            a.kind == "vulnerability" && matches!(a.state.as_str(), "open" | "acknowledged")
        })
        .collect();
    let mut by_priority: BTreeMap<usize, (String, usize)> = BTreeMap::new();
    for a in &open {
        let p = a.priority.clone().unwrap_or_else(|| "unconfirmed".into());
        let rank = ["immediate", "out-of-cycle", "scheduled", "defer"]
            .iter()
            .position(|x| *x == p)
            .unwrap_or(4);
        by_priority.entry(rank).or_insert((p, 0)).1 += 1;
    }
    let subjects: Vec<String> = open
        .iter()
        .filter(|a| a.exposure.as_deref() == Some("affected"))
        .map(|a| a.subject.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let listed = state.store.kev_listed(&subjects).await?;
    let mut kev_members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in &open {
        if a.exposure.as_deref() == Some("affected") && listed.contains(&a.subject) {
            kev_members
                .entry(a.organisation.clone())
                .or_default()
                .push(a.subject.clone());
        }
    }
    let breaches = alerts
        .iter()
        .map(|a| AlertView::new(a, now))
        .filter(|v| v.is_open() && (v.escalated || v.acknowledge_late || v.remediate_late))
        .collect();
    let compromise = alerts
        .iter()
        .filter(|a| a.kind == "possible-compromise" && a.state == "open")
        .map(|a| AlertView::new(a, now))
        .collect();
    Ok(html(&DashboardPage {
        nav: session.nav("dashboard"),
        by_priority: by_priority.into_values().collect(),
        open_alerts: open.len(),
        kev_members: kev_members.into_iter().collect(),
        breaches,
        chart: trend(&alerts, now),
        compromise,
    }))
}

// ---------------------------------------------------------------------------------------------
// Alerts.

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    nav: Nav,
    /// Central: one row per subject with counts; members: their own alerts.
    subjects: Vec<SubjectRow>,
    alerts: Vec<AlertView>,
}

struct SubjectRow {
    subject: String,
    title: String,
    members: usize,
    open: usize,
    acknowledged: usize,
    closed: usize,
    late: usize,
}

async fn alerts(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    let now = Utc::now();
    let rows = state.store.alerts(session.scope()).await?;
    let views: Vec<AlertView> = rows.iter().map(|a| AlertView::new(a, now)).collect();
    let mut subjects = Vec::new();
    if session.who.role.is_central() {
        let mut by: BTreeMap<String, SubjectRow> = BTreeMap::new();
        for v in &views {
            let row = by.entry(v.subject.clone()).or_insert_with(|| SubjectRow {
                subject: v.subject.clone(),
                title: v.title.clone(),
                members: 0,
                open: 0,
                acknowledged: 0,
                closed: 0,
                late: 0,
            });
            row.members += 1;
            match v.state.as_str() {
                "open" => row.open += 1,
                "acknowledged" => row.acknowledged += 1,
                _ => row.closed += 1,
            }
            if v.is_open() && (v.acknowledge_late || v.remediate_late) {
                row.late += 1;
            }
        }
        subjects = by.into_values().collect();
        subjects.sort_by_key(|s| std::cmp::Reverse(s.open + s.acknowledged));
    }
    Ok(html(&AlertsPage {
        nav: session.nav("alerts"),
        subjects,
        alerts: if session.who.role.is_central() {
            Vec::new()
        } else {
            views
        },
    }))
}

#[derive(Template)]
#[template(path = "alert_subject.html")]
struct AlertSubjectPage {
    nav: Nav,
    subject: String,
    title: String,
    alerts: Vec<AlertView>,
    acknowledged: usize,
    remediated: usize,
}

/// The central team's page of one issued (or raised) alert: every member's state and timers.
async fn alert_subject(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(subject): Path<String>,
) -> PageResult {
    if !session.who.role.is_central() {
        return Err(forbidden("see every member's state of an alert"));
    }
    let now = Utc::now();
    let alerts: Vec<AlertView> = state
        .store
        .alerts_about(&subject)
        .await?
        .iter()
        .map(|a| AlertView::new(a, now))
        .collect();
    if alerts.is_empty() {
        return Err(not_found("alert"));
    }
    Ok(html(&AlertSubjectPage {
        nav: session.nav("alerts"),
        title: alerts[0].title.clone(),
        acknowledged: alerts.iter().filter(|a| a.state != "open").count(),
        remediated: alerts.iter().filter(|a| a.state == "remediated").count(),
        subject,
        alerts,
    }))
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    nav: Nav,
    alert: AlertView,
    findings: Vec<FindingView>,
    can_act: bool,
    justifications: &'static [&'static str],
    error: String,
}

async fn alert_view(
    state: &AppState,
    session: &Session,
    id: i64,
    error: String,
) -> Result<AlertPage, PageError> {
    let alert = state
        .store
        .alert(session.scope(), id)
        .await?
        .ok_or_else(|| not_found("alert"))?;
    let org = state
        .store
        .organisation_by_slug(&alert.organisation)
        .await?
        .map(|o| o.id);
    let (findings, _) = state
        .store
        .findings(&ward_store::FindingQuery {
            organisation_id: org,
            vulnerability: Some(alert.subject.clone()),
            limit: 500,
            ..Default::default()
        })
        .await?;
    let role = session.who.role;
    Ok(AlertPage {
        nav: session.nav("alerts"),
        alert: AlertView::new(&alert, Utc::now()),
        findings: findings.iter().map(FindingView::new).collect(),
        can_act: role.can_write() && role != Role::CentralAnalyst,
        justifications: &ward_store::VEX_JUSTIFICATIONS,
        error,
    })
}

async fn alert_page(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<i64>,
) -> PageResult {
    Ok(html(
        &alert_view(&state, &session, id, String::new()).await?,
    ))
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
    action: String,
    justification: Option<String>,
    /// A date (`2026-12-31`) or an RFC 3339 time.
    until: Option<String>,
}

async fn alert_action(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<ActionForm>,
) -> PageResult {
    session.check(&form.csrf)?;
    let role = session.who.role;
    if !role.can_write() || role == Role::CentralAnalyst {
        return Err(forbidden("act on alerts"));
    }
    // A date input sends `YYYY-MM-DD`: the acceptance runs to the end of that day (UTC).
    let until = form.until.as_deref().map(str::trim).map(|u| {
        if u.len() == 10 {
            format!("{u}T23:59:59Z")
        } else {
            u.to_owned()
        }
    });
    let justification = form.justification.filter(|j| !j.trim().is_empty());
    let result = match crate::parse_transition(&form.action, justification, until.as_deref()) {
        Ok(t) => state
            .store
            .transition_alert(&session.who.actor(), session.scope(), id, &t)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/alerts/{id}"))),
        Err(e) if e.status == StatusCode::NOT_FOUND => Err(PageError(e)),
        Err(e) => {
            // The page again, with what went wrong next to the forms.
            let status = e.status;
            let mut r = html(&alert_view(&state, &session, id, e.message).await?);
            *r.status_mut() = status;
            Ok(r)
        }
    }
}

#[derive(Template)]
#[template(path = "issue.html")]
struct IssuePage {
    nav: Nav,
    vulnerabilities: String,
    note: String,
    preview: Vec<PreviewRow>,
    error: String,
}

struct PreviewRow {
    vulnerability: String,
    affected: Vec<String>,
    confirm: Vec<String>,
    not_affected: Vec<String>,
}

#[derive(Deserialize, Default)]
struct IssueQuery {
    #[serde(default)]
    vulnerabilities: String,
    #[serde(default)]
    note: String,
}

/// CVE ids from what was typed: separated by spaces, commas or new lines; upper-cased.
fn cve_list(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    out.dedup();
    out
}

fn preview_rows(preview: &[Value]) -> Vec<PreviewRow> {
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    preview
        .iter()
        .map(|p| PreviewRow {
            vulnerability: p["vulnerability"].as_str().unwrap_or_default().to_owned(),
            affected: list(&p["affected"]),
            confirm: list(&p["confirm_exposure"]),
            not_affected: list(&p["not_affected"]),
        })
        .collect()
}

/// Find the CVEs and preview who the alert would reach (nothing is sent by a GET).
async fn issue_form(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(q): Query<IssueQuery>,
) -> PageResult {
    if !session.who.role.is_central() {
        return Err(forbidden("issue alerts"));
    }
    let vulns = cve_list(&q.vulnerabilities);
    let (preview, error) = if vulns.is_empty() {
        (Vec::new(), String::new())
    } else {
        match crate::plan_issue(&state, &vulns).await {
            Ok((_, preview)) => (preview_rows(&preview), String::new()),
            Err(e) => (Vec::new(), e.message),
        }
    };
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut r = html(&IssuePage {
        nav: session.nav("issue"),
        vulnerabilities: vulns.join(" "),
        note: q.note,
        preview,
        error,
    });
    *r.status_mut() = status;
    Ok(r)
}

#[derive(Deserialize)]
struct IssueForm {
    csrf: String,
    vulnerabilities: String,
    #[serde(default)]
    note: String,
}

async fn issue(
    State(state): State<Arc<AppState>>,
    session: Session,
    axum::Form(form): axum::Form<IssueForm>,
) -> PageResult {
    session.check(&form.csrf)?;
    if !session.who.role.is_central() {
        return Err(forbidden("issue alerts"));
    }
    let vulns = cve_list(&form.vulnerabilities);
    if vulns.is_empty() || vulns.len() > 100 {
        return Err(PageError(ApiError::bad_request(
            "vulnerabilities: name 1 to 100 vulnerabilities",
        )));
    }
    let (targets, _) = crate::plan_issue(&state, &vulns).await?;
    let note = Some(form.note.trim()).filter(|n| !n.is_empty());
    state
        .store
        .issue_alerts(&session.who.actor(), &targets, note)
        .await?;
    Ok(see_other(&format!(
        "/alerts/cve/{}",
        percent_encode(&vulns[0])
    )))
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

// ---------------------------------------------------------------------------------------------
// Members, audit.

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    nav: Nav,
    members: Vec<MemberView>,
}

struct MemberView {
    slug: String,
    name: String,
    open: usize,
    late: usize,
    months: Vec<ward_store::MemberScore>,
}

async fn members(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    if !session.who.role.is_central() {
        return Err(forbidden("see the members' scorecards"));
    }
    let now = Utc::now();
    let alerts: Vec<AlertView> = state
        .store
        .alerts(None)
        .await?
        .iter()
        .map(|a| AlertView::new(a, now))
        .collect();
    let scores = state.store.member_scorecards(None).await?;
    let members = state
        .store
        .organisations()
        .await?
        .into_iter()
        .filter(|o| !o.central)
        .map(|o| MemberView {
            open: alerts
                .iter()
                .filter(|a| a.organisation == o.slug && a.is_open())
                .count(),
            late: alerts
                .iter()
                .filter(|a| {
                    a.organisation == o.slug
                        && a.is_open()
                        && (a.acknowledge_late || a.remediate_late)
                })
                .count(),
            months: scores
                .iter()
                .filter(|s| s.organisation == o.slug)
                .cloned()
                .collect(),
            slug: o.slug,
            name: o.name,
        })
        .collect();
    Ok(html(&MembersPage {
        nav: session.nav("members"),
        members,
    }))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    entries: Vec<ward_store::AuditEntry>,
    total: usize,
    intact: bool,
    problems: Vec<String>,
}

async fn audit(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    if session.who.role != Role::CentralAdmin {
        return Err(forbidden("read the audit log"));
    }
    let mut entries = state.store.audit_log().await?;
    let verdict = state.store.verify_audit().await?;
    let total = entries.len();
    entries.reverse();
    entries.truncate(300);
    Ok(html(&AuditPage {
        nav: session.nav("audit"),
        entries,
        total,
        intact: verdict.problems.is_empty(),
        problems: verdict.problems,
    }))
}

// ---------------------------------------------------------------------------------------------
// The worklist and findings.

/// A finding as the pages show it.
struct FindingView {
    id: i64,
    organisation: String,
    asset_id: i64,
    asset: String,
    vulnerability: String,
    title: String,
    component: String,
    priority: String,
    remediate_by: String,
    kev: bool,
    epss: String,
    fixed: String,
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
            priority: f.priority.clone(),
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

#[derive(Template)]
#[template(path = "worklist.html")]
struct WorklistPage {
    nav: Nav,
    findings: Vec<FindingView>,
    total: i64,
    search: String,
    priority: String,
    organisation: String,
    organisations: Vec<(String, String)>,
    priorities: [&'static str; 4],
    page: i64,
    pages: i64,
    prev: String,
    next: String,
}

#[derive(Deserialize, Default)]
struct WorklistQuery {
    #[serde(default)]
    search: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    page: Option<i64>,
}

const PAGE: i64 = 50;

fn query_string(pairs: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    encoded.join("&")
}

async fn worklist(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(q): Query<WorklistQuery>,
) -> PageResult {
    let org = if session.who.role.is_central() && !q.organisation.is_empty() {
        Some(
            state
                .store
                .organisation_by_slug(&q.organisation)
                .await?
                .ok_or_else(|| not_found("organisation"))?
                .id,
        )
    } else {
        session.scope()
    };
    let priority = Some(q.priority.clone())
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ward_model::Priority>()
                .map(|p| p.as_str().to_owned())
        })
        .transpose()
        .map_err(|e: String| PageError(ApiError::bad_request(format!("priority: {e}"))))?;
    let page = q.page.unwrap_or(1).max(1);
    let (rows, total) = state
        .store
        .findings(&ward_store::FindingQuery {
            organisation_id: org,
            priority,
            search: Some(q.search.clone()),
            limit: PAGE,
            offset: (page - 1) * PAGE,
            ..Default::default()
        })
        .await?;
    let pages = ((total + PAGE - 1) / PAGE).max(1);
    let link = |p: i64| {
        let p = p.to_string();
        format!(
            "/worklist?{}",
            query_string(&[
                ("search", &q.search),
                ("priority", &q.priority),
                ("organisation", &q.organisation),
                ("page", &p),
            ])
        )
    };
    let organisations = member_choices(&state, &session).await?;
    Ok(html(&WorklistPage {
        nav: session.nav("worklist"),
        findings: rows.iter().map(FindingView::new).collect(),
        total,
        prev: if page > 1 {
            link(page - 1)
        } else {
            String::new()
        },
        next: if page < pages {
            link(page + 1)
        } else {
            String::new()
        },
        search: q.search,
        priority: q.priority,
        organisation: q.organisation,
        organisations,
        priorities: ["immediate", "out-of-cycle", "scheduled", "defer"],
        page,
        pages,
    }))
}

#[derive(Template)]
#[template(path = "finding.html")]
struct FindingPage {
    nav: Nav,
    f: FindingView,
    first_seen: String,
    acknowledge_by: String,
    why_matched: String,
    source: String,
    confidence: String,
    why_priority: String,
    /// Name, value, where the value came from.
    decision_points: Vec<Vec<String>>,
    /// Source, verdict, basis, criterion, range.
    sources: Vec<Vec<String>>,
    disagreements: Vec<String>,
    notes: Vec<String>,
    /// Source, version, base score, vector.
    cvss: Vec<Vec<String>>,
    kev_text: String,
    alert: Option<i64>,
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The named fields of each object of a JSON array, as text.
fn rows(v: &Value, fields: &[&str]) -> Vec<Vec<String>> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|o| fields.iter().map(|f| text(&o[*f])).collect())
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default()
}

async fn finding_page(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<i64>,
) -> PageResult {
    let row = state
        .store
        .finding(session.scope(), id)
        .await?
        .ok_or_else(|| not_found("finding"))?;
    let p = &row.finding;
    let e = &p["explanation"];
    let org = state
        .store
        .organisation_by_slug(&row.organisation)
        .await?
        .map(|o| o.id);
    let alert = state
        .store
        .alerts(org)
        .await?
        .into_iter()
        .find(|a| a.kind == "vulnerability" && a.subject == row.vulnerability)
        .map(|a| a.id);
    let kev = &p["kev"];
    let kev_text = if kev.is_null() {
        String::new()
    } else {
        let mut t = format!("added {}", text(&kev["date_added"]));
        if !kev["due_date"].is_null() {
            t.push_str(&format!(", federal due date {}", text(&kev["due_date"])));
        }
        if kev["ransomware"].as_bool() == Some(true) {
            t.push_str(", used in ransomware campaigns");
        }
        t
    };
    Ok(html(&FindingPage {
        nav: session.nav("worklist"),
        f: FindingView::new(&row),
        first_seen: when(Some(&row.first_seen)),
        acknowledge_by: when(p["deadlines"]["acknowledge_by"].as_str()),
        why_matched: format!(
            "{} matches {} ({})",
            row.component,
            text(&e["criterion"]),
            text(&e["range"])
        ),
        source: text(&e["source"]),
        confidence: text(&p["confidence"]),
        why_priority: text(&e["priority"]),
        decision_points: rows(&e["decision_points"], &["name", "value", "source"])
            .into_iter()
            .map(|mut r| {
                r[0] = r[0].replace('_', " ");
                r
            })
            .collect(),
        sources: rows(
            &e["sources"],
            &["source", "status", "basis", "criterion", "range"],
        ),
        disagreements: strings(&e["disagreements"]),
        notes: strings(&e["notes"]),
        cvss: rows(&p["cvss"], &["source", "version", "base_score", "vector"]),
        kev_text,
        alert,
    }))
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

// ---------------------------------------------------------------------------------------------
// Assets and inventory uploads.

#[derive(Template)]
#[template(path = "assets.html")]
struct AssetsPage {
    nav: Nav,
    assets: Vec<ward_store::AssetRow>,
    organisations: Vec<(String, String)>,
    error: String,
}

async fn assets_view(
    state: &AppState,
    session: &Session,
    error: String,
) -> Result<AssetsPage, PageError> {
    let organisations = member_choices(state, session).await?;
    Ok(AssetsPage {
        nav: session.nav("assets"),
        assets: state.store.assets(session.scope()).await?,
        organisations,
        error,
    })
}

async fn assets(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    Ok(html(&assets_view(&state, &session, String::new()).await?))
}

#[derive(Deserialize)]
struct AssetForm {
    csrf: String,
    name: String,
    #[serde(default)]
    exposure: String,
    #[serde(default)]
    criticality: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    organisation: String,
}

async fn create_asset(
    State(state): State<Arc<AppState>>,
    session: Session,
    axum::Form(form): axum::Form<AssetForm>,
) -> PageResult {
    session.check(&form.csrf)?;
    if !session.who.role.can_write() {
        return Err(forbidden("create assets"));
    }
    let org = if session.who.role.is_central() {
        match state.store.organisation_by_slug(&form.organisation).await? {
            Some(o) if !o.central => o.id,
            _ => {
                let mut r = html(
                    &assets_view(
                        &state,
                        &session,
                        "Choose the member the asset belongs to.".into(),
                    )
                    .await?,
                );
                *r.status_mut() = StatusCode::BAD_REQUEST;
                return Ok(r);
            }
        }
    } else {
        session.who.organisation.id
    };
    let result = match (
        parse_opt("exposure", &form.exposure),
        parse_opt("criticality", &form.criticality),
    ) {
        (Ok(exposure), Ok(criticality)) => state
            .store
            .create_asset(
                &session.who.actor(),
                org,
                &ward_store::NewAsset {
                    name: form.name,
                    exposure,
                    criticality,
                    tags: form
                        .tags
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect(),
                },
            )
            .await
            .map_err(|e| ApiError::from(e).message),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match result {
        Ok(asset) => Ok(see_other(&format!("/assets/{}", asset.id))),
        Err(message) => {
            let mut r = html(&assets_view(&state, &session, message).await?);
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(r)
        }
    }
}

/// An optional form field parsed as the model's word (empty: not given).
fn parse_opt<T: std::str::FromStr<Err = String>>(
    field: &str,
    v: &str,
) -> Result<Option<T>, String> {
    if v.is_empty() {
        Ok(None)
    } else {
        v.parse()
            .map(Some)
            .map_err(|e: String| format!("{field}: {e}"))
    }
}

#[derive(Template)]
#[template(path = "asset.html")]
struct AssetPage {
    nav: Nav,
    asset: ward_store::AssetRow,
    history: Vec<ward_store::InventoryVersion>,
    findings: Vec<FindingView>,
    errors: Vec<String>,
    uploaded: Option<UploadSummary>,
}

struct UploadSummary {
    file: String,
    components: usize,
    new: usize,
    changed: usize,
    resolved: usize,
    warnings: Vec<String>,
}

async fn asset_view(
    state: &AppState,
    session: &Session,
    id: i64,
    errors: Vec<String>,
    uploaded: Option<UploadSummary>,
) -> Result<AssetPage, PageError> {
    let asset = state
        .store
        .asset(session.scope(), id)
        .await?
        .ok_or_else(|| not_found("asset"))?;
    let (findings, _) = state
        .store
        .findings(&ward_store::FindingQuery {
            organisation_id: Some(asset.organisation_id),
            asset_id: Some(asset.id),
            limit: 500,
            ..Default::default()
        })
        .await?;
    Ok(AssetPage {
        nav: session.nav("assets"),
        history: state.store.inventory_history(asset.id).await?,
        findings: findings.iter().map(FindingView::new).collect(),
        asset,
        errors,
        uploaded,
    })
}

async fn asset_page(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<i64>,
) -> PageResult {
    Ok(html(
        &asset_view(&state, &session, id, Vec::new(), None).await?,
    ))
}

/// The inventory upload form (multipart): the file replaces the asset's inventory, or the page
/// shows each error with where it is, and nothing changes.
async fn upload(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<i64>,
    mut multipart: Multipart,
) -> PageResult {
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| PageError(ApiError::bad_request(format!("the upload: {e}"))))?
    {
        match field.name() {
            Some("csrf") => {
                csrf = field
                    .text()
                    .await
                    .map_err(|e| PageError(ApiError::bad_request(e.to_string())))?;
            }
            Some("file") => {
                let name = field.file_name().unwrap_or("upload").to_owned();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| PageError(ApiError::bad_request(e.to_string())))?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    session.check(&csrf)?;
    if !session.who.role.can_write() {
        return Err(forbidden("upload inventories"));
    }
    let asset = state
        .store
        .asset(session.scope(), id)
        .await?
        .ok_or_else(|| not_found("asset"))?;
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        let mut r = html(
            &asset_view(
                &state,
                &session,
                id,
                vec!["Choose a file to upload.".into()],
                None,
            )
            .await?,
        );
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(r);
    };
    match crate::store_inventory(&state, &session.who, &asset, &name, &bytes).await {
        Ok((outcome, warnings)) => {
            let summary = UploadSummary {
                file: name,
                components: outcome.components,
                new: outcome.new.len(),
                changed: outcome.changed.len(),
                resolved: outcome.resolved.len(),
                warnings,
            };
            Ok(html(
                &asset_view(&state, &session, id, Vec::new(), Some(summary)).await?,
            ))
        }
        Err(e) => {
            let status = e.status;
            let errors = e.message.lines().map(str::to_owned).collect();
            let mut r = html(&asset_view(&state, &session, id, errors, None).await?);
            *r.status_mut() = status;
            Ok(r)
        }
    }
}
