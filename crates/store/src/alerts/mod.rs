//! Vulnerability alerts: one per (organisation, vulnerability), raised when a finding reaches
//! the policy's threshold or issued by the central team, with deadlines, a lifecycle
//! (open → acknowledged → remediated | risk-accepted | not-affected), reopening, and escalation
//! of missed deadlines. Every change is audited in its own transaction.

mod compliance;
mod deadlines;
pub(crate) mod sync;

pub use compliance::{AlertCompliance, AlertCounts, MemberScore};
pub use deadlines::TickOutcome;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;

use crate::audit::now;
use crate::rows::{parse, parse_optional, time, time_optional};
use crate::{AlertId, OrgId, Result, Scope, Store, StoreError};
use sync::{alert_by_id, alert_by_subject, audited, open_findings, value};
use ward_model::{
    AlertAction, AlertExposure, AlertKind, AlertOrigin, AlertState, Priority, Resolution,
};

/// The CSAF 2.0 / OpenVEX justifications for "not affected".
pub const VEX_JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// What a member (or the central team for them) does with an alert.
#[derive(Debug, Clone)]
pub enum Transition {
    Acknowledge,
    /// A confirm-exposure alert answered "we run it" (with the version, as the member says
    /// it): acknowledged, the answer kept for the central team.
    Running {
        version: String,
    },
    Remediate,
    /// The record's fix is not a release (a hot-fix package): the member says it is
    /// installed, naming it. Remediated by statement although the version is unchanged; the
    /// answer is kept, and later uploads of the same release do not reopen it.
    FixInstalled {
        fix: String,
    },
    AcceptRisk {
        justification: String,
        until: DateTime<Utc>,
    },
    NotAffected {
        justification: String,
    },
    /// Incidents: someone is looking at it.
    Triage,
    /// Incidents: it is a compromise.
    Confirm,
    /// Incidents: the compromise is contained.
    Contain,
    /// Incidents: over (with what was done, if said).
    Close {
        reason: Option<String>,
    },
    /// Incidents: not an attack, and why.
    FalsePositive {
        reason: String,
    },
}

impl Transition {
    /// The action, without its particulars.
    pub fn action(&self) -> AlertAction {
        match self {
            Self::Acknowledge | Self::Running { .. } => AlertAction::Acknowledge,
            Self::Remediate | Self::FixInstalled { .. } => AlertAction::Remediate,
            Self::AcceptRisk { .. } => AlertAction::AcceptRisk,
            Self::NotAffected { .. } => AlertAction::NotAffected,
            Self::Triage => AlertAction::Triage,
            Self::Confirm => AlertAction::Confirm,
            Self::Contain => AlertAction::Contain,
            Self::Close { .. } => AlertAction::Close,
            Self::FalsePositive { .. } => AlertAction::FalsePositive,
        }
    }
}

/// How a "fix installed" answer starts (`answer` column): sync leaves such an alert closed
/// while the findings it answered stay.
pub(crate) const FIX_INSTALLED: &str = "fix installed: ";

/// One member to alert about one vulnerability, as the central team's plan says.
#[derive(Debug, Clone)]
pub struct IssueTarget {
    pub organisation_id: OrgId,
    pub vulnerability: String,
    pub title: String,
    pub exposure: AlertExposure,
    pub priority: Option<Priority>,
    pub acknowledge_by: Option<String>,
    pub remediate_by: Option<String>,
    /// CVSS words (`critical`, `high`, …) from the knowledge base.
    pub severity: Option<String>,
}

