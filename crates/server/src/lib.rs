//! Ward's federation server: the REST API under `/api/v1`.
//!
//! Every request but `/api/v1/health` carries a bearer token; the token decides the
//! organisation and the role, and every handler asks the store only for that organisation's
//! data unless the role is a central one. Nothing a client sends is ever evaluated: bodies are
//! parsed as JSON into types, stored as data, and returned as data.

use std::sync::Arc;

pub mod import;
pub mod notify;
pub mod openapi;
mod ui;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use ward_priority::Policy;
use ward_store::{Job, NewAsset, NewSighting, Principal, Role, Store, StoreError};

/// Largest request body accepted (a sightings report, later an SBOM).
pub const MAX_BODY: usize = 16 << 20;
/// The largest feed file or archive a central admin may import over HTTP (streamed to disk).
pub const MAX_IMPORT: u64 = 4 << 30;

pub struct AppState {
    pub store: Store,
    /// Prioritises findings (per organisation, as of the request's time).
    pub policy: Policy,
}

/// The API.
pub fn router(store: Store, policy: Policy) -> Router {
    let state = Arc::new(AppState { store, policy });
    Router::new()
        .route("/api/v1/health", get(health))
        .route(
            "/api/v1/openapi.json",
            get(|| async { Json(openapi::document()) }),
        )
        .route("/api/v1/me", get(me))
        .route("/api/v1/login", axum::routing::post(login))
        .route("/api/v1/logout", axum::routing::post(logout))
        .route(
            "/api/v1/organisations",
            get(organisations).post(create_organisation),
        )
        .route("/api/v1/sightings", get(sightings).post(report_sightings))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/alerts/issue", axum::routing::post(issue_alerts))
        .route(
            "/api/v1/alerts/{id}/{action}",
            axum::routing::post(alert_action),
        )
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/assets", get(assets).post(create_asset))
        .route("/api/v1/assets/{id}", get(asset))
        .route(
            "/api/v1/assets/{id}/inventory",
            get(inventory_history).post(upload_inventory),
        )
        .route("/api/v1/findings", get(findings))
        .route("/api/v1/channels", get(channels).post(add_channel))
        .route("/api/v1/compliance/alerts", get(compliance_alerts))
        .route("/api/v1/compliance/members", get(compliance_members))
        .route(
            "/api/v1/knowledge/imports",
            axum::routing::post(import_knowledge).layer(DefaultBodyLimit::disable()),
        )
        .merge(ui::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Matches an asset's components against the knowledge base under the policy (with the
/// organisation's overrides, as of now): the keys its inventory is looked up by, and the findings.
pub async fn match_asset(
    store: &Store,
    policy: &Policy,
    asset: &ward_store::AssetRow,
    components: Vec<ward_model::Component>,
) -> Result<(Vec<(Option<String>, String)>, Vec<ward_model::Finding>), StoreError> {
    let inventory = ward_model::Inventory {
        assets: vec![asset.model(components)],
    };
    let keys = ward_matching::scan::inventory_keys(&inventory);
    let slice = store.load_for_products(&keys).await?;
    let knowledge = ward_matching::Knowledge::from_parts(slice.advisories, slice.kev, slice.epss);
    let policy = policy
        .for_organisation(&asset.organisation)
        .with_as_of(chrono::Utc::now());
    Ok((
        keys,
        ward_matching::scan(&knowledge, &inventory, &policy).findings,
    ))
}

/// What one pass of continuous matching did.
#[derive(Debug, Default, serde::Serialize)]
pub struct MatchRun {
    pub vulnerabilities: usize,
    pub assets: usize,
    pub new: usize,
    pub changed: usize,
    pub resolved: usize,
    pub alerts: usize,
    /// Assets whose inventory was replaced while they were matched (matched again).
    pub superseded: usize,
}

/// Continuous matching: takes the knowledge changes no pass has matched yet (imports log them),
/// re-matches only the assets they can touch, and moves the cursor.
pub async fn match_knowledge_changes(
    store: &Store,
    policy: &Policy,
) -> Result<MatchRun, StoreError> {
    let mut run = MatchRun::default();
    while let Some((seq, vulns)) = store.pending_knowledge_changes(5000).await? {
        run.vulnerabilities += vulns.len();
        let touched = store.assets_touched(&vulns).await?;
        rematch(store, policy, &touched, Some(&vulns), &mut run).await?;
        store.advance_matching_cursor(seq).await?;
    }
    Ok(run)
}

/// Re-matches every asset of the federation: the knowledge all their products need is loaded
/// once, each asset is matched in memory, and its findings and alerts are written (a
/// transaction per batch of assets). Returns the run and the seconds spent matching in memory.
pub async fn match_all(store: &Store, policy: &Policy) -> Result<(MatchRun, f64), StoreError> {
    // Everything known now is matched below: pending knowledge changes are covered.
    let head = store.knowledge_mark().await?;
    let ids: Vec<i64> = store.assets(None).await?.iter().map(|a| a.id).collect();
    let mut run = MatchRun::default();
    let in_memory = rematch(store, policy, &ids, None, &mut run).await?;
    store.advance_matching_cursor(head).await?;
    Ok((run, in_memory))
}

/// Assets whose findings are written in one transaction when the knowledge changes.
const REMATCH_BATCH: usize = 50;

/// Re-matches these assets: the knowledge all of them need is loaded once, each is matched in
/// memory, and their findings and alerts are written (a transaction per batch of assets). With `only`
/// (a knowledge change) just those vulnerabilities are loaded, matched and diffed: the
/// asset's other findings are not touched. Returns the seconds spent matching in memory.
async fn rematch(
    store: &Store,
    policy: &Policy,
    ids: &[i64],
    only: Option<&[String]>,
    run: &mut MatchRun,
) -> Result<f64, StoreError> {
    let mut in_memory = 0.0;
    let mut ids = ids.to_vec();
    // An asset whose inventory was replaced while it was matched is matched again as it now
    // is: the upload's own matching may have read the knowledge before this change committed.
    while !ids.is_empty() {
        let (seconds, superseded) = rematch_once(store, policy, &ids, only, run).await?;
        in_memory += seconds;
        run.superseded += superseded.len();
        ids = superseded;
    }
    Ok(in_memory)
}

/// One pass of [`rematch`]: also returns the assets superseded by a newer inventory.
async fn rematch_once(
    store: &Store,
    policy: &Policy,
    ids: &[i64],
    only: Option<&[String]>,
    run: &mut MatchRun,
) -> Result<(f64, Vec<i64>), StoreError> {
    let mut superseded = Vec::new();
    let assets = store.assets_for_matching(ids).await?;
    let slice = match only {
        Some(vulns) => store.load_vulnerabilities(vulns).await?,
        None => {
            let all = ward_model::Inventory {
                assets: assets
                    .iter()
                    .map(|(asset, components)| asset.model(components.clone()))
                    .collect(),
            };
            store
                .load_for_products(&ward_matching::scan::inventory_keys(&all))
                .await?
        }
    };
    let scope: Option<std::collections::HashSet<String>> =
        only.map(|v| v.iter().cloned().collect());
    let knowledge = ward_matching::Knowledge::from_parts(slice.advisories, slice.kev, slice.epss);
    let now = chrono::Utc::now();
    let mut in_memory = 0.0;
    // Written a batch of assets per transaction: a commit and the audit chain's head once per
    // batch rather than per asset.
    for chunk in assets.chunks(REMATCH_BATCH) {
        let started = std::time::Instant::now();
        let mut batch = Vec::with_capacity(chunk.len());
        for (asset, components) in chunk {
            let inventory = ward_model::Inventory {
                assets: vec![asset.model(components.clone())],
            };
            let org_policy = policy.for_organisation(&asset.organisation).with_as_of(now);
            batch.push((
                asset,
                ward_matching::scan(&knowledge, &inventory, &org_policy).findings,
            ));
        }
        in_memory += started.elapsed().as_secs_f64();
        let done = store
            .rematch_assets(&batch, scope.as_ref(), policy.alert_threshold.as_str())
            .await?;
        for outcome in done.outcomes {
            run.assets += 1;
            run.new += outcome.new.len();
            run.changed += outcome.changed.len();
            run.resolved += outcome.resolved.len();
        }
        run.alerts += done.alerts.len();
        superseded.extend(done.superseded);
    }
    Ok((in_memory, superseded))
}

/// Serves the API on a bound listener until the process ends, with the background work beside
/// it: continuous matching, deadline checks and notification delivery.
pub async fn serve(
    store: Store,
    policy: Policy,
    listener: tokio::net::TcpListener,
    options: ServeOptions,
) -> std::io::Result<()> {
    tokio::spawn(notify::deliver_forever(
        store.clone(),
        options.delivery_hold,
        options.mailer,
    ));
    let matcher = (store.clone(), policy.clone());
    tokio::spawn(async move {
        // Knowledge changes are looked for every two seconds: an import into the server's
        // database reaches every affected member's findings and alerts within seconds.
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            interval.tick().await;
            // Several servers on one PostgreSQL database: one matches at a time.
            let work = match_knowledge_changes(&matcher.0, &matcher.1);
            let Some(result) = exclusively(&matcher.0, Job::Matching, work).await else {
                continue;
            };
            match result {
                Ok(run) if run.vulnerabilities > 0 => tracing::info!(
                    "matched {} changed vulnerabilities: {} assets, {} new, {} resolved findings, {} alerts",
                    run.vulnerabilities,
                    run.assets,
                    run.new,
                    run.resolved,
                    run.alerts
                ),
                Ok(_) => {}
                Err(e) => tracing::error!("continuous matching: {e}"),
            }
        }
    });
    let ticker = store.clone();
    let tick = options.tick;
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        loop {
            interval.tick().await;
            let work = ticker.tick(chrono::Utc::now());
            let Some(result) = exclusively(&ticker, Job::Deadlines, work).await else {
                continue;
            };
            match result {
                Ok(t) if !t.escalated.is_empty() || !t.reopened.is_empty() => tracing::info!(
                    "deadlines: {} alerts escalated, {} risk acceptances expired",
                    t.escalated.len(),
                    t.reopened.len()
                ),
                Ok(_) => {}
                Err(e) => tracing::error!("deadline check: {e}"),
            }
        }
    });
    let app = router(store, policy);
    match options.tls {
        None => {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        }
        Some(tls) => {
            // Under TLS browsers are told to use nothing else for a year (HSTS).
            let app = app.layer(axum::middleware::map_response(
                |mut response: Response| async move {
                    response.headers_mut().insert(
                        header::STRICT_TRANSPORT_SECURITY,
                        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
                    );
                    response
                },
            ));
            axum_server::from_tcp_rustls(listener.into_std()?, tls)?
                .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await
        }
    }
}

