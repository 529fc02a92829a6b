//! Vulnerability alerts kept in line with findings: raised at the policy's threshold,
//! reopened when a finding comes back, remediated when the last one goes.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;

use super::{AlertRow, alert, alert_columns};
use crate::audit::{Change, EventExtra, now};
use crate::rows::parse;
use crate::{AlertId, OrgId, Result};
use ward_model::{AlertExposure, AlertState, Priority};

/// The open findings of an organisation for one vulnerability: (priority, acknowledge_by,
/// remediate_by, title).
pub(crate) struct OpenFindings {
    pub(crate) count: i64,
    pub(crate) best_priority: Priority,
    pub(crate) acknowledge_by: Option<String>,
    pub(crate) remediate_by: Option<String>,
    pub(crate) title: Option<String>,
    /// The most severe CVSS score among them (CVSS words).
    pub(crate) severity: Option<String>,
    /// Every one of them is disputed (sources disagree, none settles it): the alert asks the
    /// member to confirm exposure rather than saying it is affected.
    pub(crate) disputed: bool,
    /// Every one of them has a fix the version cannot show (`fix-unverifiable`).
    pub(crate) unverifiable: bool,
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

/// Why a sync moves alerts: what closed findings (an upload, or the knowledge) and, per
/// vulnerability, the reasons its findings came or went when the knowledge changed.
pub(crate) struct Why {
    /// The upload ("version 3 of the inventory of …"); `None`: the knowledge changed.
    upload: Option<String>,
    gone: BTreeMap<String, Vec<String>>,
    came: BTreeMap<String, Vec<String>>,
}

impl Why {
    pub(crate) fn inventory(upload: String) -> Self {
        Self {
            upload: Some(upload),
            gone: BTreeMap::new(),
            came: BTreeMap::new(),
        }
    }

    pub(crate) fn knowledge() -> Self {
        Self {
            upload: None,
            gone: BTreeMap::new(),
            came: BTreeMap::new(),
        }
    }

    /// Takes the reasons of one asset's changed findings.
    pub(crate) fn add(&mut self, asset: Option<&str>, outcome: &crate::UploadOutcome) {
        let said = |r: &str| asset.map_or_else(|| r.to_owned(), |a| format!("on {a}, {r}"));
        for f in &outcome.resolved {
            if let Some(r) = &f.reason {
                self.gone
                    .entry(f.vulnerability.clone())
                    .or_default()
                    .push(said(r));
            }
        }
        for f in &outcome.new {
            if let Some(r) = &f.reason {
                self.came
                    .entry(f.vulnerability.clone())
                    .or_default()
                    .push(said(r));
            }
        }
    }

    /// Why the alert about `vuln` closes now that no finding of it is left.
    fn closed(&self, vuln: &str) -> String {
        match &self.upload {
            Some(upload) => format!("{upload} no longer has it"),
            None => self.gone.get(vuln).map_or_else(
                || {
                    "the knowledge changed: no source now says the member's components are affected"
                        .to_owned()
                },
                |r| r.join("; "),
            ),
        }
    }

    /// Why the alert about `vuln` opens again.
    fn reopened(&self, vuln: &str) -> String {
        match &self.upload {
            Some(upload) => format!("{upload} has it again"),
            None => self.came.get(vuln).map_or_else(
                || "the knowledge changed: a source says the member's components are affected again".to_owned(),
                |r| r.join("; "),
            ),
        }
    }
}

/// What alerts read of a stored finding: its own deadlines and the shared detail's facts.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Facts {
    kind: Option<String>,
    deadlines: DeadlineFacts,
    title: Option<String>,
    #[serde(deserialize_with = "lenient_scores")]
    cvss: Vec<ward_model::advisory::Cvss>,
    severity: SeverityFacts,
    confidence: Option<String>,
}

/// What alert sync reads of a shared detail: whether it is a notice, its title, its severity
/// in words and the confidence.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DetailFacts {
    pub(crate) informational: bool,
    pub(crate) title: Option<String>,
    pub(crate) severity: Option<String>,
    pub(crate) confidence: Option<String>,
}

impl DetailFacts {
    fn of(f: &Facts) -> Self {
        let score = ward_model::advisory::headline_score(&f.cvss).map(|c| c.base_score);
        // The finding's own severity (preferred source, or the advisory's rating) when it has
        // one; older findings carry only their scores.
        let rated = f
            .severity
            .level
            .as_deref()
            .filter(|l| !matches!(*l, "unknown" | ""))
            .map(str::to_owned);
        Self {
            informational: f.kind.as_deref() == Some("informational"),
            title: f.title.clone(),
            severity: rated
                .or_else(|| score.map(|s| ward_model::advisory::severity_rating(s).to_owned())),
            confidence: f.confidence.clone(),
        }
    }