/// An alert to one organisation, as stored: what it is about, how far it has got, its
/// deadlines and who was told what.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AlertRow {
    pub id: AlertId,
    /// The organisation's internal id (what the store's queries filter on).
    #[serde(skip)]
    pub organisation_id: OrgId,
    pub organisation: String,
    /// The organisation's name, for people.
    pub organisation_name: String,
    pub kind: AlertKind,
    /// The CVE, or what was sighted.
    pub subject: String,
    pub title: String,
    pub level: Option<String>,
    pub state: AlertState,
    /// Findings or sightings behind it.
    pub evidence: i64,
    #[serde(with = "ward_model::timestamp::millis")]
    #[schemars(with = "String")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ward_model::timestamp::millis")]
    #[schemars(with = "String")]
    pub updated_at: DateTime<Utc>,
    /// Vulnerability alerts: whether the inventory has it or the member is asked to confirm.
    pub exposure: Option<AlertExposure>,
    /// Vulnerability alerts: raised by a finding at the policy's threshold, or issued.
    pub origin: Option<AlertOrigin>,
    pub priority: Option<Priority>,
    /// Vulnerability alerts: how severe, in CVSS v3/v4 words (`critical`, `high`, `medium`,
    /// `low`), from the newest CVSS version's highest score; `null` when no source scored it.
    pub severity: Option<String>,
    #[serde(with = "ward_model::timestamp::millis_option")]
    #[schemars(with = "Option<String>")]
    pub acknowledge_by: Option<DateTime<Utc>>,
    #[serde(with = "ward_model::timestamp::millis_option")]
    #[schemars(with = "Option<String>")]
    pub remediate_by: Option<DateTime<Utc>>,
    #[serde(with = "ward_model::timestamp::millis_option")]
    #[schemars(with = "Option<String>")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(with = "ward_model::timestamp::millis_option")]
    #[schemars(with = "Option<String>")]
    pub resolved_at: Option<DateTime<Utc>>,
    pub justification: Option<String>,
    /// How a resolved alert ended: `inventory` and `statement` are remediations;
    /// `not-affected`, `risk-accepted` and `withdrawn` (the knowledge changed) are not.
    /// `null` while open (and on alerts remediated before Ward recorded causes).
    pub resolution: Option<Resolution>,
    /// Why, in words: which upload no longer has it, which source changed what.
    pub resolution_reason: Option<String>,
    #[serde(with = "ward_model::timestamp::millis_option")]
    #[schemars(with = "Option<String>")]
    pub accepted_until: Option<DateTime<Utc>>,
    /// When a missed deadline was escalated to the central team.
    #[serde(with = "ward_model::timestamp::millis_option")]
    #[schemars(with = "Option<String>")]
    pub escalated_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    /// A confirm-exposure alert's answer from the member ("runs version 12.5.0.0").
    pub answer: Option<String>,
    /// Incidents: the tags of the rule or indicator sighted (`attack.t1190`, `cve.2025-4427`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Incidents: the vulnerabilities the thing sighted exploits (from its tags and
    /// references).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<String>,
    /// Incidents: why the severity was raised — an exploit attempt sighted where the
    /// vulnerability it exploits is still open ("CVE-2025-4427 is open on epmm-01").
    pub link: Option<String>,
    /// Incidents: when it was confirmed as a compromise (kept through containment and
    /// closing).
    #[serde(with = "ward_model::timestamp::millis_option")]
    #[schemars(with = "Option<String>")]
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// One alert within the scope (`Some(org)`: that organisation's only), on any connection (the
/// pool's, or a change's transaction).
pub(crate) async fn scoped_alert(
    conn: &mut sqlx::AnyConnection,
    scope: Scope,
    id: AlertId,
) -> Result<Option<AlertRow>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        alert_columns!(),
        " FROM alert a JOIN organisation o ON o.id = a.organisation_id
         WHERE a.id = $1 AND ($2 IS NULL OR a.organisation_id = $2)"
    ))
    .bind(id)
    .bind(scope.organisation())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(alert).transpose()
}

pub(crate) fn alert(row: &sqlx::any::AnyRow) -> Result<AlertRow> {
    let id: AlertId = row.try_get("id")?;
    Ok(AlertRow {
        id,
        organisation_id: row.try_get("organisation_id")?,
        organisation: row.get("slug"),
        organisation_name: row.get("organisation_name"),
        kind: parse(row, "alert", id, "kind")?,
        subject: row.get("subject"),
        title: row.get("title"),
        level: row.get("level"),
        state: parse(row, "alert", id, "state")?,
        evidence: row.get("evidence"),
        created_at: time(row, "alert", id, "created_at")?,
        updated_at: time(row, "alert", id, "updated_at")?,
        exposure: parse_optional(row, "alert", id, "exposure")?,
        origin: parse_optional(row, "alert", id, "origin")?,
        priority: parse_optional(row, "alert", id, "priority")?,
        severity: row.get("severity"),
        acknowledge_by: time_optional(row, "alert", id, "acknowledge_by")?,
        remediate_by: time_optional(row, "alert", id, "remediate_by")?,
        acknowledged_at: time_optional(row, "alert", id, "acknowledged_at")?,
        resolved_at: time_optional(row, "alert", id, "resolved_at")?,
        justification: row.get("justification"),
        resolution: parse_optional(row, "alert", id, "resolution")?,
        resolution_reason: row.get("resolution_reason"),
        accepted_until: time_optional(row, "alert", id, "accepted_until")?,
        escalated_at: time_optional(row, "alert", id, "escalated_at")?,
        note: row.get("note"),
        answer: row.get("answer"),
        tags: json_list(row.get("tags")),
        vulnerabilities: json_list(row.get("vulnerabilities")),
        link: row.get("link"),
        confirmed_at: time_optional(row, "alert", id, "confirmed_at")?,
    })
}