/// Runs `work` if this server takes `job` (see [`Store::try_job`]); `None` when another server
/// is doing it. The job is released afterwards, whatever `work` returned.
async fn exclusively<T>(
    store: &Store,
    job: Job,
    work: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Option<Result<T, StoreError>> {
    let lock = match store.try_job(job).await {
        Ok(Some(lock)) => lock,
        Ok(None) => return None,
        Err(e) => return Some(Err(e)),
    };
    let result = work.await;
    if let Err(e) = lock.release().await {
        tracing::error!("releasing {job:?}: {e}");
    }
    Some(result)
}

/// What `serve` runs besides the API.
pub struct ServeOptions {
    /// Between deadline checks (escalations, expired risk acceptances).
    pub tick: std::time::Duration,
    /// How long a notification being delivered is held before it is due again.
    pub delivery_hold: std::time::Duration,
    /// The SMTP relay for e-mail channels; without one they wait (and say why).
    pub mailer: Option<notify::Mailer>,
    /// HTTPS with this certificate and key (and HSTS) instead of plain HTTP.
    pub tls: Option<axum_server::tls_rustls::RustlsConfig>,
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The API's answers load nothing; the UI's pages set their own policy.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    response
}

/// An error as the API returns it: a status and `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    fn unauthorised() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required (Authorization: Bearer ward_…)",
        )
    }
    fn forbidden(what: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, format!("your role may not {what}"))
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// A fault of the server's own (disk, temporary files): logged, not shown.
    fn internal(message: impl std::fmt::Display) -> Self {
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

type ApiResult<T> = Result<T, ApiError>;

/// The authenticated caller.
pub struct Auth(pub Principal);

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ward_session";

/// The value of a cookie in the request.
fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
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
fn session_cookie(secret: &str) -> String {
    format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
        ward_store::users::SESSION_HOURS * 3600
    )
}

