//! Vulnerability alerts: one per (organisation, vulnerability), raised when a finding reaches
//! the policy's threshold or issued by the central team, with deadlines, a lifecycle
//! (open → acknowledged → remediated | risk-accepted | not-affected), reopening, and escalation
//! of missed deadlines. Every change is audited in its own transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;

use crate::federation::{AlertRow, Change, alert, alert_columns, now};
use crate::{Result, Store, StoreError};

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
    Remediate,
    AcceptRisk {
        justification: String,
        until: DateTime<Utc>,
    },
    NotAffected {
        justification: String,
    },
}

impl Transition {
    fn name(&self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledge",
            Self::Remediate => "remediate",
            Self::AcceptRisk { .. } => "accept-risk",
            Self::NotAffected { .. } => "not-affected",
        }
    }
}

/// One member to alert about one vulnerability, as the central team's plan says.
#[derive(Debug, Clone)]
pub struct IssueTarget {
    pub organisation_id: i64,
    pub vulnerability: String,
    pub title: String,
    /// `affected` or `confirm-exposure`.
    pub exposure: String,
    pub priority: Option<String>,
    pub acknowledge_by: Option<String>,
    pub remediate_by: Option<String>,
}

/// What the periodic deadline check did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TickOutcome {
    pub escalated: Vec<AlertRow>,
    pub reopened: Vec<AlertRow>,
}

/// The open findings of an organisation for one vulnerability: (priority, acknowledge_by,
/// remediate_by, title).
struct OpenFindings {
    count: i64,
    best_priority: String,
    acknowledge_by: Option<String>,
    remediate_by: Option<String>,
    title: Option<String>,
}

pub(crate) const PRIORITIES: [&str; 4] = ["immediate", "out-of-cycle", "scheduled", "defer"];

fn rank(priority: &str) -> usize {
    PRIORITIES
        .iter()
        .position(|p| *p == priority)
        .unwrap_or(PRIORITIES.len())
}

fn min_time(a: Option<String>, b: Option<&str>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b < a.as_str() { b.to_owned() } else { a }),
        (a, b) => a.or(b.map(str::to_owned)),
    }
}

/// Times in findings are chrono's RFC 3339 (nanoseconds); alerts keep milliseconds, as every
/// time Ward stores.
fn millis(t: &str) -> String {
    DateTime::parse_from_rfc3339(t).map_or_else(
        |_| t.to_owned(),
        |d| {
            d.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        },
    )
}

/// Open findings per vulnerability, of every vulnerability or only of `only`.
async fn open_findings(
    conn: &mut sqlx::AnyConnection,
    organisation_id: i64,
    only: Option<&[String]>,
) -> Result<BTreeMap<String, OpenFindings>> {
    let rows = match only {
        None => {
            sqlx::query(
                "SELECT vuln_id, priority, payload FROM finding WHERE organisation_id = $1 AND resolved_at IS NULL",
            )
            .bind(organisation_id)
            .fetch_all(&mut *conn)
            .await?
        }
        Some(vulns) => {
            let mut rows = Vec::new();
            for chunk in vulns.chunks(300) {
                let mut q = crate::sql::Sql::new(crate::Backend::of(conn), "SELECT vuln_id, priority, payload FROM finding WHERE resolved_at IS NULL AND organisation_id = ",
                );
                q.push_bind(organisation_id).push(" AND vuln_id IN (");
                let mut sep = q.separated(", ");
                for v in chunk {
                    sep.push_bind(v);
                }
                q.push(")");
                rows.extend(q.build().fetch_all(&mut *conn).await?);
            }
            rows
        }
    };
    let mut out: BTreeMap<String, OpenFindings> = BTreeMap::new();
    for r in rows {
        let vuln: String = r.get("vuln_id");
        let priority: String = r.get("priority");
        let payload: serde_json::Value =
            serde_json::from_str(r.get::<&str, _>("payload")).unwrap_or_default();
        let ack = payload["deadlines"]["acknowledge_by"].as_str().map(millis);
        let rem = payload["deadlines"]["remediate_by"].as_str().map(millis);
        let title = payload["title"].as_str().map(str::to_owned);
        let e = out.entry(vuln).or_insert(OpenFindings {
            count: 0,
            best_priority: priority.clone(),
            acknowledge_by: None,
            remediate_by: None,
            title: None,
        });
        e.count += 1;
        if rank(&priority) < rank(&e.best_priority) {
            e.best_priority = priority;
        }
        e.acknowledge_by = min_time(e.acknowledge_by.take(), ack.as_deref());
        e.remediate_by = min_time(e.remediate_by.take(), rem.as_deref());
        if e.title.is_none() {
            e.title = title;
        }
    }
    Ok(out)
}

