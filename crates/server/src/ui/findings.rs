//! The worklist and one finding.

use super::*;

#[derive(Template)]
#[template(path = "worklist.html")]
pub(super) struct WorklistPage {
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
    resolved: bool,
}

#[derive(Deserialize, Default)]
pub(super) struct WorklistQuery {
    #[serde(default)]
    search: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    page: Option<i64>,
    /// Include resolved findings (`true`).
    #[serde(default)]
    resolved: Option<String>,
}

pub(super) const PAGE: i64 = 50;

pub(super) fn query_string(pairs: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    encoded.join("&")
}

pub(super) async fn worklist(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(q): Query<WorklistQuery>,
) -> PageResult {
    let scope = if session.who.role.is_central() && !q.organisation.is_empty() {
        crate::auth::request_scope(&state, &session.who, Some(&q.organisation)).await?
    } else {
        session.scope()
    };
    let priority = Some(q.priority.clone())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<Priority>())
        .transpose()
        .map_err(|e: String| PageError(ApiError::bad_request(format!("priority: {e}"))))?;
    let page = q.page.unwrap_or(1).max(1);
    let resolved = q
        .resolved
        .as_deref()
        .is_some_and(|r| r == "true" || r == "on");
    let (rows, total) = state
        .store
        .findings(&ward_store::FindingQuery {
            resolved,
            priority,
            search: Some(q.search.clone()),
            limit: PAGE,
            offset: (page - 1) * PAGE,
            ..ward_store::FindingQuery::new(scope)
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
                ("resolved", if resolved { "true" } else { "" }),
                ("page", &p),
            ])
        )
    };
    let organisations = member_choices(&state, &session).await?;
    Ok(html(&WorklistPage {
        nav: session.nav(&state, "worklist").await?,
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
        resolved,
    }))
}

#[derive(Template)]
#[template(path = "finding.html")]
pub(super) struct FindingPage {
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
    alert: Option<AlertId>,
    /// "" while open; else when and why it was resolved.
    resolved_at: String,
    resolution_reason: String,
    summary: Option<crate::summary::VulnerabilitySummary>,
}

pub(super) fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The named fields of each object of a JSON array, as text.
pub(super) fn rows(v: &Value, fields: &[&str]) -> Vec<Vec<String>> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|o| fields.iter().map(|f| text(&o[*f])).collect())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default()
}

pub(super) async fn finding_page(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<FindingId>,
) -> PageResult {
    let row = state
        .store
        .finding(session.scope(), id)
        .await?
        .ok_or_else(|| not_found("finding"))?;
    let p = &row.finding;
    let e = &p["explanation"];
    let scope = session
        .scope()
        .within(row.organisation_id)
        .ok_or_else(|| not_found("finding"))?;
    let alert = state
        .store
        .alerts(scope)
        .await?
        .into_iter()
        .find(|a| a.kind == AlertKind::Vulnerability && a.subject == row.vulnerability)
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
    let summary = crate::summary::load(&state.store, &row.vulnerability).await?;
    let resolution_reason = match (row.resolution.as_deref(), &row.resolution_reason) {
        (_, Some(r)) => r.clone(),
        (Some("inventory"), None) => "an uploaded inventory no longer has it".to_owned(),
        _ => "no longer reported".to_owned(),
    };
    Ok(html(&FindingPage {
        resolved_at: row
            .resolved_at
            .map(|t| when_at(Some(t)))
            .unwrap_or_default(),
        resolution_reason,
        summary,
        nav: session.nav(&state, "worklist").await?,
        f: FindingView::new(&row),
        first_seen: when_at(Some(row.first_seen)),
        acknowledge_by: when(p["deadlines"]["acknowledge_by"].as_str()),
        why_matched: format!(
            "{} matches {} ({})",
            row.component,
            text(&e["criterion"]),
            text(&e["range"])
        ),
        source: text(&e["source"]),
        // In words ("record's default only", "disputed: confirm"), as the CLI's table says it.
        confidence: serde_json::from_value::<ward_model::Confidence>(p["confidence"].clone())
            .map(|c| c.words().to_owned())
            .unwrap_or_else(|_| text(&p["confidence"])),
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
