//! Alerts: the lists, one alert and its actions, and issuing an alert.

use super::*;

#[derive(Template)]
#[template(path = "alerts.html")]
pub(super) struct AlertsPage {
    nav: Nav,
    /// Central: one row per subject with counts; members: their own alerts.
    subjects: Vec<SubjectRow>,
    alerts: Vec<AlertView>,
}

pub(super) struct SubjectRow {
    subject: String,
    title: String,
    members: usize,
    open: usize,
    acknowledged: usize,
    closed: usize,
    late: usize,
}

pub(super) async fn alerts(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
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
        nav: session.nav(&state, "alerts").await?,
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
pub(super) struct AlertSubjectPage {
    nav: Nav,
    subject: String,
    title: String,
    alerts: Vec<AlertView>,
    acknowledged: usize,
    remediated: usize,
}

/// The central team's page of one issued (or raised) alert: every member's state and timers.
pub(super) async fn alert_subject(
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
        .alerts_about(session.scope(), &subject)
        .await?
        .iter()
        .map(|a| AlertView::new(a, now))
        .collect();
    if alerts.is_empty() {
        return Err(not_found("alert"));
    }
    Ok(html(&AlertSubjectPage {
        nav: session.nav(&state, "alerts").await?,
        title: alerts[0].title.clone(),
        acknowledged: alerts.iter().filter(|a| a.state != "open").count(),
        remediated: alerts.iter().filter(|a| a.state == "remediated").count(),
        subject,
        alerts,
    }))
}

#[derive(Template)]
#[template(path = "alert.html")]
pub(super) struct AlertPage {
    nav: Nav,
    alert: AlertView,
    findings: Vec<FindingView>,
    can_act: bool,
    /// VEX justifications: (code, words).
    justifications: Vec<(&'static str, &'static str)>,
    error: String,
    /// What the knowledge base says of the vulnerability (vulnerability alerts).
    summary: Option<crate::summary::VulnerabilitySummary>,
}

pub(super) async fn alert_view(
    state: &AppState,
    session: &Session,
    alert: AlertRow,
    error: String,
) -> Result<AlertPage, PageError> {
    let scope = session
        .scope()
        .within(alert.organisation_id)
        .ok_or_else(|| not_found("alert"))?;
    let (findings, _) = state
        .store
        .findings(&ward_store::FindingQuery {
            vulnerability: Some(alert.subject.clone()),
            limit: 500,
            ..ward_store::FindingQuery::new(scope)
        })
        .await?;
    let role = session.who.role;
    let summary = if alert.kind == AlertKind::Vulnerability {
        crate::summary::load(&state.store, &alert.subject).await?
    } else {
        None
    };
    Ok(AlertPage {
        nav: session.nav(state, "alerts").await?,
        alert: AlertView::new(&alert, Utc::now()),
        findings: findings.iter().map(FindingView::new).collect(),
        can_act: role.can_write() && role != Role::CentralAnalyst,
        justifications: ward_store::VEX_JUSTIFICATIONS
            .iter()
            .map(|j| (*j, vex_words(j)))
            .collect(),
        error,
        summary,
    })
}

/// An alert's page: a vulnerability alert, or an incident (a possible compromise).
async fn page(
    state: &AppState,
    session: &Session,
    id: AlertId,
    error: String,
) -> Result<Response, PageError> {
    let alert = state
        .store
        .alert(session.scope(), id)
        .await?
        .ok_or_else(|| not_found("alert"))?;
    if alert.kind == AlertKind::PossibleCompromise {
        let detail = crate::api::incidents::detail(state, &session.who, alert).await?;
        return Ok(html(&super::incidents::incident_page(
            session.nav(state, "alerts").await?,
            &detail,
            session.who.role,
            error,
        )));
    }
    Ok(html(&alert_view(state, session, alert, error).await?))
}

pub(super) async fn alert_page(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<AlertId>,
) -> PageResult {
    page(&state, &session, id, String::new()).await
}

#[derive(Deserialize)]
pub(super) struct ActionForm {
    csrf: String,
    action: String,
    justification: Option<String>,
    /// A date (`2026-12-31`) or an RFC 3339 time.
    until: Option<String>,
}

pub(super) async fn alert_action(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<AlertId>,
    axum::Form(form): axum::Form<ActionForm>,
) -> PageResult {
    session.check(&form.csrf)?;
    // A date input sends `YYYY-MM-DD`: the acceptance runs to the end of that day (UTC).
    let until = form.until.as_deref().map(str::trim).map(|u| {
        if u.len() == 10 {
            format!("{u}T23:59:59Z")
        } else {
            u.to_owned()
        }
    });
    let justification = form.justification.filter(|j| !j.trim().is_empty());
    let result = crate::app::act_on_alert(
        &state,
        &session.who,
        id,
        &form.action,
        justification,
        until.as_deref(),
    )
    .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/alerts/{id}"))),
        Err(e) if matches!(e.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) => {
            Err(PageError(e))
        }
        Err(e) => {
            // The page again, with what went wrong next to the forms.
            let status = e.status;
            let mut r = page(&state, &session, id, e.message).await?;
            *r.status_mut() = status;
            Ok(r)
        }
    }
}

#[derive(Template)]
#[template(path = "issue.html")]
pub(super) struct IssuePage {
    nav: Nav,
    vulnerabilities: String,
    note: String,
    preview: Vec<PreviewRow>,
    error: String,
}

pub(super) struct PreviewRow {
    vulnerability: String,
    affected: Vec<String>,
    confirm: Vec<String>,
    not_affected: Vec<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct IssueQuery {
    #[serde(default)]
    vulnerabilities: String,
    #[serde(default)]
    note: String,
}

/// CVE ids from what was typed: separated by spaces, commas or new lines; upper-cased.
pub(super) fn cve_list(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    out.dedup();
    out
}

pub(super) fn preview_rows(preview: Vec<crate::app::IssuePreview>) -> Vec<PreviewRow> {
    preview
        .into_iter()
        .map(|p| PreviewRow {
            vulnerability: p.vulnerability,
            affected: p.affected,
            confirm: p.confirm_exposure,
            not_affected: p.not_affected,
        })
        .collect()
}

/// Find the CVEs and preview who the alert would reach (nothing is sent by a GET).
pub(super) async fn issue_form(
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
        match crate::app::plan_issue(&state, &session.who, &vulns).await {
            Ok((_, preview)) => (preview_rows(preview), String::new()),
            Err(e) => (Vec::new(), e.message),
        }
    };
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut r = html(&IssuePage {
        nav: session.nav(&state, "issue").await?,
        vulnerabilities: vulns.join(" "),
        note: q.note,
        preview,
        error,
    });
    *r.status_mut() = status;
    Ok(r)
}

#[derive(Deserialize)]
pub(super) struct IssueForm {
    csrf: String,
    vulnerabilities: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn issue(
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
    let (targets, _) = crate::app::plan_issue(&state, &session.who, &vulns).await?;
    let note = Some(form.note.trim()).filter(|n| !n.is_empty());
    state
        .store
        .issue_alerts(&session.who.actor(), session.scope(), &targets, note)
        .await?;
    Ok(see_other(&format!(
        "/alerts/cve/{}",
        percent_encode(&vulns[0])
    )))
}