async fn alert_by_subject(
    change: &mut Change,
    organisation_id: i64,
    subject: &str,
) -> Result<Option<AlertRow>> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        alert_columns!(),
        " FROM alert a JOIN organisation o ON o.id = a.organisation_id
          WHERE a.organisation_id = $1 AND a.kind = 'vulnerability' AND a.subject = $2"
    ))
    .bind(organisation_id)
    .bind(subject)
    .fetch_optional(&mut *change.tx)
    .await?
    .as_ref()
    .map(alert))
}

async fn alert_by_id(change: &mut Change, id: i64) -> Result<AlertRow> {
    Ok(alert(
        &sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alert a JOIN organisation o ON o.id = a.organisation_id WHERE a.id = $1"
        ))
        .bind(id)
        .fetch_one(&mut *change.tx)
        .await?,
    ))
}

fn value(a: &AlertRow) -> serde_json::Value {
    serde_json::to_value(a).expect("serialisable")
}

/// Reads the alert as it now is and audits the change from `before`, in the same transaction
/// (which also queues its notifications).
async fn audited(
    change: &mut Change,
    organisation_id: i64,
    action: &str,
    before: &AlertRow,
) -> Result<AlertRow> {
    let after = alert_by_id(change, before.id).await?;
    change
        .log(
            Some(organisation_id),
            action,
            &format!("alert:{}", before.id),
            Some(&value(before)),
            Some(&value(&after)),
        )
        .await?;
    Ok(after)
}