/// A JSON list of words as stored (`NULL`: none).
fn json_list(text: Option<String>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The columns `alert()` reads (a macro so that queries stay string literals: sqlx refuses
/// SQL built at run time).
macro_rules! alert_columns {
    () => {
        "a.id, a.organisation_id, o.slug, o.name AS organisation_name, a.kind, a.subject, a.title, a.level, a.state, a.evidence, a.created_at, a.updated_at,
         a.exposure, a.origin, a.priority, a.acknowledge_by, a.remediate_by, a.acknowledged_at, a.resolved_at,
         a.justification, a.accepted_until, a.escalated_at, a.note, a.resolution, a.resolution_reason, a.severity, a.answer,
         a.tags, a.vulnerabilities, a.link, a.confirmed_at"
    };
}
pub(crate) use alert_columns;

/// The states of an alert that is neither awaiting acknowledgement nor resolved: acknowledged
/// vulnerability alerts, and incidents triaged, confirmed or contained
/// ([`ward_model::AlertState::is_in_hand`]). A macro so that queries stay string literals.
macro_rules! in_hand {
    () => {
        "('acknowledged', 'triaged', 'confirmed', 'contained')"
    };
}
/// Every state of an alert that is not resolved.
macro_rules! unresolved {
    () => {
        "('open', 'acknowledged', 'triaged', 'confirmed', 'contained')"
    };
}
#[allow(unused_imports)]
pub(crate) use {in_hand, unresolved};

/// What is asked of the organisations within the scope (the navigation's counts and the
/// member's first page): alerts awaiting acknowledgement and remediation, how many of them
/// are past a deadline, and (one organisation) its open findings.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Attention {
    pub awaiting_acknowledgement: i64,
    pub awaiting_remediation: i64,
    pub overdue: i64,
    pub open_findings: i64,
}

impl Store {
    /// What is asked of the organisations within the scope now.
    pub async fn attention(&self, scope: Scope) -> Result<Attention> {
        // Contained incidents wait only for closing: past the containment deadline is not late.
        let r = sqlx::query(concat!(
            "SELECT COUNT(*) FILTER (WHERE state = 'open') AS ack,
                    COUNT(*) FILTER (WHERE state IN ",
            in_hand!(),
            ") AS rem,
                    COUNT(*) FILTER (WHERE (state = 'open' AND acknowledge_by < $2)
                                        OR (remediate_by < $2 AND state <> 'contained')) AS overdue
             FROM alert WHERE state IN ",
            unresolved!(),
            " AND ($1 IS NULL OR organisation_id = $1)"
        ))
        .bind(scope.organisation())
        .bind(now())
        .fetch_one(&self.pool)
        .await?;
        // The federation's findings are counted on the worklist, not on every page.
        let open_findings = match scope.organisation() {
            Some(org) => sqlx::query(
                "SELECT COUNT(*) AS n FROM finding WHERE organisation_id = $1 AND resolved_at IS NULL",
            )
            .bind(org)
            .fetch_one(&self.pool)
            .await?
            .get("n"),
            None => 0,
        };
        Ok(Attention {
            awaiting_acknowledgement: r.get("ack"),
            awaiting_remediation: r.get("rem"),
            overdue: r.get("overdue"),
            open_findings,
        })
    }

    /// The alerts within the scope, latest change first.
    pub async fn alerts(&self, scope: Scope) -> Result<Vec<AlertRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alert a JOIN organisation o ON o.id = a.organisation_id
             WHERE ($1 IS NULL OR a.organisation_id = $1) ORDER BY a.updated_at DESC, a.id DESC"
        ))
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert).collect()
    }

    /// One alert, if it is within the scope.
    pub async fn alert(&self, scope: Scope, id: AlertId) -> Result<Option<AlertRow>> {
        scoped_alert(&mut *self.pool.acquire().await?, scope, id).await
    }

    /// Every alert about one subject (a CVE) within the scope: the central team's view of an
    /// issued alert.
    pub async fn alerts_about(&self, scope: Scope, subject: &str) -> Result<Vec<AlertRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alert a JOIN organisation o ON o.id = a.organisation_id
             WHERE a.subject = $1 AND ($2 IS NULL OR a.organisation_id = $2) ORDER BY o.slug"
        ))
        .bind(subject)
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert).collect()
    }
}