const CLEAR_SESSION_COOKIE: &str =
    "ward_session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0";

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

/// `POST /api/v1/login`: email and password → a session cookie (HttpOnly, Secure,
/// SameSite=Strict) and the CSRF token its unsafe requests must carry. Five failures per email
/// or per address within 15 minutes refuse further attempts for a while.
async fn login(
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
            let mut r = Json(json!({
                "csrf_token": session.csrf_token,
                "organisation": session.principal.organisation,
                "role": session.principal.role,
                "user": session.principal.credential,
            }))
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
async fn logout(
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

/// The organisation whose data a caller sees: their own, or for a central role every one
/// (`None`), or one they name with `?organisation=slug`.
async fn scope(
    state: &AppState,
    who: &Principal,
    requested: Option<&str>,
) -> ApiResult<Option<i64>> {
    if !who.role.is_central() {
        return match requested {
            Some(slug) if slug != who.organisation.slug => {
                Err(ApiError::forbidden("see another organisation's data"))
            }
            _ => Ok(Some(who.organisation.id)),
        };
    }
    match requested {
        None => Ok(None),
        Some(slug) => match state.store.organisation_by_slug(slug).await? {
            Some(o) => Ok(Some(o.id)),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no such organisation {slug:?}"),
            )),
        },
    }
}