/// Brings an organisation's vulnerability alerts in line with its open findings, inside a
/// change: raises alerts for findings at or above `threshold`, reopens remediated or
/// not-affected ones whose finding is back, turns confirm-exposure into affected, and marks
/// affected alerts remediated when no finding is left. Returns the alerts it touched.
/// `only`: the vulnerabilities whose findings changed (alerts of others cannot have changed).
pub(crate) async fn sync_alerts(
    change: &mut Change,
    organisation_id: i64,
    threshold: &str,
    only: &[String],
) -> Result<Vec<AlertRow>> {
    if only.is_empty() {
        return Ok(Vec::new());
    }
    let findings = open_findings(&mut change.tx, organisation_id, Some(only)).await?;
    let at = now();
    let mut touched = Vec::new();
    for (vuln, f) in &findings {
        let existing = alert_by_subject(change, organisation_id, vuln).await?;
        let alerting = rank(&f.best_priority) <= rank(threshold);
        match existing {
            None if alerting => {
                let row = sqlx::query(
                    "INSERT INTO alert (organisation_id, kind, subject, title, level, state, evidence, created_at, updated_at,
                                        exposure, origin, priority, acknowledge_by, remediate_by)
                     VALUES ($1, 'vulnerability', $2, $3, NULL, 'open', $4, $5, $5, 'affected', 'automatic', $6, $7, $8)
                     RETURNING id",
                )
                .bind(organisation_id)
                .bind(vuln)
                .bind(f.title.clone().map_or_else(|| vuln.clone(), |t| format!("{vuln}: {t}")))
                .bind(f.count)
                .bind(&at)
                .bind(&f.best_priority)
                .bind(&f.acknowledge_by)
                .bind(&f.remediate_by)
                .fetch_one(&mut *change.tx)
                .await?;
                let a = alert_by_id(change, row.get("id")).await?;
                change
                    .log(
                        Some(organisation_id),
                        "alert.raise",
                        &format!("alert:{}", a.id),
                        None,
                        Some(&value(&a)),
                    )
                    .await?;
                touched.push(a);
            }
            None => {}
            Some(a) => {
                let reopen = matches!(a.state.as_str(), "remediated" | "not-affected");
                let becomes_affected = a.exposure.as_deref() != Some("affected");
                let changed_facts = a.evidence != f.count
                    || a.priority.as_deref() != Some(f.best_priority.as_str());
                if !(reopen || becomes_affected || changed_facts) {
                    continue;
                }
                sqlx::query(
                    "UPDATE alert SET evidence = $1, priority = $2, exposure = 'affected', updated_at = $3,
                         state = CASE WHEN $4 THEN 'open' ELSE state END,
                         resolved_at = CASE WHEN $4 THEN NULL ELSE resolved_at END,
                         acknowledged_at = CASE WHEN $4 THEN NULL ELSE acknowledged_at END,
                         justification = CASE WHEN $4 THEN NULL ELSE justification END,
                         acknowledge_by = COALESCE(acknowledge_by, $5),
                         remediate_by = COALESCE(remediate_by, $6)
                     WHERE id = $7",
                )
                .bind(f.count)
                .bind(&f.best_priority)
                .bind(&at)
                .bind(reopen)
                .bind(&f.acknowledge_by)
                .bind(&f.remediate_by)
                .bind(a.id)
                .execute(&mut *change.tx)
                .await?;
                let action = if reopen {
                    "alert.reopen"
                } else if becomes_affected {
                    "alert.affected"
                } else {
                    "alert.evidence"
                };
                touched.push(audited(change, organisation_id, action, &a).await?);
            }
        }
    }
    // Affected alerts whose findings are all gone: remediated by the new inventory.
    let stale = sqlx::query(concat!(
        "SELECT ",
        alert_columns!(),
        " FROM alert a JOIN organisation o ON o.id = a.organisation_id
          WHERE a.organisation_id = $1 AND a.kind = 'vulnerability' AND a.exposure = 'affected'
            AND a.state IN ('open', 'acknowledged')"
    ))
    .bind(organisation_id)
    .fetch_all(&mut *change.tx)
    .await?;
    for a in stale.iter().map(alert) {
        if findings.contains_key(&a.subject) || !only.contains(&a.subject) {
            continue;
        }
        sqlx::query(
            "UPDATE alert SET state = 'remediated', resolved_at = $1, updated_at = $1, evidence = 0,
                 acknowledged_at = COALESCE(acknowledged_at, $1) WHERE id = $2",
        )
        .bind(&at)
        .bind(a.id)
        .execute(&mut *change.tx)
        .await?;
        touched.push(audited(change, organisation_id, "alert.remediate", &a).await?);
    }
    Ok(touched)
}

