//! The central team's pages: the dashboard, members' scorecards, the audit log.

use super::*;

#[derive(Template)]
#[template(path = "dashboard.html")]
pub(super) struct DashboardPage {
    nav: Nav,
    /// Open vulnerability alerts by priority.
    by_priority: Vec<(String, usize)>,
    open_alerts: usize,
    /// Members with open alerts about KEV-listed vulnerabilities, and which.
    kev_members: Vec<(String, Vec<String>)>,
    breaches: Vec<AlertView>,
    chart: Chart,
    /// Incidents not closed (nor false positives), least advanced first.
    compromise: Vec<AlertView>,
    /// How many incidents are in each unresolved state.
    incident_states: Vec<(String, usize)>,
}

/// A line chart drawn as SVG on the server (no script, no inline style).
pub(super) struct Chart {
    points: String,
    max: usize,
    first: String,
    last: String,
    latest: usize,
    /// Day and value, for the table that the chart summarises (screen readers).
    days: Vec<(String, usize)>,
}

pub(super) const CHART_W: f64 = 600.0;
pub(super) const CHART_H: f64 = 160.0;

/// Open exposure on each of the last 30 days: vulnerability alerts raised by the end of the day
/// and not resolved by then.
pub(super) fn trend(alerts: &[AlertRow], now: DateTime<Utc>) -> Chart {
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
                .filter(|a| a.kind == AlertKind::Vulnerability)
                .filter(|a| a.created_at <= end)
                .filter(|a| a.resolved_at.is_none_or(|r| r > end))
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

pub(super) async fn dashboard(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    if !session.who.role.is_central() {
        return Err(forbidden("see the federation's dashboard"));
    }
    let now = Utc::now();
    let alerts = state.store.alerts(session.scope()).await?;
    let open: Vec<&AlertRow> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Vulnerability && !a.state.is_resolved())
        .collect();
    // Most urgent first; issued alerts not yet confirmed by an inventory have no priority.
    let mut by_priority: BTreeMap<Option<Priority>, usize> = BTreeMap::new();
    for a in &open {
        *by_priority.entry(a.priority).or_default() += 1;
    }
    let by_priority: Vec<(String, usize)> = by_priority
        .iter()
        .filter(|(p, _)| p.is_some())
        .chain(by_priority.iter().filter(|(p, _)| p.is_none()))
        .map(|(p, n)| (p.map_or("unconfirmed", Priority::as_str).to_owned(), *n))
        .collect();
    // Exposure is a fact about inventories, not about the state of an alert: a member that
    // accepted the risk still runs the vulnerable version (before, accepting made it vanish
    // from this card while its KEV-listed findings stayed open).
    let exposed: Vec<&AlertRow> = alerts
        .iter()
        .filter(|a| {
            a.kind == AlertKind::Vulnerability
                && a.exposure == Some(AlertExposure::Affected)
                && matches!(
                    a.state,
                    AlertState::Open | AlertState::Acknowledged | AlertState::RiskAccepted
                )
        })
        .collect();
    let subjects: Vec<String> = exposed
        .iter()
        .map(|a| a.subject.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let listed = state.store.kev_listed(&subjects).await?;
    let mut kev_members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in &exposed {
        if listed.contains(&a.subject) {
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
    // Incidents not yet closed, the least advanced first (open before triaged …).
    let mut incidents: Vec<&AlertRow> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::PossibleCompromise && !a.state.is_resolved())
        .collect();
    incidents.sort_by_key(|a| (a.state, a.acknowledge_by));
    let mut incident_states: BTreeMap<AlertState, usize> = BTreeMap::new();
    for a in &incidents {
        *incident_states.entry(a.state).or_default() += 1;
    }
    let compromise = incidents.iter().map(|a| AlertView::new(a, now)).collect();
    Ok(html(&DashboardPage {
        nav: session.nav(&state, "dashboard").await?,
        by_priority,
        open_alerts: open.len(),
        kev_members: kev_members.into_iter().collect(),
        breaches,
        chart: trend(&alerts, now),
        compromise,
        incident_states: incident_states
            .into_iter()
            .map(|(s, n)| (s.as_str().to_owned(), n))
            .collect(),
    }))
}

#[derive(Template)]
#[template(path = "members.html")]
pub(super) struct MembersPage {
    nav: Nav,
    members: Vec<MemberView>,
}

pub(super) struct MemberView {
    slug: String,
    name: String,
    open: i64,
    late: i64,
    months: Vec<ward_store::MemberScore>,
}

pub(super) async fn members(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    if !session.who.role.is_central() {
        return Err(forbidden("see the members' scorecards"));
    }
    // The card and the table count with the same definitions (`ward_store::AlertCounts`):
    // the card is the sum of the member's months, as the CSV's rows are.
    let scores = state.store.member_scorecards(session.scope()).await?;
    let members = state
        .store
        .organisations()
        .await?
        .into_iter()
        .filter(|o| !o.central)
        .map(|o| {
            let months: Vec<ward_store::MemberScore> = scores
                .iter()
                .filter(|s| s.organisation == o.slug)
                .cloned()
                .collect();
            let total = ward_store::AlertCounts::sum(
                &months.iter().map(|m| m.counts()).collect::<Vec<_>>(),
            );
            MemberView {
                open: total.still_open,
                late: total.late,
                months,
                slug: o.slug,
                name: o.name,
            }
        })
        .collect();
    Ok(html(&MembersPage {
        nav: session.nav(&state, "members").await?,
        members,
    }))
}

#[derive(Template)]
#[template(path = "audit.html")]
pub(super) struct AuditPage {
    nav: Nav,
    entries: Vec<ward_store::AuditEntry>,
    total: usize,
    intact: bool,
    problems: Vec<String>,
}

pub(super) async fn audit(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    if session.who.role != Role::CentralAdmin {
        return Err(forbidden("read the audit log"));
    }
    let mut entries = state.store.audit_log(session.scope()).await?;
    let verdict = state.store.verify_audit().await?;
    let total = entries.len();
    entries.reverse();
    entries.truncate(300);
    Ok(html(&AuditPage {
        nav: session.nav(&state, "audit").await?,
        entries,
        total,
        intact: verdict.problems.is_empty(),
        problems: verdict.problems,
    }))
}

#[derive(Template)]
#[template(path = "sources.html")]
pub(super) struct SourcesPage {
    nav: Nav,
    feeds: Vec<crate::feeds::FeedStatus>,
    /// This server follows feeds (`ward serve --feeds`).
    following: bool,
}

/// The central team's view of the knowledge's freshness: each feed source's last success,
/// lag, last error and next run.
pub(super) async fn sources(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    if !session.who.role.is_central() {
        return Err(forbidden("see the feeds' status"));
    }
    let states = state.store.feed_states().await?;
    Ok(html(&SourcesPage {
        nav: session.nav(&state, "sources").await?,
        feeds: crate::feeds::statuses(states, state.feeds.as_ref(), Utc::now()),
        following: state.feeds.is_some(),
    }))
}