#[derive(Deserialize)]
struct ScopeQuery {
    organisation: Option<String>,
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn me(Auth(who): Auth) -> Json<Value> {
    Json(json!({
        "organisation": who.organisation,
        "role": who.role,
        "credential": who.credential,
    }))
}

async fn organisations(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
) -> ApiResult<Json<Value>> {
    let all = state.store.organisations().await?;
    let visible: Vec<_> = if who.role.is_central() {
        all
    } else {
        all.into_iter()
            .filter(|o| o.id == who.organisation.id)
            .collect()
    };
    Ok(Json(json!({"organisations": visible})))
}

#[derive(Deserialize)]
struct NewOrganisation {
    slug: String,
    name: String,
}

async fn create_organisation(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Json(body): Json<NewOrganisation>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if who.role != Role::CentralAdmin {
        return Err(ApiError::forbidden("create organisations"));
    }
    let org = state
        .store
        .create_organisation(&who.actor(), &body.slug, &body.name, false)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"organisation": org}))))
}

/// `POST /api/v1/sightings`: a STIX 2.1 bundle of `sighting` objects from `ward hunt --report`
/// (indicator objects in it give the titles of what was sighted). Recorded against the caller's
/// organisation; each thing sighted raises (or adds to) a possible-compromise alert.
async fn report_sightings(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !who.role.can_write() {
        return Err(ApiError::forbidden("report sightings"));
    }
    let sightings = parse_sightings(&body).map_err(ApiError::bad_request)?;
    let outcome = state.store.record_sightings(&who, &sightings).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(outcome).expect("serialisable")),
    ))
}

/// The sightings of a STIX bundle, checked field by field; an error names the object and field.
pub fn parse_sightings(body: &[u8]) -> Result<Vec<NewSighting>, String> {
    let bundle: Value = serde_json::from_slice(body).map_err(|e| format!("body: not JSON: {e}"))?;
    if bundle.get("type").and_then(Value::as_str) != Some("bundle") {
        return Err("body: expected a STIX 2.1 bundle (\"type\": \"bundle\")".into());
    }
    let objects = bundle
        .get("objects")
        .and_then(Value::as_array)
        .ok_or("body: the bundle has no \"objects\" array")?;
    let names: std::collections::HashMap<&str, &str> = objects
        .iter()
        .filter(|o| o.get("type").and_then(Value::as_str) == Some("indicator"))
        .filter_map(|o| Some((o.get("id")?.as_str()?, o.get("name")?.as_str()?)))
        .collect();
    let mut out = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        if o.get("type").and_then(Value::as_str) != Some("sighting") {
            continue;
        }
        let field = |name: &str| -> Result<&str, String> {
            o.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("objects[{i}].{name}: missing or not a string"))
        };
        let id = field("id")?;
        if !id.starts_with("sighting--") || id.len() > 100 {
            return Err(format!("objects[{i}].id: {id:?} is not a sighting id"));
        }
        let of = field("sighting_of_ref")?;
        if !of.contains("--") || of.len() > 200 {
            return Err(format!(
                "objects[{i}].sighting_of_ref: {of:?} is not a STIX id"
            ));
        }
        let time = |name: &str| -> Result<String, String> {
            let t = field(name)?;
            ward_store::federation::normalise_time(t)
                .ok_or_else(|| format!("objects[{i}].{name}: {t:?} is not an RFC 3339 time"))
        };
        let first_seen = time("first_seen")?;
        let last_seen = time("last_seen")?;
        let level = o
            .get("x_ward_level")
            .and_then(Value::as_str)
            .map(str::to_owned);
        out.push(NewSighting {
            stix_id: id.to_owned(),
            sighting_of: of.to_owned(),
            title: names
                .get(of)
                .map_or_else(|| of.to_owned(), |n| (*n).to_owned()),
            level,
            first_seen,
            last_seen,
            payload: o.clone(),
        });
    }
    if out.is_empty() {
        return Err("body: the bundle holds no sighting objects".into());
    }
    Ok(out)
}