impl Store {
    /// Open findings per vulnerability for an organisation: how many, the most urgent priority
    /// and the earliest deadlines.
    pub async fn open_findings_for(
        &self,
        organisation_id: i64,
        vulnerability: &str,
    ) -> Result<Option<(i64, String, Option<String>, Option<String>)>> {
        let mut conn = self.pool.acquire().await?;
        let f = open_findings(
            &mut conn,
            organisation_id,
            Some(&[vulnerability.to_owned()]),
        )
        .await?;
        Ok(f.get(vulnerability).map(|f| {
            (
                f.count,
                f.best_priority.clone(),
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
        targets: &[IssueTarget],
        note: Option<&str>,
    ) -> Result<Vec<AlertRow>> {
        let mut change = self.begin_change(actor).await?;
        let at = now();
        let mut out = Vec::new();
        for t in targets {
            let existing =
                alert_by_subject(&mut change, t.organisation_id, &t.vulnerability).await?;
            let id = match existing {
                Some(a) => {
                    sqlx::query("UPDATE alert SET note = $1, origin = 'issued', updated_at = $2 WHERE id = $3")
                        .bind(note)
                        .bind(&at)
                        .bind(a.id)
                        .execute(&mut *change.tx)
                        .await?;
                    a.id
                }
                None => {
                    let row = sqlx::query(
                        "INSERT INTO alert (organisation_id, kind, subject, title, level, state, evidence, created_at, updated_at,
                                            exposure, origin, priority, acknowledge_by, remediate_by, note)
                         VALUES ($1, 'vulnerability', $2, $3, NULL, 'open', 0, $4, $4, $5, 'issued', $6, $7, $8, $9)
                         RETURNING id",
                    )
                    .bind(t.organisation_id)
                    .bind(&t.vulnerability)
                    .bind(&t.title)
                    .bind(&at)
                    .bind(&t.exposure)
                    .bind(&t.priority)
                    .bind(&t.acknowledge_by)
                    .bind(&t.remediate_by)
                    .bind(note)
                    .fetch_one(&mut *change.tx)
                    .await?;
                    row.get("id")
                }
            };
            let a = alert_by_id(&mut change, id).await?;
            change
                .log(
                    Some(t.organisation_id),
                    "alert.issue",
                    &format!("alert:{id}"),
                    None,
                    Some(&value(&a)),
                )
                .await?;
            out.push(a);
        }
        change.commit().await?;
        Ok(out)
    }

    /// A member's action on an alert of theirs (`organisation_id`: the caller's scope; `None`
    /// for the central team).
    pub async fn transition_alert(
        &self,
        actor: &str,
        organisation_id: Option<i64>,
        id: i64,
        transition: &Transition,
    ) -> Result<AlertRow> {
        let mut change = self.begin_change(actor).await?;
        let before = crate::federation::scoped_alert(&mut change.tx, organisation_id, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
        if before.kind != "vulnerability"
            && !matches!(transition, Transition::Acknowledge | Transition::Remediate)
        {
            return Err(StoreError::Invalid(format!(
                "{} applies to vulnerability alerts; alert {id} is a {}",
                transition.name(),
                before.kind
            )));
        }
        let at = now();
        let allowed = match transition {
            Transition::Acknowledge => before.state == "open",
            _ => matches!(before.state.as_str(), "open" | "acknowledged"),
        };
        if !allowed {
            return Err(StoreError::Conflict(format!(
                "alert {id} is {}: it cannot be {}d",
                before.state,
                transition.name().trim_end_matches('e')
            )));
        }
        let org_id: i64 = sqlx::query("SELECT organisation_id FROM alert WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *change.tx)
            .await?
            .get("organisation_id");
        match transition {
            Transition::Acknowledge => {
                sqlx::query("UPDATE alert SET state = 'acknowledged', acknowledged_at = $1, updated_at = $1 WHERE id = $2")
                    .bind(&at)
                    .bind(id)
                    .execute(&mut *change.tx)
                    .await?;
            }
            Transition::Remediate => {
                if before.kind == "vulnerability" && before.exposure.as_deref() == Some("affected")
                {
                    let left = open_findings(
                        &mut change.tx,
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
                    "UPDATE alert SET state = 'remediated', resolved_at = $1, updated_at = $1,
                         acknowledged_at = COALESCE(acknowledged_at, $1) WHERE id = $2",
                )
                .bind(&at)
                .bind(id)
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
                    "UPDATE alert SET state = 'risk-accepted', justification = $1, accepted_until = $2, resolved_at = $3,
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
                    "UPDATE alert SET state = 'not-affected', justification = $1, resolved_at = $2, updated_at = $2,
                         acknowledged_at = COALESCE(acknowledged_at, $2) WHERE id = $3",
                )
                .bind(justification)
                .bind(&at)
                .bind(id)
                .execute(&mut *change.tx)
                .await?;
            }
        }
        let after = audited(
            &mut change,
            org_id,
            &format!("alert.{}", transition.name()),
            &before,
        )
        .await?;
        change.commit().await?;
        Ok(after)
    }

    /// The deadline check (run periodically by the server): escalates alerts whose
    /// acknowledgement or remediation deadline has passed, and reopens risk acceptances that
    /// expired. `now` is a parameter so that it can be tested.
    pub async fn tick(&self, now_: DateTime<Utc>) -> Result<TickOutcome> {
        let at = now_.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut change = self.begin_change("ward:deadlines").await?;
        let mut outcome = TickOutcome::default();
        let expired = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alert a JOIN organisation o ON o.id = a.organisation_id
              WHERE a.state = 'risk-accepted' AND a.accepted_until <= $1"
        ))
        .bind(&at)
        .fetch_all(&mut *change.tx)
        .await?;
        for a in expired.iter().map(alert) {
            sqlx::query(
                "UPDATE alert SET state = 'open', resolved_at = NULL, accepted_until = NULL, updated_at = $1 WHERE id = $2",
            )
            .bind(&at)
            .bind(a.id)
            .execute(&mut *change.tx)
            .await?;
            let org = org_of(&mut change, a.id).await?;
            outcome
                .reopened
                .push(audited(&mut change, org, "alert.reopen", &a).await?);
        }
        // Missed acknowledgement (still open), or missed remediation (open or acknowledged);
        // escalated once per missed deadline.
        let late = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alert a JOIN organisation o ON o.id = a.organisation_id
              WHERE a.kind = 'vulnerability' AND (
                    (a.state = 'open' AND a.acknowledge_by < $1 AND a.escalated_at IS NULL)
                 OR (a.state IN ('open', 'acknowledged') AND a.remediate_by < $1
                     AND (a.escalated_at IS NULL OR a.escalated_at < a.remediate_by)))"
        ))
        .bind(&at)
        .fetch_all(&mut *change.tx)
        .await?;
        for a in late.iter().map(alert) {
            sqlx::query("UPDATE alert SET escalated_at = $1, updated_at = $1 WHERE id = $2")
                .bind(&at)
                .bind(a.id)
                .execute(&mut *change.tx)
                .await?;
            let after = alert_by_id(&mut change, a.id).await?;
            let org = org_of(&mut change, a.id).await?;
            let missed = if a.remediate_by.as_deref().is_some_and(|r| r < at.as_str()) {
                "remediation"
            } else {
                "acknowledgement"
            };
            change
                .log(
                    Some(org),
                    "alert.escalate",
                    &format!("alert:{}", a.id),
                    Some(&value(&a)),
                    Some(&serde_json::json!({"missed": missed, "alert": value(&after)})),
                )
                .await?;
            outcome.escalated.push(after);
        }
        if outcome.escalated.is_empty() && outcome.reopened.is_empty() {
            // Nothing changed: leave the chain's head alone.
            change.tx.rollback().await?;
            return Ok(outcome);
        }
        change.commit().await?;
        Ok(outcome)
    }
}

async fn org_of(change: &mut Change, alert_id: i64) -> Result<i64> {
    Ok(
        sqlx::query("SELECT organisation_id FROM alert WHERE id = $1")
            .bind(alert_id)
            .fetch_one(&mut *change.tx)
            .await?
            .get("organisation_id"),
    )
}

/// Per vulnerability: how the members alerted about it did against their deadlines.
#[derive(Debug, Clone, Serialize)]
pub struct AlertCompliance {
    pub vulnerability: String,
    pub members: i64,
    pub affected: i64,
    pub confirm_exposure: i64,
    pub acknowledged: i64,
    pub acknowledged_on_time: i64,
    pub remediated: i64,
    pub remediated_on_time: i64,
    pub risk_accepted: i64,
    pub not_affected: i64,
    pub open: i64,
    pub escalated: i64,
}

/// Per member and month (of the alert's creation): a scorecard.
#[derive(Debug, Clone, Serialize)]
pub struct MemberScore {
    pub organisation: String,
    pub month: String,
    pub alerts: i64,
    pub acknowledged_on_time: i64,
    pub remediated_on_time: i64,
    pub late_or_open_past_deadline: i64,
    pub escalated: i64,
    pub still_open: i64,
}

impl Store {
    /// Compliance per vulnerability alert (`organisation_id`: one member's view; `None`: all).
    /// Which of these vulnerabilities CISA lists as known exploited.
    pub async fn kev_listed(
        &self,
        vulnerabilities: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        let mut out = std::collections::HashSet::new();
        for chunk in vulnerabilities.chunks(300) {
            let mut q =
                crate::sql::Sql::new(self.backend, "SELECT vuln_id FROM kev WHERE vuln_id IN (");
            let mut sep = q.separated(", ");
            for v in chunk {
                sep.push_bind(v);
            }
            q.push(")");
            for r in q.build().fetch_all(&self.pool).await? {
                out.insert(r.get::<String, _>(0));
            }
        }
        Ok(out)
    }

