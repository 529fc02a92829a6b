//! VEX statements: the central team's (conditions, mitigations, recommended deadlines) and a
//! member's own, listed with who said what and when; published and revoked through forms; the
//! organisation's decisions downloadable as OpenVEX, CycloneDX or CSAF.

use super::*;

use ward_model::VexStatus;

#[derive(Template)]
#[template(path = "statements.html")]
pub(super) struct StatementsPage {
    nav: Nav,
    statements: Vec<StatementView>,
    /// VEX justifications: (code, words).
    justifications: Vec<(&'static str, &'static str)>,
    error: String,
}

pub(super) struct StatementView {
    id: String,
    vulnerability: String,
    /// `central` (every member, or one), or the member's own.
    from: String,
    status: &'static str,
    justification: String,
    condition: String,
    action: String,
    products: String,
    remediate_by: String,
    references: Vec<String>,
    version: i64,
    created: String,
    revoked: String,
    can_revoke: bool,
}

fn view(r: &ward_store::StatementRow, who: &Principal) -> StatementView {
    let s = &r.statement;
    let from = match (&r.organisation, r.origin.as_str()) {
        (None, _) => "central team, to every member".to_owned(),
        (Some(o), "central") => format!("central team, to {o}"),
        (Some(o), _) => format!("{o} ({})", s.author.as_deref().unwrap_or("uploaded")),
    };
    let products: Vec<String> = s
        .products
        .iter()
        .chain(&s.subcomponents)
        .map(|p| {
            p.purl
                .clone()
                .or_else(|| p.cpe.clone())
                .unwrap_or_else(|| p.id.clone())
        })
        .collect();
    StatementView {
        id: r.id.to_string(),
        vulnerability: r.vulnerability.clone(),
        from,
        status: match s.status {
            VexStatus::NotAffected => "not affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under investigation",
        },
        justification: s.justification.clone().unwrap_or_default(),
        condition: s.impact.clone().unwrap_or_default(),
        action: s.action.clone().unwrap_or_default(),
        products: if products.is_empty() {
            "every product it is found in".into()
        } else {
            products.join(", ")
        },
        remediate_by: r
            .remediate_by
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        references: r.references.clone(),
        version: r.version,
        created: format!(
            "{} by {}",
            r.created_at.format("%Y-%m-%d %H:%M"),
            r.created_by
        ),
        revoked: r
            .revoked_at
            .map(|t| {
                format!(
                    "{} by {}",
                    t.format("%Y-%m-%d %H:%M"),
                    r.revoked_by.clone().unwrap_or_default()
                )
            })
            .unwrap_or_default(),
        can_revoke: r.revoked_at.is_none()
            && who.role.can_write()
            && (who.role.is_central() || (r.organisation.is_some() && r.origin != "central")),
    }
}

async fn page(state: &AppState, session: &Session, error: String) -> PageResult {
    let rows = state.store.statements(session.scope(), true).await?;
    Ok(html(&StatementsPage {
        nav: session.nav(state, "statements").await?,
        statements: rows.iter().rev().map(|r| view(r, &session.who)).collect(),
        justifications: ward_store::VEX_JUSTIFICATIONS
            .iter()
            .map(|j| (*j, vex_words(j)))
            .collect(),
        error,
    }))
}

pub(super) async fn statements(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    page(&state, &session, String::new()).await
}

#[derive(Deserialize)]
pub(super) struct StatementForm {
    csrf: String,
    /// `publish` or `revoke`.
    action: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    vulnerability: String,
    #[serde(default)]
    products: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    justification: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    remedy: String,
    #[serde(default)]
    remedy_category: String,
    #[serde(default)]
    remediate_by: String,
    #[serde(default)]
    references: String,
    #[serde(default)]
    organisation: String,
}

pub(super) async fn statements_action(
    State(state): State<Arc<AppState>>,
    session: Session,
    axum::Form(form): axum::Form<StatementForm>,
) -> PageResult {
    session.check(&form.csrf)?;
    let outcome = match form.action.as_str() {
        "revoke" => match form.id.trim().parse::<ward_store::StatementId>() {
            Ok(id) => crate::api::vex::revoke_statement(&state, &session.who, id)
                .await
                .map(|_| ()),
            Err(e) => Err(ApiError::bad_request(e)),
        },
        "publish" => {
            let status = match form.status.as_str() {
                "not_affected" => VexStatus::NotAffected,
                "affected" => VexStatus::Affected,
                "fixed" => VexStatus::Fixed,
                "under_investigation" => VexStatus::UnderInvestigation,
                other => {
                    return page(
                        &state,
                        &session,
                        format!("status: {other:?} is not a VEX status"),
                    )
                    .await;
                }
            };
            let remediate_by = match form.remediate_by.trim() {
                "" => None,
                d => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                    Ok(d) => d.and_hms_opt(17, 0, 0).map(|t| t.and_utc()),
                    Err(_) => {
                        return page(
                            &state,
                            &session,
                            format!("recommended deadline: {d:?} is not a date"),
                        )
                        .await;
                    }
                },
            };
            let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
            let body = crate::api::vex::StatementBody {
                vulnerability: form.vulnerability.trim().to_owned(),
                products: form
                    .products
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                status,
                justification: text(&form.justification),
                impact: text(&form.condition),
                action: text(&form.remedy),
                action_category: text(&form.remedy_category),
                remediate_by,
                references: form
                    .references
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                supersedes: None,
                organisation: text(&form.organisation),
            };
            crate::api::vex::publish_statement(&state, &session.who, body)
                .await
                .map(|_| ())
        }
        other => Err(ApiError::bad_request(format!("unknown action {other:?}"))),
    };
    match outcome {
        Ok(()) => Ok(see_other("/statements")),
        // A refusal for the role is a refusal; a mistake in the form is shown on the form.
        Err(e) if e.status == StatusCode::FORBIDDEN || e.status == StatusCode::NOT_FOUND => {
            Err(PageError(e))
        }
        Err(e) => page(&state, &session, e.message).await,
    }
}