async fn sightings(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<Value>> {
    let org = scope(&state, &who, q.organisation.as_deref()).await?;
    Ok(Json(
        json!({"sightings": state.store.sightings(org).await?}),
    ))
}

async fn alerts(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<Value>> {
    let org = scope(&state, &who, q.organisation.as_deref()).await?;
    Ok(Json(json!({"alerts": state.store.alerts(org).await?})))
}

async fn audit(State(state): State<Arc<AppState>>, Auth(who): Auth) -> ApiResult<Json<Value>> {
    if who.role != Role::CentralAdmin {
        return Err(ApiError::forbidden("read the audit log"));
    }
    Ok(Json(json!({"entries": state.store.audit_log().await?})))
}

async fn assets(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<Value>> {
    let org = scope(&state, &who, q.organisation.as_deref()).await?;
    Ok(Json(json!({"assets": state.store.assets(org).await?})))
}

#[derive(Deserialize)]
struct AssetBody {
    name: String,
    exposure: Option<String>,
    criticality: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// For the central team acting on a member's behalf.
    organisation: Option<String>,
}

async fn create_asset(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Json(body): Json<AssetBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !who.role.can_write() {
        return Err(ApiError::forbidden("create assets"));
    }
    let org = match (who.role.is_central(), body.organisation.as_deref()) {
        (true, Some(slug)) => scope(&state, &who, Some(slug))
            .await?
            .expect("a named organisation"),
        (true, None) => {
            return Err(ApiError::bad_request(
                "organisation: name the member the asset belongs to",
            ));
        }
        (false, named) => scope(&state, &who, named)
            .await?
            .expect("members are scoped"),
    };
    let exposure = body
        .exposure
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| ApiError::bad_request(format!("exposure: {e}")))?;
    let criticality = body
        .criticality
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| ApiError::bad_request(format!("criticality: {e}")))?;
    let asset = state
        .store
        .create_asset(
            &who.actor(),
            org,
            &NewAsset {
                name: body.name,
                exposure,
                criticality,
                tags: body.tags,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"asset": asset}))))
}