    pub async fn alert_compliance(
        &self,
        organisation_id: Option<i64>,
    ) -> Result<Vec<AlertCompliance>> {
        let rows = sqlx::query(
            "SELECT subject,
                    COUNT(*) AS members,
                    COUNT(*) FILTER (WHERE exposure = 'affected') AS affected,
                    COUNT(*) FILTER (WHERE exposure = 'confirm-exposure') AS confirm_exposure,
                    COUNT(*) FILTER (WHERE acknowledged_at IS NOT NULL) AS acknowledged,
                    COUNT(*) FILTER (WHERE acknowledged_at IS NOT NULL AND (acknowledge_by IS NULL OR acknowledged_at <= acknowledge_by)) AS acknowledged_on_time,
                    COUNT(*) FILTER (WHERE state = 'remediated') AS remediated,
                    COUNT(*) FILTER (WHERE state = 'remediated' AND (remediate_by IS NULL OR resolved_at <= remediate_by)) AS remediated_on_time,
                    COUNT(*) FILTER (WHERE state = 'risk-accepted') AS risk_accepted,
                    COUNT(*) FILTER (WHERE state = 'not-affected') AS not_affected,
                    COUNT(*) FILTER (WHERE state IN ('open', 'acknowledged')) AS open,
                    COUNT(*) FILTER (WHERE escalated_at IS NOT NULL) AS escalated
             FROM alert
             WHERE kind = 'vulnerability' AND ($1 IS NULL OR organisation_id = $1)
             GROUP BY subject ORDER BY subject",
        )
        .bind(organisation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AlertCompliance {
                vulnerability: r.get("subject"),
                members: r.get("members"),
                affected: r.get("affected"),
                confirm_exposure: r.get("confirm_exposure"),
                acknowledged: r.get("acknowledged"),
                acknowledged_on_time: r.get("acknowledged_on_time"),
                remediated: r.get("remediated"),
                remediated_on_time: r.get("remediated_on_time"),
                risk_accepted: r.get("risk_accepted"),
                not_affected: r.get("not_affected"),
                open: r.get("open"),
                escalated: r.get("escalated"),
            })
            .collect())
    }

