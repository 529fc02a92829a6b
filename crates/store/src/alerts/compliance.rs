//! Compliance: how members did against their deadlines, per alert and per month.

use serde::Serialize;
use sqlx::Row;

use crate::audit::now;
use crate::{Result, Scope, Store};

/// The definitions every compliance count is made of, written once (`docs/server.md`,
/// "Compliance"): the per-alert report, the members' scorecards, their CSV and the members page
/// all count with these. `$2` is now. (Macros, so that queries stay string literals.)
macro_rules! acknowledged_on_time {
    () => {
        "(a.acknowledged_at IS NOT NULL AND (a.acknowledge_by IS NULL OR a.acknowledged_at <= a.acknowledge_by))"
    };
}
/// Not acknowledged (nor resolved) by the deadline: still unacknowledged after it, or
/// acknowledged or closed after it.
macro_rules! acknowledgement_missed {
    () => {
        "(a.acknowledge_by IS NOT NULL AND COALESCE(a.acknowledged_at, a.resolved_at, $2) > a.acknowledge_by)"
    };
}
/// Remediated: by an upload or the member's statement. Not-affected, risk-accepted and
/// withdrawn alerts are other states, never counted here.
macro_rules! remediated_on_time {
    () => {
        "(a.state = 'remediated' AND (a.remediate_by IS NULL OR a.resolved_at <= a.remediate_by))"
    };
}
/// Remediated after the deadline, or still open past it.
macro_rules! remediation_missed {
    () => {
        "(a.remediate_by IS NOT NULL AND ((a.state = 'remediated' AND a.resolved_at > a.remediate_by)
            OR (a.state IN ('open', 'acknowledged') AND a.remediate_by < $2)))"
    };
}
/// Every count of one group of alerts, in the order [`AlertCounts::read`] reads them.
macro_rules! counts {
    () => {
        concat!(
            "COUNT(*) AS alerts,
             COUNT(*) FILTER (WHERE a.exposure = 'affected') AS affected,
             COUNT(*) FILTER (WHERE a.exposure = 'confirm-exposure') AS confirm_exposure,
             COUNT(*) FILTER (WHERE a.acknowledged_at IS NOT NULL) AS acknowledged,
             COUNT(*) FILTER (WHERE ",
            acknowledged_on_time!(),
            ") AS acknowledged_on_time,
             COUNT(*) FILTER (WHERE ",
            acknowledgement_missed!(),
            ") AS acknowledgement_missed,
             COUNT(*) FILTER (WHERE a.state = 'remediated') AS remediated,
             COUNT(*) FILTER (WHERE ",
            remediated_on_time!(),
            ") AS remediated_on_time,
             COUNT(*) FILTER (WHERE ",
            remediation_missed!(),
            ") AS remediation_missed,
             COUNT(*) FILTER (WHERE ",
            acknowledgement_missed!(),
            " OR ",
            remediation_missed!(),
            ") AS late,
             COUNT(*) FILTER (WHERE a.escalated_at IS NOT NULL) AS escalated,
             COUNT(*) FILTER (WHERE a.state IN ('open', 'acknowledged')) AS still_open,
             COUNT(*) FILTER (WHERE a.state = 'not-affected') AS not_affected,
             COUNT(*) FILTER (WHERE a.state = 'risk-accepted') AS risk_accepted,
             COUNT(*) FILTER (WHERE a.state = 'withdrawn') AS withdrawn"
        )
    };
}

/// The counts of a group of alerts (one vulnerability's, or one member's in one month), each
/// by the definitions above.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AlertCounts {
    pub alerts: i64,
    /// Alerts about findings in the member's inventory.
    pub affected: i64,
    /// Alerts asking the member to confirm whether it runs the product.
    pub confirm_exposure: i64,
    pub acknowledged: i64,
    /// Acknowledged (or resolved) by the acknowledgement deadline.
    pub acknowledged_on_time: i64,
    /// Not acknowledged by the deadline (still not, or later).
    pub acknowledgement_missed: i64,
    /// Remediated by an upload or the member's statement (not-affected, risk-accepted and
    /// withdrawn are counted apart).
    pub remediated: i64,
    pub remediated_on_time: i64,
    /// Remediated after the deadline, or still open past it.
    pub remediation_missed: i64,
    /// Past a deadline: an acknowledgement missed or a remediation missed (an alert that
    /// missed both counts once).
    pub late: i64,
    pub escalated: i64,
    pub still_open: i64,
    pub not_affected: i64,
    pub risk_accepted: i64,
    /// Closed because the knowledge changed: nothing was patched.
    pub withdrawn: i64,
}

impl AlertCounts {
    fn read(r: &sqlx::any::AnyRow) -> Self {
        Self {
            alerts: r.get("alerts"),
            affected: r.get("affected"),
            confirm_exposure: r.get("confirm_exposure"),
            acknowledged: r.get("acknowledged"),
            acknowledged_on_time: r.get("acknowledged_on_time"),
            acknowledgement_missed: r.get("acknowledgement_missed"),
            remediated: r.get("remediated"),
            remediated_on_time: r.get("remediated_on_time"),
            remediation_missed: r.get("remediation_missed"),
            late: r.get("late"),
            escalated: r.get("escalated"),
            still_open: r.get("still_open"),
            not_affected: r.get("not_affected"),
            risk_accepted: r.get("risk_accepted"),
            withdrawn: r.get("withdrawn"),
        }
    }

    /// The sum of several groups (a member's months: its card).
    pub fn sum<'a>(groups: impl IntoIterator<Item = &'a Self>) -> Self {
        groups.into_iter().fold(Self::default(), |t, c| Self {
            alerts: t.alerts + c.alerts,
            affected: t.affected + c.affected,
            confirm_exposure: t.confirm_exposure + c.confirm_exposure,
            acknowledged: t.acknowledged + c.acknowledged,
            acknowledged_on_time: t.acknowledged_on_time + c.acknowledged_on_time,
            acknowledgement_missed: t.acknowledgement_missed + c.acknowledgement_missed,
            remediated: t.remediated + c.remediated,
            remediated_on_time: t.remediated_on_time + c.remediated_on_time,
            remediation_missed: t.remediation_missed + c.remediation_missed,
            late: t.late + c.late,
            escalated: t.escalated + c.escalated,
            still_open: t.still_open + c.still_open,
            not_affected: t.not_affected + c.not_affected,
            risk_accepted: t.risk_accepted + c.risk_accepted,
            withdrawn: t.withdrawn + c.withdrawn,
        })
    }
}

/// Declares a report row: its own leading fields, then every field of [`AlertCounts`] (flat, so
/// that the CSV has a column each; the `csv` crate cannot write serde's flattened maps), and
/// `counts()` to read them back as one value.
macro_rules! with_counts {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
            pub alerts: i64,
            pub affected: i64,
            pub confirm_exposure: i64,
            pub acknowledged: i64,
            pub acknowledged_on_time: i64,
            pub acknowledgement_missed: i64,
            pub remediated: i64,
            pub remediated_on_time: i64,
            pub remediation_missed: i64,
            pub late: i64,
            pub escalated: i64,
            pub still_open: i64,
            pub not_affected: i64,
            pub risk_accepted: i64,
            pub withdrawn: i64,
        }

        impl $name {
            /// The counts, as one value (to sum or compare).
            pub fn counts(&self) -> AlertCounts {
                AlertCounts { alerts: self.alerts, affected: self.affected, confirm_exposure: self.confirm_exposure, acknowledged: self.acknowledged, acknowledged_on_time: self.acknowledged_on_time, acknowledgement_missed: self.acknowledgement_missed, remediated: self.remediated, remediated_on_time: self.remediated_on_time, remediation_missed: self.remediation_missed, late: self.late, escalated: self.escalated, still_open: self.still_open, not_affected: self.not_affected, risk_accepted: self.risk_accepted, withdrawn: self.withdrawn }
            }

            fn with(counts: AlertCounts, $($f: $t),*) -> Self {
                Self { $($f,)* alerts: counts.alerts, affected: counts.affected, confirm_exposure: counts.confirm_exposure, acknowledged: counts.acknowledged, acknowledged_on_time: counts.acknowledged_on_time, acknowledgement_missed: counts.acknowledgement_missed, remediated: counts.remediated, remediated_on_time: counts.remediated_on_time, remediation_missed: counts.remediation_missed, late: counts.late, escalated: counts.escalated, still_open: counts.still_open, not_affected: counts.not_affected, risk_accepted: counts.risk_accepted, withdrawn: counts.withdrawn }
            }
        }
    };
}

with_counts! {
    /// Per vulnerability: how the members alerted about it did against their deadlines (the
    /// fields after `members` are [`AlertCounts`]'s).
    pub struct AlertCompliance {
        pub vulnerability: String,
        /// Members alerted (one alert each: the same as `alerts`).
        pub members: i64,
        /// Open or acknowledged: the same as `still_open` (the first reports' name).
        pub open: i64,
    }
}

with_counts! {
    /// Per member and month (of the alert's creation): a scorecard (the fields after
    /// `late_or_open_past_deadline` are [`AlertCounts`]'s).
    pub struct MemberScore {
        pub organisation: String,
        pub month: String,
        /// Past a deadline: the same number as `late` (the name the first scorecards used).
        pub late_or_open_past_deadline: i64,
    }
}

impl Store {
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

    /// Compliance per vulnerability alert within the scope (a member: its own alerts).
    pub async fn alert_compliance(&self, scope: Scope) -> Result<Vec<AlertCompliance>> {
        let rows = sqlx::query(concat!(
            "SELECT a.subject, ",
            counts!(),
            " FROM alert a
             WHERE a.kind = 'vulnerability' AND ($1 IS NULL OR a.organisation_id = $1)
             GROUP BY a.subject ORDER BY a.subject"
        ))
        .bind(scope.organisation())
        .bind(now())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let counts = AlertCounts::read(r);
                let (members, open) = (counts.alerts, counts.still_open);
                AlertCompliance::with(counts, r.get("subject"), members, open)
            })
            .collect())
    }

    /// Each member's scorecard by month within the scope (a member: its own).
    pub async fn member_scorecards(&self, scope: Scope) -> Result<Vec<MemberScore>> {
        let rows = sqlx::query(concat!(
            "SELECT o.slug, substr(a.created_at, 1, 7) AS month, ",
            counts!(),
            " FROM alert a JOIN organisation o ON o.id = a.organisation_id
             WHERE a.kind = 'vulnerability' AND ($1 IS NULL OR a.organisation_id = $1)
             GROUP BY o.slug, month ORDER BY o.slug, month"
        ))
        .bind(scope.organisation())
        .bind(now())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let counts = AlertCounts::read(r);
                let late = counts.late;
                MemberScore::with(counts, r.get("slug"), r.get("month"), late)
            })
            .collect())
    }
}
