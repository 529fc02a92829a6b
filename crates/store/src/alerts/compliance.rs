//! Compliance: how members did against their deadlines, per alert and per month.

use serde::Serialize;
use sqlx::Row;

use crate::audit::now;
use crate::{Result, Scope, Store};

/// Per vulnerability: how the members alerted about it did against their deadlines.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MemberScore {
    pub organisation: String,
    pub month: String,
    pub alerts: i64,
    pub acknowledged_on_time: i64,
    /// Remediated (by an inventory change or the member's statement) by the deadline; a
    /// not-affected answer or an accepted risk is not a remediation and is counted apart.
    pub remediated_on_time: i64,
    pub late_or_open_past_deadline: i64,
    pub escalated: i64,
    pub still_open: i64,
    pub not_affected: i64,
    pub risk_accepted: i64,
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

    pub async fn alert_compliance(&self, scope: Scope) -> Result<Vec<AlertCompliance>> {
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
        .bind(scope.organisation())
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
    pub async fn member_scorecards(&self, scope: Scope) -> Result<Vec<MemberScore>> {
        let at = now();
        let rows = sqlx::query(
            "SELECT o.slug, substr(a.created_at, 1, 7) AS month,
                    COUNT(*) AS alerts,
                    COUNT(*) FILTER (WHERE a.acknowledged_at IS NOT NULL AND (a.acknowledge_by IS NULL OR a.acknowledged_at <= a.acknowledge_by)) AS ack_on_time,
                    COUNT(*) FILTER (WHERE a.state = 'remediated' AND (a.remediate_by IS NULL OR a.resolved_at <= a.remediate_by)) AS rem_on_time,
                    COUNT(*) FILTER (WHERE (a.state = 'remediated' AND a.remediate_by IS NOT NULL AND a.resolved_at > a.remediate_by)
                        OR (a.state IN ('open', 'acknowledged') AND a.remediate_by IS NOT NULL AND a.remediate_by < $2)) AS late,
                    COUNT(*) FILTER (WHERE a.escalated_at IS NOT NULL) AS escalated,
                    COUNT(*) FILTER (WHERE a.state IN ('open', 'acknowledged')) AS still_open,
                    COUNT(*) FILTER (WHERE a.state = 'not-affected') AS not_affected,
                    COUNT(*) FILTER (WHERE a.state = 'risk-accepted') AS risk_accepted
             FROM alert a JOIN organisation o ON o.id = a.organisation_id
             WHERE a.kind = 'vulnerability' AND ($1 IS NULL OR a.organisation_id = $1)
             GROUP BY o.slug, month ORDER BY o.slug, month",
        )
        .bind(scope.organisation())
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
                not_affected: r.get("not_affected"),
                risk_accepted: r.get("risk_accepted"),
            })
            .collect())
    }
}
