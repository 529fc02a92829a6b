//! Signing in and out, and the first page after.

use super::*;

#[derive(Template)]
#[template(path = "login.html")]
pub(super) struct LoginPage {
    email: String,
    error: String,
}

pub(super) async fn login_form() -> Response {
    html(&LoginPage {
        email: String::new(),
        error: String::new(),
    })
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    email: String,
    password: String,
}

/// Whether a form post comes from another site. Browsers say where a request comes from in
/// `Sec-Fetch-Site` (only `same-origin` and `none`, typed or bookmarked, pass); an older one
/// only in `Origin`, which must name the host the post was sent to (Ward's pages send no
/// referrer, so a browser may send `Origin: null` for its own form: then only
/// `Sec-Fetch-Site` can vouch). A client that sends neither (curl, a script) is not a browser
/// another site can drive.
pub(super) fn cross_site(headers: &axum::http::HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    match headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("?"))
    {
        Some(origin) => {
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            authority != Some(host) || host.is_empty()
        }
        None => false,
    }
}

pub(super) async fn login(
    State(state): State<Arc<AppState>>,
    axum::extract::ConnectInfo(addr): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> PageResult {
    // Login CSRF: another site must not sign a victim's browser in to the attacker's account.
    if cross_site(&headers) {
        let mut r = html(&LoginPage {
            email: String::new(),
            error: "This sign-in form was sent from another site; open Ward's own page to sign in."
                .to_owned(),
        });
        *r.status_mut() = StatusCode::FORBIDDEN;
        return Ok(r);
    }
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
                HeaderValue::from_str(&session_cookie(&session.secret)).expect("hex and ASCII"),
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

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn cross_site_posts_are_told_apart() {
        let cross = |p: &[(&str, &str)]| super::cross_site(&headers(p));
        assert!(!cross(&[
            ("host", "ward.example"),
            ("origin", "https://ward.example")
        ]));
        assert!(!cross(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ]));
        assert!(cross(&[
            ("host", "ward.example"),
            ("origin", "https://evil.example")
        ]));
        assert!(cross(&[
            ("host", "ward.example"),
            ("origin", "https://ward.example.evil")
        ]));
        assert!(cross(&[("host", "ward.example"), ("origin", "null")]));
        assert!(cross(&[
            ("host", "ward.example"),
            ("sec-fetch-site", "cross-site")
        ]));
        assert!(!cross(&[
            ("host", "ward.example"),
            ("sec-fetch-site", "same-origin")
        ]));
        assert!(!cross(&[("host", "ward.example")]));
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

pub(super) async fn logout(
    State(state): State<Arc<AppState>>,
    session: Session,
    axum::Form(form): axum::Form<CsrfForm>,
) -> PageResult {
    session.check(&form.csrf)?;
    state.store.logout(&session.secret).await?;
    let mut r = see_other("/login");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(CLEAR_SESSION_COOKIE),
    );
    Ok(r)
}

#[derive(Template)]
#[template(path = "member_home.html")]
pub(super) struct MemberHome {
    nav: Nav,
    /// Open alerts: overdue first, then by the acknowledgement deadline.
    awaiting_ack: Vec<AlertView>,
    /// Acknowledged alerts: by the remediation deadline.
    awaiting_rem: Vec<AlertView>,
    compromises: Vec<AlertView>,
    overdue: usize,
    findings: Vec<FindingView>,
    /// Assets declared small or controlled that internet scanners saw answering.
    contradictions: Vec<ward_store::Contradiction>,
}

/// The first page: the central team's dashboard, or for a member what is asked of it —
/// alerts awaiting acknowledgement (overdue first, with the central team's note and a
/// countdown), then awaiting remediation, then possible compromises, then the worklist.
pub(super) async fn home(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    if session.who.role.is_central() {
        return Ok(see_other("/dashboard"));
    }
    let now = Utc::now();
    let mut alerts: Vec<AlertRow> = state
        .store
        .alerts(session.scope())
        .await?
        .into_iter()
        .filter(|a| !a.state.is_resolved())
        .collect();
    let overdue_at = |a: &AlertRow| {
        let ack = a.acknowledged_at.is_none() && a.acknowledge_by.is_some_and(|d| d < now);
        let rem = a.remediate_by.is_some_and(|d| d < now);
        ack || rem
    };
    // Overdue first, then the nearest deadline (none last).
    alerts.sort_by_key(|a| {
        let deadline = if a.state == AlertState::Open {
            a.acknowledge_by
        } else {
            a.remediate_by
        };
        (!overdue_at(a), deadline.is_none(), deadline, a.id)
    });
    let overdue = alerts.iter().filter(|a| overdue_at(a)).count();
    let (compromises, vulnerabilities): (Vec<&AlertRow>, Vec<&AlertRow>) = alerts
        .iter()
        .partition(|a| a.kind == AlertKind::PossibleCompromise);
    let view = |a: &&AlertRow| AlertView::new(a, now);
    let (findings, _) = state
        .store
        .findings(&ward_store::FindingQuery {
            limit: 10,
            ..ward_store::FindingQuery::new(session.scope())
        })
        .await?;
    Ok(html(&MemberHome {
        nav: session.nav(&state, "home").await?,
        awaiting_ack: vulnerabilities
            .iter()
            .filter(|a| a.state == AlertState::Open)
            .map(view)
            .collect(),
        awaiting_rem: vulnerabilities
            .iter()
            .filter(|a| a.state == AlertState::Acknowledged)
            .map(view)
            .collect(),
        compromises: compromises.iter().map(view).collect(),
        overdue,
        findings: findings.iter().map(FindingView::new).collect(),
        contradictions: state.store.contradictions(session.scope()).await?,
    }))
}