    /// Each member's scorecard by month (`organisation_id`: one member; `None`: all).
    pub async fn member_scorecards(
        &self,
        organisation_id: Option<i64>,
    ) -> Result<Vec<MemberScore>> {
        let at = now();
        let rows = sqlx::query(
            "SELECT o.slug, substr(a.created_at, 1, 7) AS month,
                    COUNT(*) AS alerts,
                    COUNT(*) FILTER (WHERE a.acknowledged_at IS NOT NULL AND (a.acknowledge_by IS NULL OR a.acknowledged_at <= a.acknowledge_by)) AS ack_on_time,
                    COUNT(*) FILTER (WHERE a.state IN ('remediated', 'not-affected') AND (a.remediate_by IS NULL OR a.resolved_at <= a.remediate_by)) AS rem_on_time,
                    COUNT(*) FILTER (WHERE (a.state = 'remediated' AND a.remediate_by IS NOT NULL AND a.resolved_at > a.remediate_by)
                        OR (a.state IN ('open', 'acknowledged') AND a.remediate_by IS NOT NULL AND a.remediate_by < $2)) AS late,
                    COUNT(*) FILTER (WHERE a.escalated_at IS NOT NULL) AS escalated,
                    COUNT(*) FILTER (WHERE a.state IN ('open', 'acknowledged')) AS still_open
             FROM alert a JOIN organisation o ON o.id = a.organisation_id
             WHERE a.kind = 'vulnerability' AND ($1 IS NULL OR a.organisation_id = $1)
             GROUP BY o.slug, month ORDER BY o.slug, month",
        )
        .bind(organisation_id)
        .bind(&at)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| MemberScore {
                organisation: r.get("slug"),
                month: r.get("month"),
                alerts: r.get("alerts"),
                acknowledged_on_time: r.get("ack_on_time"),
                remediated_on_time: r.get("rem_on_time"),
                late_or_open_past_deadline: r.get("late"),
                escalated: r.get("escalated"),
                still_open: r.get("still_open"),
            })
            .collect())
    }
}