/// An asset within the caller's scope; another organisation's asset does not exist for them.
async fn scoped_asset(
    state: &AppState,
    who: &Principal,
    id: i64,
) -> ApiResult<ward_store::AssetRow> {
    let org = scope(state, who, None).await?;
    state
        .store
        .asset(org, id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no such asset {id}")))
}

async fn asset(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let asset = scoped_asset(&state, &who, id).await?;
    let components = state.store.current_components(asset.id).await?;
    Ok(Json(json!({"asset": asset, "components": components})))
}

async fn inventory_history(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let asset = scoped_asset(&state, &who, id).await?;
    Ok(Json(
        json!({"asset": asset.id, "versions": state.store.inventory_history(asset.id).await?}),
    ))
}

#[derive(Deserialize)]
struct UploadQuery {
    /// The file's name: it tells CSV from JSON and XML, and names the file in errors.
    filename: Option<String>,
}

/// `POST /api/v1/assets/{id}/inventory`: an SBOM (CycloneDX JSON/XML, SPDX JSON) or Ward CSV
/// for the asset. It becomes the asset's current inventory (earlier ones stay in its history),
/// is matched against the knowledge base at once, and the asset's findings are replaced: the
/// answer lists the new, changed and resolved ones. A malformed file changes nothing.
async fn upload_inventory(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    Query(q): Query<UploadQuery>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !who.role.can_write() {
        return Err(ApiError::forbidden("upload inventories"));
    }
    let asset = scoped_asset(&state, &who, id).await?;
    let name = q.filename.unwrap_or_else(|| "upload".into());
    let (outcome, warnings) = store_inventory(&state, &who, &asset, &name, &body).await?;
    let mut answer = serde_json::to_value(outcome).expect("serialisable");
    answer["warnings"] = json!(warnings);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// How many times an upload is matched before an import that keeps committing meanwhile
/// makes it give up (503: try again).
const UPLOAD_ATTEMPTS: usize = 5;

/// Parses an uploaded inventory with `ward scan`'s parsers, matches it and stores it as the
/// asset's current inventory with its findings (a malformed file: 400, nothing changed).
pub(crate) async fn store_inventory(
    state: &AppState,
    who: &Principal,
    asset: &ward_store::AssetRow,
    name: &str,
    body: &[u8],
) -> ApiResult<(ward_store::UploadOutcome, Vec<String>)> {
    let parsed = ward_inventory::parse_inventory(name, body)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let components: Vec<ward_model::Component> = parsed
        .inventory
        .assets
        .into_iter()
        .flat_map(|a| a.components)
        .collect();
    // An import that commits while the inventory is matched makes the store refuse the
    // findings (they may predate it): matched again with the new knowledge, a few times.
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        let knowledge_mark = state.store.knowledge_mark().await?;
        let (keys, findings) =
            match_asset(&state.store, &state.policy, asset, components.clone()).await?;
        let upload = ward_store::InventoryUpload {
            format: parsed.format,
            file_name: name,
            bytes: body,
            components: &components,
            keys: &keys,
            findings: &findings,
            knowledge_mark,
        };
        match state
            .store
            .upload_inventory(
                &who.actor(),
                asset,
                &upload,
                state.policy.alert_threshold.as_str(),
            )
            .await
        {
            Err(StoreError::KnowledgeMoved) if attempts < UPLOAD_ATTEMPTS => continue,
            result => break result?,
        }
    };
    let warnings = parsed.warnings.iter().map(ToString::to_string).collect();
    Ok((outcome, warnings))
}

#[derive(Deserialize)]
struct FindingsQuery {
    organisation: Option<String>,
    /// Only this priority (immediate, out-of-cycle, scheduled, defer).
    priority: Option<String>,
    /// Include resolved findings.
    #[serde(default)]
    resolved: bool,
    /// Text in the vulnerability id, the asset's name or the component.
    search: Option<String>,
    /// Only this asset's findings.
    asset: Option<i64>,
    /// Only this vulnerability's findings.
    vulnerability: Option<String>,
    /// Page size (default 100, at most 1000) and offset.
    limit: Option<i64>,
    #[serde(default)]
    offset: i64,
}

/// `GET /api/v1/findings`: the worklist, most urgent first (priority, then the remediation
/// deadline), a page at a time (`total` says how many there are).
async fn findings(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<FindingsQuery>,
) -> ApiResult<Json<Value>> {
    let org = scope(&state, &who, q.organisation.as_deref()).await?;
    let priority = q
        .priority
        .as_deref()
        .map(|p| {
            p.parse::<ward_model::Priority>()
                .map(|p| p.as_str().to_owned())
        })
        .transpose()
        .map_err(|e: String| ApiError::bad_request(format!("priority: {e}")))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) || q.offset < 0 {
        return Err(ApiError::bad_request("limit: 1 to 1000; offset: 0 or more"));
    }
    let (rows, total) = state
        .store
        .findings(&ward_store::FindingQuery {
            organisation_id: org,
            resolved: q.resolved,
            priority,
            search: q.search,
            asset_id: q.asset,
            vulnerability: q.vulnerability,
            limit,
            offset: q.offset,
        })
        .await?;
    Ok(Json(
        json!({"findings": rows, "total": total, "limit": limit, "offset": q.offset}),
    ))
}

#[derive(Deserialize)]
struct IssueBody {
    vulnerabilities: Vec<String>,
    note: Option<String>,
    /// Show who would be alerted, without alerting.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/alerts/issue`: a central analyst's high severity alert for one or more
/// vulnerabilities. It reaches every member with matching findings (`affected`) and every member
/// whose inventory says nothing about the product (`confirm-exposure`); members whose inventory
/// has the product at versions that are not affected get nothing.
async fn issue_alerts(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Json(body): Json<IssueBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !who.role.is_central() {
        return Err(ApiError::forbidden("issue alerts"));
    }
    let (targets, preview) = plan_issue(&state, &body.vulnerabilities).await?;
    if body.dry_run {
        return Ok((StatusCode::OK, Json(json!({"preview": preview}))));
    }
    let alerts = state
        .store
        .issue_alerts(&who.actor(), &targets, body.note.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"preview": preview, "alerts": alerts})),
    ))
}

