//! The deadline check: escalation of missed deadlines, expiry of risk acceptances.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;

use super::sync::{alert_by_id, audited, value};
use super::{AlertRow, alert, alert_columns};
use crate::audit::Change;
use crate::{AlertId, OrgId, Result, Store};
use ward_model::{AlertExposure, AlertKind};

/// What the periodic deadline check did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TickOutcome {
    pub escalated: Vec<AlertRow>,
    pub reopened: Vec<AlertRow>,
    /// Expired risk acceptances of alerts whose findings had all gone meanwhile (the member
    /// upgraded while the risk was accepted): closed as remediated, not reopened.
    pub remediated: Vec<AlertRow>,
}

impl Store {
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
        for a in expired.iter().map(alert).collect::<Result<Vec<_>>>()? {
            // An alert about the member's own findings reopens only if some are still open.
            if a.kind == AlertKind::Vulnerability && a.exposure == Some(AlertExposure::Affected) {
                let open: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM finding
                     WHERE organisation_id = $1 AND vuln_id = $2 AND resolved_at IS NULL",
                )
                .bind(a.organisation_id)
                .bind(&a.subject)
                .fetch_one(&mut *change.tx)
                .await?
                .get("n");
                if open == 0 {
                    sqlx::query(
                        "UPDATE alert SET state = 'remediated', resolution = 'inventory',
                             resolution_reason = 'the risk acceptance ran out after the inventory stopped having it',
                             justification = NULL, resolved_at = $1, accepted_until = NULL,
                             evidence = 0, updated_at = $1, acknowledged_at = COALESCE(acknowledged_at, $1)
                         WHERE id = $2",
                    )
                    .bind(&at)
                    .bind(a.id)
                    .execute(&mut *change.tx)
                    .await?;
                    outcome.remediated.push(
                        audited(&mut change, a.organisation_id, "alert.remediate", &a).await?,
                    );
                    continue;
                }
            }
            sqlx::query(
                "UPDATE alert SET state = 'open', resolved_at = NULL, accepted_until = NULL, resolution = NULL,
                     resolution_reason = NULL, updated_at = $1 WHERE id = $2",
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
        // for incidents, missed triage (still open) or containment (open, triaged or
        // confirmed). Escalated once per missed deadline.
        let late = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alert a JOIN organisation o ON o.id = a.organisation_id
              WHERE (
                    (a.state = 'open' AND a.acknowledge_by < $1 AND a.escalated_at IS NULL)
                 OR (a.state IN ('open', 'acknowledged', 'triaged', 'confirmed') AND a.remediate_by < $1
                     AND (a.escalated_at IS NULL OR a.escalated_at < a.remediate_by)))"
        ))
        .bind(&at)
        .fetch_all(&mut *change.tx)
        .await?;
        for a in late.iter().map(alert).collect::<Result<Vec<_>>>()? {
            sqlx::query("UPDATE alert SET escalated_at = $1, updated_at = $1 WHERE id = $2")
                .bind(&at)
                .bind(a.id)
                .execute(&mut *change.tx)
                .await?;
            let after = alert_by_id(&mut change, a.id).await?;
            let org = org_of(&mut change, a.id).await?;
            let incident = a.kind == AlertKind::PossibleCompromise;
            let missed = match (a.remediate_by.is_some_and(|r| r < now_), incident) {
                (true, false) => "remediation",
                (true, true) => "containment",
                (false, false) => "acknowledgement",
                (false, true) => "triage",
            };
            // The alert where every event has it (it was nested one level deeper, so e-mails of
            // escalations said nothing of the alert); which deadline was missed beside it.
            change
                .alert_changed_with(
                    org,
                    "alert.escalate",
                    &format!("alert:{}", a.id),
                    Some(&value(&a)),
                    &value(&after),
                    &crate::audit::EventExtra {
                        missed: Some(missed),
                        reason: None,
                    },
                )
                .await?;
            outcome.escalated.push(after);
        }
        if outcome.escalated.is_empty()
            && outcome.reopened.is_empty()
            && outcome.remediated.is_empty()
        {
            // Nothing changed: leave the chain's head alone.
            change.tx.rollback().await?;
            return Ok(outcome);
        }
        change.commit().await?;
        Ok(outcome)
    }
}

async fn org_of(change: &mut Change, alert_id: AlertId) -> Result<OrgId> {
    Ok(
        sqlx::query("SELECT organisation_id FROM alert WHERE id = $1")
            .bind(alert_id)
            .fetch_one(&mut *change.tx)
            .await?
            .get("organisation_id"),
    )
}
