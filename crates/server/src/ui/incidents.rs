//! Incidents (a possible-compromise alert with its sightings and its own lifecycle) and the
//! campaign view (per thing sighted, the members that sighted it and their incidents).

use super::*;
use crate::api::incidents::{IncidentDetail, SightingSummary};

#[derive(Template)]
#[template(path = "incident.html")]
pub(super) struct IncidentPage {
    nav: Nav,
    alert: AlertView,
    /// The rule's or indicator's title, without "Possible compromise: ".
    name: String,
    level: String,
    link: String,
    tags: Vec<String>,
    vulnerabilities: Vec<String>,
    confirmed_at: String,
    summary: SightingSummary,
    sightings: Vec<SightingView>,
    can_act: bool,
    error: String,
}

pub(super) struct SightingView {
    seen: String,
    source: String,
    place: String,
    asset: String,
    matched: String,
    excerpt: String,
    line_sha256: String,
    count: i64,
}

impl SightingView {
    fn new(s: &ward_store::SightingRow) -> Self {
        let matched = s.payload["x_ward_matched"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|x| {
                        Some(format!(
                            "{}={}",
                            x["field"].as_str()?,
                            x["value"].as_str()?.chars().take(200).collect::<String>()
                        ))
                    })
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .unwrap_or_default();
        Self {
            seen: if s.first_seen == s.last_seen {
                s.first_seen.clone()
            } else {
                format!("{} – {}", s.first_seen, s.last_seen)
            },
            source: s.source.clone().unwrap_or_default(),
            place: match (&s.file, s.line) {
                (Some(f), Some(l)) => format!("{f}:{l}"),
                (Some(f), None) => f.clone(),
                _ => String::new(),
            },
            asset: s.asset.clone().unwrap_or_default(),
            matched,
            excerpt: s.excerpt.clone().unwrap_or_default(),
            line_sha256: s.line_sha256.clone().unwrap_or_default(),
            count: s.count,
        }
    }
}

pub(super) fn incident_page(
    nav: Nav,
    detail: &IncidentDetail,
    role: Role,
    error: String,
) -> IncidentPage {
    let a = &detail.incident;
    IncidentPage {
        nav,
        alert: AlertView::new(a, Utc::now()),
        name: a
            .title
            .strip_prefix("Possible compromise: ")
            .unwrap_or(&a.title)
            .to_owned(),
        level: a.level.clone().unwrap_or_else(|| "high".into()),
        link: a.link.clone().unwrap_or_default(),
        tags: a.tags.clone(),
        vulnerabilities: a.vulnerabilities.clone(),
        confirmed_at: when_at(a.confirmed_at),
        summary: detail.summary.clone(),
        sightings: detail.sightings.iter().map(SightingView::new).collect(),
        can_act: role.can_write() && role != Role::CentralAnalyst,
        error,
    }
}

#[derive(Template)]
#[template(path = "campaigns.html")]
pub(super) struct CampaignsPage {
    nav: Nav,
    central: bool,
    campaigns: Vec<ward_store::Campaign>,
}

pub(super) async fn campaigns(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    let campaigns = state.store.campaigns(session.scope()).await?;
    Ok(html(&CampaignsPage {
        nav: session.nav(&state, "campaigns").await?,
        central: session.who.role.is_central(),
        campaigns,
    }))
}

/// A state for people.
pub(super) fn state_words(state: &Option<AlertState>) -> &'static str {
    match state {
        None => "no incident",
        Some(AlertState::Open) => "open (not triaged)",
        Some(AlertState::Triaged) => "triaged",
        Some(AlertState::Confirmed) => "confirmed compromise",
        Some(AlertState::Contained) => "contained",
        Some(AlertState::Closed) => "closed",
        Some(AlertState::FalsePositive) => "false positive",
        Some(other) => other.as_str(),
    }
}