/// Who a high severity alert for these vulnerabilities reaches: every member with matching
/// findings (`affected`), every member whose inventory says nothing about the products
/// (`confirm-exposure`); members whose inventory has the products at unaffected versions are
/// listed as not affected and get nothing.
pub(crate) async fn plan_issue(
    state: &AppState,
    vulnerabilities: &[String],
) -> ApiResult<(Vec<ward_store::IssueTarget>, Vec<Value>)> {
    if vulnerabilities.is_empty() || vulnerabilities.len() > 100 {
        return Err(ApiError::bad_request(
            "vulnerabilities: name 1 to 100 vulnerabilities",
        ));
    }
    let members: Vec<_> = state
        .store
        .organisations()
        .await?
        .into_iter()
        .filter(|o| !o.central)
        .collect();
    let now = chrono::Utc::now();
    let mut targets = Vec::new();
    let mut preview = Vec::new();
    for vuln in vulnerabilities {
        let products = state.store.vulnerability_products(vuln).await?;
        if products.is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "vulnerabilities: {vuln:?} names no product in the knowledge base (import it first)"
                ),
            ));
        }
        // Members whose inventories name the products (from the keys stored with each upload).
        let mentioning = state.store.organisations_mentioning(&products).await?;
        let (mut affected, mut confirm, mut unaffected) = (Vec::new(), Vec::new(), Vec::new());
        for org in &members {
            let policy = state.policy.for_organisation(&org.slug);
            let window = policy.windows.get(&ward_model::Priority::Immediate);
            let after = |d: Option<chrono::Duration>| {
                d.map(|d| (now + d).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            };
            if let Some((_, priority, ack, rem)) =
                state.store.open_findings_for(org.id, vuln).await?
            {
                affected.push(org.slug.clone());
                targets.push(ward_store::IssueTarget {
                    organisation_id: org.id,
                    vulnerability: vuln.clone(),
                    title: vuln.clone(),
                    exposure: "affected".into(),
                    priority: Some(priority),
                    acknowledge_by: ack.or_else(|| after(window.and_then(|w| w.acknowledge))),
                    remediate_by: rem.or_else(|| after(window.and_then(|w| w.remediate))),
                });
                continue;
            }
            if mentioning.contains(&org.id) {
                unaffected.push(org.slug.clone());
            } else {
                confirm.push(org.slug.clone());
                targets.push(ward_store::IssueTarget {
                    organisation_id: org.id,
                    vulnerability: vuln.clone(),
                    title: vuln.clone(),
                    exposure: "confirm-exposure".into(),
                    priority: None,
                    acknowledge_by: after(window.and_then(|w| w.acknowledge)),
                    remediate_by: after(window.and_then(|w| w.remediate)),
                });
            }
        }
        preview.push(json!({
            "vulnerability": vuln,
            "affected": affected,
            "confirm_exposure": confirm,
            "not_affected": unaffected,
        }));
    }
    Ok((targets, preview))
}

/// An alert action by name, with its justification and (risk acceptances) expiry.
pub(crate) fn parse_transition(
    action: &str,
    justification: Option<String>,
    until: Option<&str>,
) -> ApiResult<ward_store::Transition> {
    Ok(match action {
        "acknowledge" => ward_store::Transition::Acknowledge,
        "remediate" => ward_store::Transition::Remediate,
        "accept-risk" => {
            let until = until.filter(|u| !u.trim().is_empty()).ok_or_else(|| {
                ApiError::bad_request("until: when does the acceptance expire (RFC 3339)?")
            })?;
            let until = chrono::DateTime::parse_from_rfc3339(until)
                .map_err(|e| ApiError::bad_request(format!("until: {until:?}: {e}")))?
                .with_timezone(&chrono::Utc);
            ward_store::Transition::AcceptRisk {
                justification: justification.unwrap_or_default(),
                until,
            }
        }
        "not-affected" => ward_store::Transition::NotAffected {
            justification: justification.unwrap_or_default(),
        },
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "no alert action {other:?}: acknowledge, remediate, accept-risk, not-affected"
                ),
            ));
        }
    })
}

#[derive(Deserialize, Default)]
struct ActionBody {
    justification: Option<String>,
    /// Risk acceptances: until when (RFC 3339).
    until: Option<String>,
}

/// `POST /api/v1/alerts/{id}/{acknowledge|remediate|accept-risk|not-affected}`.
async fn alert_action(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Path((id, action)): Path<(i64, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    if !who.role.can_write() || who.role == Role::CentralAnalyst {
        return Err(ApiError::forbidden("act on alerts"));
    }
    // The body is optional (acknowledge and remediate need none).
    let body: ActionBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("body: {e}")))?
    };
    let transition = parse_transition(&action, body.justification, body.until.as_deref())?;
    let org = if who.role.is_central() {
        None
    } else {
        Some(who.organisation.id)
    };
    let alert = state
        .store
        .transition_alert(&who.actor(), org, id, &transition)
        .await?;
    Ok(Json(json!({"alert": alert})))
}