impl Store {
    /// Open findings per vulnerability for an organisation: how many, the most urgent priority
    /// and the earliest deadlines.
    pub async fn open_findings_for(
        &self,
        scope: Scope,
        organisation_id: OrgId,
        vulnerability: &str,
    ) -> Result<Option<(i64, Priority, Option<String>, Option<String>)>> {
        if !scope.reaches(organisation_id) {
            return Err(StoreError::NotFound(format!(
                "organisation {organisation_id}"
            )));
        }
        let mut conn = self.pool.acquire().await?;
        let f = open_findings(
            &mut conn,
            &self.facts,
            organisation_id,
            Some(&[vulnerability.to_owned()]),
        )
        .await?;
        Ok(f.get(vulnerability).map(|f| {
            (
                f.count,
                f.best_priority,
                f.acknowledge_by.clone(),
                f.remediate_by.clone(),
            )
        }))
    }

    /// The `(vendor, product)` keys a vulnerability's records name.
    pub async fn vulnerability_products(
        &self,
        vulnerability: &str,
    ) -> Result<Vec<(String, String)>> {
        let rows =
            sqlx::query("SELECT DISTINCT vendor, product FROM advisory_product WHERE vuln_id = $1")
                .bind(vulnerability)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("vendor"), r.get("product")))
            .collect())
    }

    /// Issues the central team's alert to each target, in one transaction: new alerts are
    /// created (`issued`); existing ones keep their state and gain the note.
    pub async fn issue_alerts(
        &self,
        actor: &str,
        scope: Scope,
        targets: &[IssueTarget],
        note: Option<&str>,
    ) -> Result<Vec<AlertRow>> {
        if let Some(t) = targets.iter().find(|t| !scope.reaches(t.organisation_id)) {
            return Err(StoreError::NotFound(format!(
                "organisation {}",
                t.organisation_id
            )));
        }
        let mut change = self.begin_change(actor).await?;
        let at = now();
        let mut out = Vec::new();
        for t in targets {
            let existing =
                alert_by_subject(&mut change, t.organisation_id, &t.vulnerability).await?;
            let id = match existing {
                Some(a) => {
                    sqlx::query(
                        "UPDATE alert SET note = $1, origin = 'issued', updated_at = $2,
                                     severity = COALESCE($4, severity) WHERE id = $3",
                    )
                    .bind(note)
                    .bind(&at)
                    .bind(a.id)
                    .bind(&t.severity)
                    .execute(&mut *change.tx)
                    .await?;
                    a.id
                }
                None => {
                    let new_id = change.new_id(crate::ids::Kind::Alert).await?;
                    let row = sqlx::query(
                        "INSERT INTO alert (organisation_id, kind, subject, title, level, state, evidence, created_at, updated_at,
                                            exposure, origin, priority, acknowledge_by, remediate_by, note, id, severity)
                         VALUES ($1, 'vulnerability', $2, $3, NULL, 'open', 0, $4, $4, $5, 'issued', $6, $7, $8, $9, $10, $11)
                         RETURNING id",
                    )
                    .bind(t.organisation_id)
                    .bind(&t.vulnerability)
                    .bind(&t.title)
                    .bind(&at)
                    .bind(t.exposure.as_str())
                    .bind(t.priority.map(Priority::as_str))
                    .bind(&t.acknowledge_by)
                    .bind(&t.remediate_by)
                    .bind(note)
                    .bind(new_id)
                    .bind(&t.severity)
                    .fetch_one(&mut *change.tx)
                    .await?;
                    row.get("id")
                }
            };
            let a = alert_by_id(&mut change, id).await?;
            change
                .alert_changed(
                    t.organisation_id,
                    "alert.issue",
                    &format!("alert:{id}"),
                    None,
                    &value(&a),
                )
                .await?;
            out.push(a);
        }
        change.commit().await?;
        Ok(out)
    }

    /// A member's action on an alert within the scope (the lifecycle is
    /// [`ward_model::transition`]'s; refusals are `Invalid` for the wrong kind of alert,
    /// `Conflict` for the wrong state).
    pub async fn transition_alert(
        &self,
        actor: &str,
        scope: Scope,
        id: AlertId,
        transition: &Transition,
    ) -> Result<AlertRow> {
        let mut change = self.begin_change(actor).await?;
        let before = scoped_alert(&mut change.tx, scope, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
        let to = match ward_model::transition(before.kind, before.state, transition.action()) {
            Ok(to) => to,
            Err(e @ ward_model::Refusal::WrongKind { .. }) => {
                return Err(StoreError::Invalid(format!("alert {id}: {e}")));
            }
            Err(e @ ward_model::Refusal::WrongState { .. }) => {
                return Err(StoreError::Conflict(format!("alert {id}: {e}")));
            }
        };
        let at = now();
        let org_id: OrgId = sqlx::query("SELECT organisation_id FROM alert WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *change.tx)
            .await?
            .get("organisation_id");
        if before.kind == AlertKind::PossibleCompromise {
            let after = incident_transition(&mut change, actor, &before, to, transition).await?;
            change.commit().await?;
            return Ok(after);
        }
        match transition {
            Transition::Running { version } => {
                let version = version.trim();
                if version.is_empty() || version.len() > 200 {
                    return Err(StoreError::Invalid(
                        "version: say which version you run (at most 200 characters)".into(),
                    ));
                }
                sqlx::query(
                    "UPDATE alert SET state = 'acknowledged', acknowledged_at = $1, updated_at = $1, answer = $2 WHERE id = $3",
                )
                .bind(&at)
                .bind(format!("runs version {version}"))
                .bind(id)
                .execute(&mut *change.tx)
                .await?;
            }
            Transition::Acknowledge => {
                sqlx::query("UPDATE alert SET state = 'acknowledged', acknowledged_at = $1, updated_at = $1 WHERE id = $2")
                    .bind(&at)
                    .bind(id)
                    .execute(&mut *change.tx)
                    .await?;
            }
            Transition::Remediate => {
                if before.kind == AlertKind::Vulnerability
                    && before.exposure == Some(AlertExposure::Affected)
                {
                    let left = open_findings(
                        &mut change.tx,
                        &change.facts,
                        org_id,
                        Some(std::slice::from_ref(&before.subject)),
                    )
                    .await?;
                    if let Some(f) = left.get(&before.subject) {
                        return Err(StoreError::Conflict(format!(
                            "{} finding(s) of {} are still in the inventory: upload the patched inventory (or declare not-affected)",
                            f.count, before.subject
                        )));
                    }
                }
                sqlx::query(
                    "UPDATE alert SET state = 'remediated', resolution = 'statement', resolution_reason = $3,
                         resolved_at = $1, updated_at = $1, acknowledged_at = COALESCE(acknowledged_at, $1) WHERE id = $2",
                )
                .bind(&at)
                .bind(id)
                .bind(format!("{actor} said it is remediated"))
                .execute(&mut *change.tx)
                .await?;
            }
            Transition::FixInstalled { fix } => {
                let fix = fix.trim();
                if fix.is_empty() || fix.len() > 200 {
                    return Err(StoreError::Invalid(
                        "justification: name the fix that is installed (at most 200 characters)"
                            .into(),
                    ));
                }
                if before.kind != AlertKind::Vulnerability {
                    return Err(StoreError::Invalid(format!(
                        "alert {id}: a fix is installed for a vulnerability, not a {}",
                        before.kind
                    )));
                }
                sqlx::query(
                    "UPDATE alert SET state = 'remediated', resolution = 'statement', resolution_reason = $3,
                         answer = $4, resolved_at = $1, updated_at = $1,
                         acknowledged_at = COALESCE(acknowledged_at, $1) WHERE id = $2",
                )
                .bind(&at)
                .bind(id)
                .bind(format!("{actor} said the fix is installed: {fix}"))
                .bind(format!("{FIX_INSTALLED}{fix}"))
                .execute(&mut *change.tx)
                .await?;
            }
            Transition::AcceptRisk {
                justification,
                until,
            } => {
                if justification.trim().is_empty() {
                    return Err(StoreError::Invalid(
                        "justification: say why the risk is accepted".into(),
                    ));
                }
                if *until <= Utc::now() {
                    return Err(StoreError::Invalid(
                        "until: a risk acceptance must expire in the future".into(),
                    ));
                }
                sqlx::query(
                    "UPDATE alert SET state = 'risk-accepted', resolution = 'risk-accepted', resolution_reason = $1,
                         justification = $1, accepted_until = $2, resolved_at = $3,
                         updated_at = $3, acknowledged_at = COALESCE(acknowledged_at, $3) WHERE id = $4",
                )
                .bind(justification)
                .bind(until.to_rfc3339_opts(SecondsFormat::Millis, true))
                .bind(&at)
                .bind(id)
                .execute(&mut *change.tx)
                .await?;
            }
            Transition::NotAffected { justification } => {
                if !VEX_JUSTIFICATIONS.contains(&justification.as_str()) {
                    return Err(StoreError::Invalid(format!(
                        "justification: {justification:?} is not a VEX justification; use one of {}",
                        VEX_JUSTIFICATIONS.join(", ")
                    )));
                }
                sqlx::query(
                    "UPDATE alert SET state = 'not-affected', resolution = 'not-affected', resolution_reason = $1,
                         justification = $1, resolved_at = $2, updated_at = $2,
                         acknowledged_at = COALESCE(acknowledged_at, $2) WHERE id = $3",
                )
                .bind(justification)
                .bind(&at)
                .bind(id)
                .execute(&mut *change.tx)
                .await?;
            }
            Transition::Triage
            | Transition::Confirm
            | Transition::Contain
            | Transition::Close { .. }
            | Transition::FalsePositive { .. } => {
                unreachable!("ward_model::transition refuses incident actions on vulnerabilities")
            }
        }
        let after = audited(
            &mut change,
            org_id,
            &format!("alert.{}", transition.action()),
            &before,
        )
        .await?;
        change.commit().await?;
        Ok(after)
    }
}

/// An incident's step (the lifecycle checked by the caller): the new state, when it was first
/// looked at, and for closing and false positives the resolution and why. Audited as
/// `alert.<action>` (`alert.triage` for an acknowledgement).
async fn incident_transition(
    change: &mut crate::audit::Change,
    actor: &str,
    before: &AlertRow,
    to: AlertState,
    transition: &Transition,
) -> Result<AlertRow> {
    let reason = match transition {
        Transition::FalsePositive { reason } => {
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > 2_000 {
                return Err(StoreError::Invalid(
                    "reason: say why it is a false positive (at most 2000 characters)".into(),
                ));
            }
            Some(reason.to_owned())
        }
        Transition::Close { reason } => {
            let reason = reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
            if reason.is_some_and(|r| r.chars().count() > 2_000) {
                return Err(StoreError::Invalid(
                    "reason: at most 2000 characters".into(),
                ));
            }
            Some(reason.map_or_else(|| format!("{actor} closed it"), str::to_owned))
        }
        _ => None,
    };
    let resolution = match to {
        AlertState::Closed => Some(Resolution::Closed),
        AlertState::FalsePositive => Some(Resolution::FalsePositive),
        _ => None,
    };
    let at = now();
    sqlx::query(
        "UPDATE alert SET state = $1, updated_at = $2, acknowledged_at = COALESCE(acknowledged_at, $2),
             resolved_at = CASE WHEN $3 THEN $2 ELSE resolved_at END,
             resolution = COALESCE($4, resolution), resolution_reason = COALESCE($5, resolution_reason),
             justification = CASE WHEN $6 THEN $5 ELSE justification END,
             confirmed_at = CASE WHEN $8 THEN $2 ELSE confirmed_at END
         WHERE id = $7",
    )
    .bind(to.as_str())
    .bind(&at)
    .bind(to.is_resolved())
    .bind(resolution.map(Resolution::as_str))
    .bind(&reason)
    .bind(to == AlertState::FalsePositive)
    .bind(before.id)
    .bind(to == AlertState::Confirmed)
    .execute(&mut *change.tx)
    .await?;
    let action = match transition.action() {
        AlertAction::Acknowledge => AlertAction::Triage,
        other => other,
    };
    sync::audited_with(
        change,
        before.organisation_id,
        &format!("alert.{action}"),
        before,
        &crate::audit::EventExtra {
            missed: None,
            reason: if to == AlertState::FalsePositive {
                reason
            } else {
                None
            },
        },
    )
    .await
}