    /// Read from a detail's text (a detail that does not read has no facts).
    pub(crate) fn of_body(body: &str) -> Self {
        Self::of(&serde_json::from_str(body).unwrap_or_default())
    }
}

/// The facts of shared details, by key, kept across changes: a detail's key is a hash of its
/// text, so what is read of it never changes and the cache needs no invalidation. A re-match
/// puts in what it writes; alert sync then reads no detail it has seen. Sharing is by content
/// alone (as the details themselves are): an entry is looked up only by the key of a finding
/// the caller read within its own scope.
#[derive(Clone, Default)]
pub(crate) struct FactsCache(
    std::sync::Arc<std::sync::Mutex<HashMap<String, std::sync::Arc<DetailFacts>>>>,
);

impl FactsCache {
    /// Entries kept (~250 bytes each: a title, a key); past it the cache starts again empty.
    const MAX: usize = 200_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, std::sync::Arc<DetailFacts>>> {
        // A panic elsewhere cannot leave an entry half-written: a map insert is one step.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self, hash: &str) -> Option<std::sync::Arc<DetailFacts>> {
        self.lock().get(hash).cloned()
    }

    pub(crate) fn contains(&self, hash: &str) -> bool {
        self.lock().contains_key(hash)
    }

    pub(crate) fn insert(&self, entries: impl IntoIterator<Item = (String, DetailFacts)>) {
        let mut map = self.lock();
        for (hash, facts) in entries {
            if map.len() >= Self::MAX {
                map.clear();
            }
            map.insert(hash, std::sync::Arc::new(facts));
        }
    }
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct DeadlineFacts {
    acknowledge_by: Option<String>,
    remediate_by: Option<String>,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct SeverityFacts {
    level: Option<String>,
}

/// Scores that do not read are no scores (as before: the rest of the finding still counts).
fn lenient_scores<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<ward_model::advisory::Cvss>, D::Error> {
    let raw = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
    Ok(serde_json::from_value(raw).unwrap_or_default())
}

/// Open findings per vulnerability, of every vulnerability or only of `only`.
pub(crate) async fn open_findings(
    conn: &mut sqlx::AnyConnection,
    cache: &FactsCache,
    organisation_id: OrgId,
    only: Option<&[String]>,
) -> Result<BTreeMap<String, OpenFindings>> {
    // The shared details are read apart, once per distinct detail and only when the cache
    // has not seen them: joined to each row, the same body (1.4 KB on average in the bench's
    // federation) came over once per finding that shares it, and reading an organisation's
    // findings was most of a re-match's alert sync.
    const COLUMNS: &str =
        "SELECT f.vuln_id, f.priority, f.payload, f.detail, f.acknowledge_by, f.remediate_by
         FROM finding f WHERE f.resolved_at IS NULL AND f.organisation_id = ";
    let rows = match only {
        None => {
            let mut q = crate::sql::Sql::new(crate::Backend::of(conn), COLUMNS);
            q.push_bind(organisation_id);
            q.build().fetch_all(&mut *conn).await?
        }
        Some(vulns) => {
            let mut rows = Vec::new();
            for chunk in vulns.chunks(300) {
                let mut q = crate::sql::Sql::new(crate::Backend::of(conn), COLUMNS);
                q.push_bind(organisation_id).push(" AND f.vuln_id IN (");
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
    // Only the fields read here are decoded (the explanation is skipped), each detail once.
    let mut details: HashMap<String, std::sync::Arc<DetailFacts>> = HashMap::new();
    let mut wanted: Vec<String> = Vec::new();
    for hash in rows
        .iter()
        .filter_map(|r| r.get::<Option<String>, _>("detail"))
    {
        if details.contains_key(&hash) {
            continue;
        }
        match cache.get(&hash) {
            Some(facts) => {
                details.insert(hash, facts);
            }
            None => wanted.push(hash),
        }
    }
    wanted.sort_unstable();
    wanted.dedup();
    for chunk in wanted.chunks(500) {
        let mut q = crate::sql::Sql::new(
            crate::Backend::of(conn),
            "SELECT hash, body FROM finding_detail WHERE hash IN (",
        );
        let mut sep = q.separated(", ");
        for h in chunk {
            sep.push_bind(h);
        }
        q.push(")");
        let mut read = Vec::with_capacity(chunk.len());
        for r in q.build().fetch_all(&mut *conn).await? {
            read.push((
                r.get::<String, _>("hash"),
                DetailFacts::of_body(r.get::<&str, _>("body")),
            ));
        }
        for (hash, facts) in &read {
            details.insert(hash.clone(), std::sync::Arc::new(facts.clone()));
        }
        cache.insert(read);
    }
    let missing = std::sync::Arc::new(DetailFacts::of(&Facts::default()));
    let mut out: BTreeMap<String, OpenFindings> = BTreeMap::new();
    for r in rows {
        let vuln: String = r.get("vuln_id");
        let priority: Priority = parse(&r, "finding", &vuln, "priority")?;
        let own: Facts = serde_json::from_str(r.get::<&str, _>("payload")).unwrap_or_default();
        let shared = match r.get::<Option<&str>, _>("detail") {
            // A row from before details were kept apart: its payload is the whole finding.
            None => std::sync::Arc::new(DetailFacts::of(&own)),
            Some(hash) => details.get(hash).unwrap_or(&missing).clone(),
        };
        // Informational notices (RustSec unmaintained, unsound) are not vulnerabilities:
        // they are listed with the asset's findings but raise no alert.
        if shared.informational {
            continue;
        }
        // A row written before 0028 has its deadlines in its payload (and no acknowledge_by
        // column); a slim row in its columns, to the millisecond already.
        let (ack, rem) = match own.deadlines {
            DeadlineFacts {
                acknowledge_by: None,
                remediate_by: None,
            } => (
                r.get::<Option<String>, _>("acknowledge_by"),
                r.get::<Option<String>, _>("remediate_by"),
            ),
            d => (
                d.acknowledge_by.as_deref().map(millis),
                d.remediate_by.as_deref().map(millis),
            ),
        };
        let confidence = shared.confidence.as_deref();
        let e = out.entry(vuln).or_insert(OpenFindings {
            count: 0,
            best_priority: priority,
            acknowledge_by: None,
            remediate_by: None,
            title: None,
            severity: None,
            disputed: true,
            unverifiable: true,
        });
        e.disputed &= confidence == Some("disputed");
        e.unverifiable &= confidence == Some("fix-unverifiable");
        if let Some(word) = shared.severity.as_deref() {
            let rank = |w: &str| {
                ["none", "low", "medium", "high", "critical"]
                    .iter()
                    .position(|x| *x == w)
            };
            if e.severity.as_deref().is_none_or(|s| rank(s) < rank(word)) {
                e.severity = Some(word.to_owned());
            }
        }
        e.count += 1;
        e.best_priority = e.best_priority.min(priority);
        e.acknowledge_by = min_time(e.acknowledge_by.take(), ack.as_deref());
        e.remediate_by = min_time(e.remediate_by.take(), rem.as_deref());
        if e.title.is_none() {
            e.title = shared.title.clone();
        }
    }
    Ok(out)
}

pub(crate) async fn alert_by_subject(
    change: &mut Change,
    organisation_id: OrgId,
    subject: &str,
) -> Result<Option<AlertRow>> {
    sqlx::query(concat!(
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
    .map(alert)
    .transpose()
}

pub(crate) async fn alert_by_id(change: &mut Change, id: AlertId) -> Result<AlertRow> {
    alert(
        &sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alert a JOIN organisation o ON o.id = a.organisation_id WHERE a.id = $1"
        ))
        .bind(id)
        .fetch_one(&mut *change.tx)
        .await?,
    )
}

pub(crate) fn value(a: &AlertRow) -> serde_json::Value {
    serde_json::to_value(a).expect("serialisable")
}

/// Reads the alert as it now is and audits the change from `before`, in the same transaction
/// (which also queues its notifications).
pub(crate) async fn audited(
    change: &mut Change,
    organisation_id: OrgId,
    action: &str,
    before: &AlertRow,
) -> Result<AlertRow> {
    audited_with(
        change,
        organisation_id,
        action,
        before,
        &EventExtra::default(),
    )
    .await
}

/// [`audited`], with more top-level fields in the notification (a reopening's `reason`).
pub(crate) async fn audited_with(
    change: &mut Change,
    organisation_id: OrgId,
    action: &str,
    before: &AlertRow,
    extra: &EventExtra<'_>,
) -> Result<AlertRow> {
    let after = alert_by_id(change, before.id).await?;
    change
        .alert_changed_with(
            organisation_id,
            action,
            &format!("alert:{}", before.id),
            Some(&value(before)),
            &value(&after),
            extra,
        )
        .await?;
    Ok(after)
}

/// The organisation's vulnerability alerts about `subjects` that also meet `condition` (SQL
/// over the alert `a`, without parameters; empty for all), 300 subjects a statement.
async fn alerts_about(
    change: &mut Change,
    organisation_id: OrgId,
    subjects: &[&str],
    condition: &'static str,
) -> Result<Vec<AlertRow>> {
    let mut out = Vec::new();
    for chunk in subjects.chunks(300) {
        let mut q = crate::sql::Sql::new(
            crate::Backend::of(&change.tx),
            concat!(
                "SELECT ",
                alert_columns!(),
                " FROM alert a JOIN organisation o ON o.id = a.organisation_id
                  WHERE a.kind = 'vulnerability' AND a.organisation_id = "
            ),
        );
        q.push_bind(organisation_id).push(" AND a.subject IN (");
        let mut sep = q.separated(", ");
        for v in chunk {
            sep.push_bind(*v);
        }
        q.push(")").push(condition).push(" ORDER BY a.subject");
        for row in q.build().fetch_all(&mut *change.tx).await? {
            out.push(alert(&row)?);
        }
    }
    Ok(out)
}

/// Brings an organisation's vulnerability alerts in line with its open findings, inside a
/// change: raises alerts for findings at or above `threshold`, reopens remediated or
/// not-affected ones whose finding is back, turns confirm-exposure into affected, and marks
/// affected alerts remediated when no finding is left. Returns the alerts it touched.
/// `only`: the vulnerabilities whose findings changed (alerts of others cannot have changed).
pub(crate) async fn sync_alerts(
    change: &mut Change,
    organisation_id: OrgId,
    threshold: Priority,
    only: &[String],
    why: &Why,
) -> Result<Vec<AlertRow>> {
    if only.is_empty() {
        return Ok(Vec::new());
    }
    let findings =
        open_findings(&mut change.tx, &change.facts, organisation_id, Some(only)).await?;
    let at = now();
    // The organisation's alerts about these vulnerabilities, read at once rather than one
    // statement per vulnerability.
    let subjects: Vec<&str> = findings.keys().map(String::as_str).collect();
    let mut alerts: HashMap<String, AlertRow> =
        alerts_about(change, organisation_id, &subjects, "")
            .await?
            .into_iter()
            .map(|a| (a.subject.clone(), a))
            .collect();
    let mut touched = Vec::new();
    for (vuln, f) in &findings {
        let existing = alerts.remove(vuln);
        let alerting = f.best_priority.reaches(threshold);
        match existing {
            None if alerting => {
                let new_id = change.new_id(crate::ids::Kind::Alert).await?;
                let row = sqlx::query(
                    "INSERT INTO alert (organisation_id, kind, subject, title, level, state, evidence, created_at, updated_at,
                                        exposure, origin, priority, acknowledge_by, remediate_by, id, severity)
                     VALUES ($1, 'vulnerability', $2, $3, NULL, 'open', $4, $5, $5, $11, 'automatic', $6, $7, $8, $9, $10)
                     RETURNING id",
                )
                .bind(organisation_id)
                .bind(vuln)
                .bind(f.title.clone().map_or_else(|| vuln.clone(), |t| format!("{vuln}: {t}")))
                .bind(f.count)
                .bind(&at)
                .bind(f.best_priority.as_str())
                .bind(&f.acknowledge_by)
                .bind(&f.remediate_by)
                .bind(new_id)
                .bind(&f.severity)
                .bind(if f.disputed {
                    AlertExposure::ConfirmExposure.as_str()
                } else {
                    AlertExposure::Affected.as_str()
                })
                .fetch_one(&mut *change.tx)
                .await?;
                let a = alert_by_id(change, row.get("id")).await?;
                change
                    .alert_changed(
                        organisation_id,
                        "alert.raise",
                        &format!("alert:{}", a.id),
                        None,
                        &value(&a),
                    )
                    .await?;
                touched.push(a);
            }
            None => {}
            Some(a) => {
                // A member's "fix installed" (a hot-fix the version cannot show) stands while
                // the findings it answered are the ones that cannot tell.
                let fix_installed = a.state == AlertState::Remediated
                    && a.answer
                        .as_deref()
                        .is_some_and(|x| x.starts_with(super::FIX_INSTALLED))
                    && f.unverifiable;
                let reopen = !fix_installed
                    && matches!(
                        a.state,
                        AlertState::Remediated | AlertState::NotAffected | AlertState::Withdrawn
                    );
                // Disputed findings leave a confirm-exposure alert asking; a settled one makes
                // it affected.
                let becomes_affected = a.exposure != Some(AlertExposure::Affected) && !f.disputed;
                let exposure = if !f.disputed {
                    AlertExposure::Affected
                } else if reopen {
                    // Reopened by disputed findings only: it asks again rather than asserts.
                    AlertExposure::ConfirmExposure
                } else {
                    a.exposure.unwrap_or(AlertExposure::Affected)
                };
                let changed_facts = a.evidence != f.count || a.priority != Some(f.best_priority);
                if !(reopen || becomes_affected || changed_facts) {
                    continue;
                }
                sqlx::query(
                    "UPDATE alert SET evidence = $1, priority = $2, exposure = $9, updated_at = $3,
                         state = CASE WHEN $4 THEN 'open' ELSE state END,
                         resolved_at = CASE WHEN $4 THEN NULL ELSE resolved_at END,
                         acknowledged_at = CASE WHEN $4 THEN NULL ELSE acknowledged_at END,
                         justification = CASE WHEN $4 THEN NULL ELSE justification END,
                         resolution = CASE WHEN $4 THEN NULL ELSE resolution END,
                         resolution_reason = CASE WHEN $4 THEN NULL ELSE resolution_reason END,
                         acknowledge_by = COALESCE(acknowledge_by, $5),
                         remediate_by = COALESCE(remediate_by, $6),
                         severity = COALESCE($8, severity)
                     WHERE id = $7",
                )
                .bind(f.count)
                .bind(f.best_priority.as_str())
                .bind(&at)
                .bind(reopen)
                .bind(&f.acknowledge_by)
                .bind(&f.remediate_by)
                .bind(a.id)
                .bind(&f.severity)
                .bind(exposure.as_str())
                .execute(&mut *change.tx)
                .await?;
                let action = if reopen {
                    "alert.reopen"
                } else if becomes_affected {
                    "alert.affected"
                } else {
                    "alert.evidence"
                };
                let extra = EventExtra {
                    missed: None,
                    reason: reopen.then(|| why.reopened(vuln)),
                };
                touched.push(audited_with(change, organisation_id, action, &a, &extra).await?);
            }
        }
    }
    // Affected alerts whose findings are all gone: remediated by the new inventory, or
    // withdrawn because the knowledge changed (nothing was patched: not a remediation). A
    // risk the member accepted about findings the knowledge no longer has is withdrawn too;
    // one whose findings an upload removed runs to its expiry (see `tick`).
    // Read for `only`'s vulnerabilities alone: read for the whole organisation, a KEV listing
    // at 200 members read each one's ~100 open alerts to use one (0.24 s of the listing).
    let only: Vec<&str> = only.iter().map(String::as_str).collect();
    let stale = alerts_about(
        change,
        organisation_id,
        &only,
        " AND (a.exposure = 'affected' OR (a.exposure = 'confirm-exposure' AND a.origin = 'automatic'))
          AND a.state IN ('open', 'acknowledged', 'risk-accepted')",
    )
    .await?;
    for a in stale {
        if findings.contains_key(&a.subject) {
            continue;
        }
        let withdrawn = why.upload.is_none();
        if a.state == AlertState::RiskAccepted && !withdrawn {
            continue;
        }
        let (state, action) = if withdrawn {
            ("withdrawn", "alert.withdraw")
        } else {
            ("remediated", "alert.remediate")
        };
        let resolution = if withdrawn { "withdrawn" } else { "inventory" };
        let reason = why.closed(&a.subject);
        sqlx::query(
            "UPDATE alert SET state = $1, resolution = $2, resolution_reason = $3, resolved_at = $4, updated_at = $4,
                 evidence = 0, justification = NULL, accepted_until = NULL,
                 acknowledged_at = CASE WHEN $5 THEN acknowledged_at ELSE COALESCE(acknowledged_at, $4) END
             WHERE id = $6",
        )
        .bind(state)
        .bind(resolution)
        .bind(&reason)
        .bind(&at)
        .bind(withdrawn)
        .bind(a.id)
        .execute(&mut *change.tx)
        .await?;
        touched.push(
            audited_with(
                change,
                organisation_id,
                action,
                &a,
                &EventExtra {
                    missed: None,
                    reason: Some(reason),
                },
            )
            .await?,
        );
    }
    Ok(touched)
}