async fn channels(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Json<Value>> {
    let org = scope(&state, &who, q.organisation.as_deref()).await?;
    Ok(Json(json!({"channels": state.store.channels(org).await?})))
}

#[derive(Deserialize)]
struct ChannelBody {
    kind: String,
    target: String,
    secret: Option<String>,
    /// The central admin may add a channel for a member (default: the caller's organisation).
    organisation: Option<String>,
}

/// `POST /api/v1/channels`: where an organisation hears about its alerts (the central team's
/// channels hear about every member's). Admins only; the secret is never returned.
async fn add_channel(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Json(body): Json<ChannelBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !matches!(who.role, Role::CentralAdmin | Role::MemberAdmin) {
        return Err(ApiError::forbidden("add notification channels"));
    }
    let org = match body.organisation.as_deref() {
        Some(slug) => scope(&state, &who, Some(slug))
            .await?
            .expect("a named organisation"),
        None => who.organisation.id,
    };
    let channel = state
        .store
        .add_channel(
            &who.actor(),
            org,
            &body.kind,
            &body.target,
            body.secret.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"channel": channel}))))
}

#[derive(Deserialize)]
struct ImportQuery {
    /// The file's name: it says what the bytes are (`.json`, `.csv`, `.zip`, `.tar.gz`, …).
    filename: String,
    /// Stop at the first bad record and import nothing.
    #[serde(default)]
    strict: bool,
}

/// A feed file or archive, streamed to a private temporary folder and imported in one
/// transaction exactly as `ward db import` would; continuous matching then takes the
/// changed vulnerabilities to every affected member.
async fn import_knowledge(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(query): Query<ImportQuery>,
    body: axum::body::Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    use tokio::io::AsyncWriteExt;
    if who.role != Role::CentralAdmin {
        return Err(ApiError::forbidden("import into the knowledge base"));
    }
    // Only a plain file name: the name chooses the parser, never a place on disk.
    let name = query.filename.as_str();
    if name.is_empty()
        || name.starts_with('.')
        || name.len() > 200
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(ApiError::bad_request(format!(
            "filename {:?}: a file name of letters, digits, '.', '-' and '_' (e.g. known_exploited_vulnerabilities.json)",
            query.filename
        )));
    }
    let dir = tempfile::tempdir().map_err(ApiError::internal)?;
    let path = dir.path().join(name);
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("the upload broke off: {e}")))?;
        size += chunk.len() as u64;
        if size > MAX_IMPORT {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "imports over HTTP are limited to {MAX_IMPORT} bytes: use `ward db import` on the server"
                ),
            ));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    drop(file);
    if size == 0 {
        return Err(ApiError::bad_request(format!(
            "{name}: the upload is empty"
        )));
    }
    // Messages name the uploaded file, not the temporary folder.
    let prefix = format!("{}/", dir.path().display());
    let mut warnings = Vec::new();
    let summary = import::import_paths(
        &state.store,
        vec![path],
        query.strict,
        &|_| {},
        &mut warnings,
    )
    .await
    .map_err(|e| ApiError::bad_request(e.to_string().replace(&prefix, "")))?;
    let mut summary = serde_json::to_value(&summary).expect("serialisable");
    if let Some(errors) = summary["errors"].as_array_mut() {
        for e in errors {
            *e = Value::String(e.as_str().unwrap_or_default().replace(&prefix, ""));
        }
    }
    summary["warning_messages"] = warnings
        .iter()
        .take(100)
        .map(|w| Value::String(w.to_string().replace(&prefix, "")))
        .collect();
    state
        .store
        .audit(&who.actor(), "knowledge.import", name, &summary)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"import": summary}))))
}

#[derive(Deserialize)]
struct ReportQuery {
    organisation: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// JSON `{key: rows}`, or the rows as CSV (a header line from the field names).
fn report<T: serde::Serialize>(key: &str, rows: &[T], format: Option<&str>) -> ApiResult<Response> {
    match format.unwrap_or("json") {
        "json" => Ok(Json(json!({ key: rows })).into_response()),
        "csv" => {
            let mut w = csv::Writer::from_writer(Vec::new());
            for row in rows {
                w.serialize(row)
                    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            let mut r = bytes.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            Ok(r)
        }
        other => Err(ApiError::bad_request(format!(
            "format: {other:?}: json or csv"
        ))),
    }
}

/// `GET /api/v1/compliance/alerts`: per vulnerability alert, how many members acknowledged and
/// remediated within their deadlines.
async fn compliance_alerts(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let org = scope(&state, &who, q.organisation.as_deref()).await?;
    report(
        "alerts",
        &state.store.alert_compliance(org).await?,
        q.format.as_deref(),
    )
}

/// `GET /api/v1/compliance/members`: each member's scorecard by month.
async fn compliance_members(
    State(state): State<Arc<AppState>>,
    Auth(who): Auth,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let org = scope(&state, &who, q.organisation.as_deref()).await?;
    report(
        "members",
        &state.store.member_scorecards(org).await?,
        q.format.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

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
