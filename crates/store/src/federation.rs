//! The federation's records: organisations, API tokens, sightings, alerts, and the
//! hash-chained audit log that every change writes in its own transaction.
//!
//! Every query that returns member data takes the organisation it is for; callers (the server)
//! decide which organisation a principal may see, and the SQL filters on it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

use crate::{Result, Store, StoreError};

/// What a token (and later a user) may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    CentralAdmin,
    CentralAnalyst,
    MemberAdmin,
    MemberAnalyst,
    ReadOnly,
}

impl Role {
    pub const ALL: [Self; 5] = [
        Self::CentralAdmin,
        Self::CentralAnalyst,
        Self::MemberAdmin,
        Self::MemberAnalyst,
        Self::ReadOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CentralAdmin => "central-admin",
            Self::CentralAnalyst => "central-analyst",
            Self::MemberAdmin => "member-admin",
            Self::MemberAnalyst => "member-analyst",
            Self::ReadOnly => "read-only",
        }
    }

    /// A central role: sees every organisation.
    pub fn is_central(self) -> bool {
        matches!(self, Self::CentralAdmin | Self::CentralAnalyst)
    }

    /// May change things (report, acknowledge, upload), not only read.
    pub fn can_write(self) -> bool {
        self != Self::ReadOnly
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}; expected one of central-admin, central-analyst, member-admin, member-analyst, read-only"
                )
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub central: bool,
    pub created_at: String,
}

/// An API token as listed (never the secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub organisation: String,
    pub name: String,
    pub role: Role,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// Who is calling: a valid, unrevoked token's (or a signed-in user's) organisation and role.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `token:<id>` or `user:<email>`.
    pub credential: String,
    pub organisation: Organisation,
    pub role: Role,
}

impl Principal {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        format!("{}@{}", self.credential, self.organisation.slug)
    }
}

/// A sighting as a member reports it (from a STIX `sighting` object).
#[derive(Debug, Clone)]
pub struct NewSighting {
    pub stix_id: String,
    pub sighting_of: String,
    pub title: String,
    pub level: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct SightingRow {
    pub id: i64,
    pub organisation: String,
    pub stix_id: String,
    pub sighting_of: String,
    pub title: String,
    pub level: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub reported_at: String,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertRow {
    pub id: i64,
    pub organisation: String,
    /// `vulnerability` or `possible-compromise`.
    pub kind: String,
    /// The CVE, or what was sighted.
    pub subject: String,
    pub title: String,
    pub level: Option<String>,
    /// open, acknowledged, remediated, risk-accepted, not-affected.
    pub state: String,
    /// Findings or sightings behind it.
    pub evidence: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Vulnerability alerts: `affected` (the inventory has it) or `confirm-exposure` (the
    /// inventory says nothing about the product: the member is asked to confirm).
    pub exposure: Option<String>,
    /// `automatic` (a finding reached the policy's threshold) or `issued` (by a central analyst).
    pub origin: Option<String>,
    pub priority: Option<String>,
    pub acknowledge_by: Option<String>,
    pub remediate_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub resolved_at: Option<String>,
    pub justification: Option<String>,
    pub accepted_until: Option<String>,
    /// When a missed deadline was escalated to the central team.
    pub escalated_at: Option<String>,
    pub note: Option<String>,
}

/// What recording a report did.
#[derive(Debug, Clone, Serialize)]
pub struct ReportOutcome {
    /// Sightings stored now.
    pub recorded: usize,
    /// Sightings already stored by an earlier report (same STIX id).
    pub already_known: usize,
    /// The possible-compromise alerts raised, reopened or added to.
    pub alerts: Vec<AlertRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub organisation_id: Option<i64>,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The verdict of `ward audit verify`.
#[derive(Debug, Clone, Serialize)]
pub struct AuditVerdict {
    pub entries: usize,
    pub head_seq: i64,
    /// Empty when the chain is intact.
    pub problems: Vec<String>,
}

/// One alert within the scope (`Some(org)`: that organisation's only), on any connection (the
/// pool's, or a change's transaction).
pub(crate) async fn scoped_alert(
    conn: &mut sqlx::AnyConnection,
    organisation_id: Option<i64>,
    id: i64,
) -> Result<Option<AlertRow>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        alert_columns!(),
        " FROM alert a JOIN organisation o ON o.id = a.organisation_id
         WHERE a.id = $1 AND ($2 IS NULL OR a.organisation_id = $2)"
    ))
    .bind(id)
    .bind(organisation_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(alert))
}

pub(crate) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[allow(clippy::too_many_arguments)]
fn entry_hash(
    seq: i64,
    at: &str,
    actor: &str,
    organisation_id: Option<i64>,
    action: &str,
    target: &str,
    before: Option<&str>,
    after: Option<&str>,
    prev_hash: &str,
) -> String {
    // Length-prefixed fields: no two different entries hash the same text.
    let mut h = Sha256::new();
    let org = organisation_id.map(|o| o.to_string());
    for part in [
        Some(seq.to_string().as_str()),
        Some(at),
        Some(actor),
        org.as_deref(),
        Some(action),
        Some(target),
        before,
        after,
        Some(prev_hash),
    ] {
        match part {
            Some(p) => {
                h.update((p.len() as u64).to_be_bytes());
                h.update(p.as_bytes());
            }
            None => h.update(u64::MAX.to_be_bytes()),
        }
    }
    hex::encode(h.finalize())
}

/// A change in progress: a transaction that holds the audit chain's head, so that its audit
/// entries and its state changes land together or not at all.
pub struct Change {
    pub(crate) tx: Transaction<'static, Any>,
    seq: i64,
    hash: String,
    actor: String,
}

impl Change {
    /// Appends an audit entry (before/after as JSON).
    pub async fn log(
        &mut self,
        organisation_id: Option<i64>,
        action: &str,
        target: &str,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
    ) -> Result<()> {
        let seq = self.seq + 1;
        let at = now();
        let before = before.map(serde_json::Value::to_string);
        let after = after.map(serde_json::Value::to_string);
        let hash = entry_hash(
            seq,
            &at,
            &self.actor,
            organisation_id,
            action,
            target,
            before.as_deref(),
            after.as_deref(),
            &self.hash,
        );
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, organisation_id, action, target, before, after, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(seq)
        .bind(&at)
        .bind(&self.actor)
        .bind(organisation_id)
        .bind(action)
        .bind(target)
        .bind(&before)
        .bind(&after)
        .bind(&self.hash)
        .bind(&hash)
        .execute(&mut *self.tx)
        .await?;
        self.seq = seq;
        self.hash = hash;
        // Alert changes are notified: queued here, in the same transaction.
        if let (Some(org), true) = (organisation_id, action.starts_with("alert.")) {
            let payload = serde_json::json!({
                "event": action,
                "at": at,
                "alert": after.as_deref().map(serde_json::from_str::<serde_json::Value>).transpose().ok().flatten(),
                "audit_seq": seq,
            });
            self.enqueue(org, action, &payload, seq).await?;
        }
        Ok(())
    }

    pub async fn commit(mut self) -> Result<()> {
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(self.seq)
            .bind(&self.hash)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(())
    }
}

pub(crate) fn organisation(row: &sqlx::any::AnyRow) -> Organisation {
    Organisation {
        id: row.get("id"),
        slug: row.get("slug"),
        name: row.get("name"),
        central: row.get::<i64, _>("central") == 1,
        created_at: row.get("created_at"),
    }
}

pub(crate) fn alert(row: &sqlx::any::AnyRow) -> AlertRow {
    AlertRow {
        id: row.get("id"),
        organisation: row.get("slug"),
        kind: row.get("kind"),
        subject: row.get("subject"),
        title: row.get("title"),
        level: row.get("level"),
        state: row.get("state"),
        evidence: row.get("evidence"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        exposure: row.get("exposure"),
        origin: row.get("origin"),
        priority: row.get("priority"),
        acknowledge_by: row.get("acknowledge_by"),
        remediate_by: row.get("remediate_by"),
        acknowledged_at: row.get("acknowledged_at"),
        resolved_at: row.get("resolved_at"),
        justification: row.get("justification"),
        accepted_until: row.get("accepted_until"),
        escalated_at: row.get("escalated_at"),
        note: row.get("note"),
    }
}

/// Sigma levels and their order (indicator sightings carry none and count as `high`: a known
/// attacker's address in one's own logs is never informational).
fn level_rank(level: Option<&str>) -> u8 {
    match level {
        Some("critical") => 5,
        Some("high") | None => 4,
        Some("medium") => 3,
        Some("low") => 2,
        _ => 1,
    }
}

/// The columns `alert()` reads (a macro so that queries stay string literals: sqlx refuses
/// SQL built at run time).
macro_rules! alert_columns {
    () => {
        "a.id, o.slug, a.kind, a.subject, a.title, a.level, a.state, a.evidence, a.created_at, a.updated_at,
         a.exposure, a.origin, a.priority, a.acknowledge_by, a.remediate_by, a.acknowledged_at, a.resolved_at,
         a.justification, a.accepted_until, a.escalated_at, a.note"
    };
}
pub(crate) use alert_columns;

impl Store {
    /// Starts a change made by `actor` (a token, or `cli:<user>` for `ward admin`).
    /// Records an action that changes nothing else in the store (an import's summary, say).
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        after: &serde_json::Value,
    ) -> Result<()> {
        let mut change = self.begin_change(actor).await?;
        change.log(None, action, target, None, Some(after)).await?;
        change.commit().await
    }

    pub async fn begin_change(&self, actor: &str) -> Result<Change> {
        let mut tx = self.pool.begin().await?;
        // A write first: it takes the database's write lock, so the head read here stays the
        // head until this change commits.
        let row = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut *tx)
            .await?;
        Ok(Change {
            tx,
            seq: row.get("seq"),
            hash: row.get("hash"),
            actor: actor.to_owned(),
        })
    }

    pub async fn create_organisation(
        &self,
        actor: &str,
        slug: &str,
        name: &str,
        central: bool,
    ) -> Result<Organisation> {
        if slug.is_empty()
            || slug.len() > 64
            || !slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(StoreError::Invalid(format!(
                "organisation slug {slug:?}: use 1 to 64 lower-case letters, digits and hyphens"
            )));
        }
        if name.trim().is_empty() {
            return Err(StoreError::Invalid("organisation name is empty".into()));
        }
        let mut change = self.begin_change(actor).await?;
        let exists = sqlx::query("SELECT 1 FROM organisation WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&mut *change.tx)
            .await?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!(
                "organisation {slug:?} exists already"
            )));
        }
        if central {
            let has = sqlx::query("SELECT slug FROM organisation WHERE central = 1")
                .fetch_optional(&mut *change.tx)
                .await?;
            if let Some(row) = has {
                return Err(StoreError::Conflict(format!(
                    "the central team is {:?} already; there is one",
                    row.get::<String, _>("slug")
                )));
            }
        }
        let row = sqlx::query(
            "INSERT INTO organisation (slug, name, central, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id, slug, name, central, created_at",
        )
        .bind(slug)
        .bind(name)
        .bind(i64::from(central))
        .bind(now())
        .fetch_one(&mut *change.tx)
        .await?;
        let org = organisation(&row);
        change
            .log(
                Some(org.id),
                "organisation.create",
                &format!("organisation:{slug}"),
                None,
                Some(&serde_json::to_value(&org).expect("serialisable")),
            )
            .await?;
        change.commit().await?;
        Ok(org)
    }

    pub async fn organisations(&self) -> Result<Vec<Organisation>> {
        let rows = sqlx::query("SELECT id, slug, name, central, created_at FROM organisation ORDER BY central DESC, slug")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(organisation).collect())
    }

    pub async fn organisation_by_slug(&self, slug: &str) -> Result<Option<Organisation>> {
        let row = sqlx::query(
            "SELECT id, slug, name, central, created_at FROM organisation WHERE slug = $1",
        )
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(organisation))
    }

    /// Creates a token for an organisation; returns it with its secret, which is shown once and
    /// stored only as a SHA-256 hash. Central roles need the central organisation, member roles
    /// a member.
    pub async fn create_token(
        &self,
        actor: &str,
        org_slug: &str,
        name: &str,
        role: Role,
    ) -> Result<(TokenInfo, String)> {
        let org = self
            .organisation_by_slug(org_slug)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organisation {org_slug:?}")))?;
        if role.is_central() != org.central {
            return Err(StoreError::Invalid(format!(
                "role {role} is for {} organisation; {org_slug:?} is {}",
                if role.is_central() {
                    "the central"
                } else {
                    "a member"
                },
                if org.central {
                    "the central team"
                } else {
                    "a member"
                }
            )));
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| StoreError::Invalid(format!("no randomness: {e}")))?;
        let secret = format!("ward_{}", hex::encode(bytes));
        let prefix: String = secret.chars().take(12).collect();
        let mut change = self.begin_change(actor).await?;
        let created = now();
        let row = sqlx::query(
            "INSERT INTO api_token (organisation_id, name, role, token_hash, prefix, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(org.id)
        .bind(name)
        .bind(role.as_str())
        .bind(token_hash(&secret))
        .bind(&prefix)
        .bind(&created)
        .fetch_one(&mut *change.tx)
        .await?;
        let info = TokenInfo {
            id: row.get("id"),
            organisation: org.slug.clone(),
            name: name.to_owned(),
            role,
            prefix,
            created_at: created,
            revoked_at: None,
            last_used_at: None,
        };
        change
            .log(
                Some(org.id),
                "token.create",
                &format!("token:{}", info.id),
                None,
                Some(&serde_json::to_value(&info).expect("serialisable")),
            )
            .await?;
        change.commit().await?;
        Ok((info, secret))
    }

    /// Revokes a token; `false` when there is no such unrevoked token.
    pub async fn revoke_token(&self, actor: &str, id: i64) -> Result<bool> {
        let mut change = self.begin_change(actor).await?;
        let row = sqlx::query(
            "UPDATE api_token SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING organisation_id",
        )
        .bind(now())
        .bind(id)
        .fetch_optional(&mut *change.tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        change
            .log(
                Some(row.get("organisation_id")),
                "token.revoke",
                &format!("token:{id}"),
                Some(&serde_json::json!({"revoked": false})),
                Some(&serde_json::json!({"revoked": true})),
            )
            .await?;
        change.commit().await?;
        Ok(true)
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT t.id, o.slug, t.name, t.role, t.prefix, t.created_at, t.revoked_at, t.last_used_at
             FROM api_token t JOIN organisation o ON o.id = t.organisation_id ORDER BY t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.get("id"),
                    organisation: r.get("slug"),
                    name: r.get("name"),
                    role: r
                        .get::<String, _>("role")
                        .parse()
                        .map_err(StoreError::Invalid)?,
                    prefix: r.get("prefix"),
                    created_at: r.get("created_at"),
                    revoked_at: r.get("revoked_at"),
                    last_used_at: r.get("last_used_at"),
                })
            })
            .collect()
    }

    /// The principal a bearer token stands for, or `None` (unknown, revoked, malformed).
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>> {
        if !token.starts_with("ward_") || token.len() != 69 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT t.id AS token_id, t.role, o.id, o.slug, o.name, o.central, o.created_at
             FROM api_token t JOIN organisation o ON o.id = t.organisation_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let role: Role = row
            .get::<String, _>("role")
            .parse()
            .map_err(StoreError::Invalid)?;
        let token_id: i64 = row.get("token_id");
        // To the minute: a write per request would make every request of a busy token wait
        // for the one before it (a row lock and, on PostgreSQL, a commit flushed to disk).
        let at = Utc::now();
        sqlx::query(
            "UPDATE api_token SET last_used_at = $1
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(at.to_rfc3339_opts(SecondsFormat::Millis, true))
        .bind(token_id)
        .bind((at - chrono::Duration::minutes(1)).to_rfc3339_opts(SecondsFormat::Millis, true))
        .execute(&self.pool)
        .await?;
        Ok(Some(Principal {
            credential: format!("token:{token_id}"),
            organisation: organisation(&row),
            role,
        }))
    }

    /// Records a member's sightings (idempotent by STIX id) and raises, reopens or adds to one
    /// possible-compromise alert per thing sighted, with the audit entries, in one transaction.
    pub async fn record_sightings(
        &self,
        who: &Principal,
        sightings: &[NewSighting],
    ) -> Result<ReportOutcome> {
        let org = &who.organisation;
        let mut change = self.begin_change(&who.actor()).await?;
        let at = now();
        let mut recorded = 0;
        let mut already_known = 0;
        // subject -> (title, best level, new sightings)
        let mut subjects: Vec<(String, String, Option<String>, i64)> = Vec::new();
        for s in sightings {
            let inserted = sqlx::query(
                "INSERT INTO sighting (organisation_id, stix_id, sighting_of, title, level, first_seen, last_seen, payload, reported_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (organisation_id, stix_id) DO NOTHING",
            )
            .bind(org.id)
            .bind(&s.stix_id)
            .bind(&s.sighting_of)
            .bind(&s.title)
            .bind(&s.level)
            .bind(&s.first_seen)
            .bind(&s.last_seen)
            .bind(s.payload.to_string())
            .bind(&at)
            .execute(&mut *change.tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                already_known += 1;
                continue;
            }
            recorded += 1;
            match subjects
                .iter_mut()
                .find(|(subject, ..)| *subject == s.sighting_of)
            {
                Some(entry) => {
                    if level_rank(s.level.as_deref()) > level_rank(entry.2.as_deref()) {
                        entry.2.clone_from(&s.level);
                    }
                    entry.3 += 1;
                }
                None => subjects.push((s.sighting_of.clone(), s.title.clone(), s.level.clone(), 1)),
            }
        }
        if recorded > 0 {
            change
                .log(
                    Some(org.id),
                    "sightings.report",
                    &format!("organisation:{}", org.slug),
                    None,
                    Some(
                        &serde_json::json!({"recorded": recorded, "already_known": already_known}),
                    ),
                )
                .await?;
        }
        let mut alerts = Vec::new();
        for (subject, title, level, count) in subjects {
            let before = sqlx::query(concat!("SELECT ", alert_columns!(), " FROM alert a JOIN organisation o ON o.id = a.organisation_id
                 WHERE a.organisation_id = $1 AND a.kind = 'possible-compromise' AND a.subject = $2"))
            .bind(org.id)
            .bind(&subject)
            .fetch_optional(&mut *change.tx)
            .await?
            .as_ref()
            .map(alert);
            let level = level.unwrap_or_else(|| "high".into());
            let row = sqlx::query("INSERT INTO alert (organisation_id, kind, subject, title, level, state, evidence, created_at, updated_at)
                 VALUES ($1, 'possible-compromise', $2, $3, $4, 'open', $5, $6, $6)
                 ON CONFLICT (organisation_id, kind, subject) DO UPDATE SET
                     evidence = alert.evidence + excluded.evidence,
                     state = 'open',
                     updated_at = excluded.updated_at
                 RETURNING id")
            .bind(org.id)
            .bind(&subject)
            .bind(format!("Possible compromise: {title}"))
            .bind(&level)
            .bind(count)
            .bind(&at)
            .fetch_one(&mut *change.tx)
            .await?;
            let id: i64 = row.get("id");
            let after = sqlx::query(concat!(
                "SELECT ",
                alert_columns!(),
                " FROM alert a JOIN organisation o ON o.id = a.organisation_id WHERE a.id = $1"
            ))
            .bind(id)
            .fetch_one(&mut *change.tx)
            .await?;
            let after = alert(&after);
            let action = match &before {
                None => "alert.raise",
                Some(b) if b.state != "open" => "alert.reopen",
                Some(_) => "alert.evidence",
            };
            change
                .log(
                    Some(org.id),
                    action,
                    &format!("alert:{id}"),
                    before
                        .as_ref()
                        .map(|b| serde_json::to_value(b).expect("serialisable"))
                        .as_ref(),
                    Some(&serde_json::to_value(&after).expect("serialisable")),
                )
                .await?;
            alerts.push(after);
        }
        change.commit().await?;
        Ok(ReportOutcome {
            recorded,
            already_known,
            alerts,
        })
    }

    /// Alerts of one organisation, or of all (`None`: the central team's view).
    pub async fn alerts(&self, organisation_id: Option<i64>) -> Result<Vec<AlertRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alert a JOIN organisation o ON o.id = a.organisation_id
             WHERE ($1 IS NULL OR a.organisation_id = $1) ORDER BY a.updated_at DESC, a.id DESC"
        ))
        .bind(organisation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(alert).collect())
    }

    /// One alert, if it is within the scope (`Some(org)`: that organisation's only).
    pub async fn alert(&self, organisation_id: Option<i64>, id: i64) -> Result<Option<AlertRow>> {
        scoped_alert(&mut *self.pool.acquire().await?, organisation_id, id).await
    }

    /// Every member's alert about one subject (a CVE): the central team's view of an issued alert.
    pub async fn alerts_about(&self, subject: &str) -> Result<Vec<AlertRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alert a JOIN organisation o ON o.id = a.organisation_id
             WHERE a.subject = $1 ORDER BY o.slug"
        ))
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(alert).collect())
    }

    /// Sightings of one organisation, or of all (`None`).
    pub async fn sightings(&self, organisation_id: Option<i64>) -> Result<Vec<SightingRow>> {
        let rows = sqlx::query(
            "SELECT s.id, o.slug, s.stix_id, s.sighting_of, s.title, s.level, s.first_seen, s.last_seen, s.reported_at, s.payload
             FROM sighting s JOIN organisation o ON o.id = s.organisation_id
             WHERE ($1 IS NULL OR s.organisation_id = $1) ORDER BY s.id",
        )
        .bind(organisation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| SightingRow {
                id: r.get("id"),
                organisation: r.get("slug"),
                stix_id: r.get("stix_id"),
                sighting_of: r.get("sighting_of"),
                title: r.get("title"),
                level: r.get("level"),
                first_seen: r.get("first_seen"),
                last_seen: r.get("last_seen"),
                reported_at: r.get("reported_at"),
                payload: serde_json::from_str(r.get::<&str, _>("payload"))
                    .unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }

    pub async fn audit_log(&self) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, organisation_id, action, target, before, after, prev_hash, hash FROM audit_log ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                seq: r.get("seq"),
                at: r.get("at"),
                actor: r.get("actor"),
                organisation_id: r.get("organisation_id"),
                action: r.get("action"),
                target: r.get("target"),
                before: r.get("before"),
                after: r.get("after"),
                prev_hash: r.get("prev_hash"),
                hash: r.get("hash"),
            })
            .collect())
    }

    /// Walks the audit chain: each entry must follow the previous one (no gap), name the
    /// previous entry's hash, and hash to what it says; the last must be the recorded head.
    pub async fn verify_audit(&self) -> Result<AuditVerdict> {
        let entries = self.audit_log().await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let (head_seq, head_hash): (i64, String) = (head.get("seq"), head.get("hash"));
        let mut problems = Vec::new();
        let mut prev_seq = 0;
        let mut prev_hash = "0".repeat(64);
        for e in &entries {
            if e.seq != prev_seq + 1 {
                problems.push(format!(
                    "entries {} to {} are missing (deleted)",
                    prev_seq + 1,
                    e.seq - 1
                ));
            }
            if e.prev_hash != prev_hash {
                problems.push(format!(
                    "entry {} does not follow the entry before it",
                    e.seq
                ));
            }
            let expected = entry_hash(
                e.seq,
                &e.at,
                &e.actor,
                e.organisation_id,
                &e.action,
                &e.target,
                e.before.as_deref(),
                e.after.as_deref(),
                &e.prev_hash,
            );
            if expected != e.hash {
                problems.push(format!(
                    "entry {} ({} {}) was changed: its content does not match its hash",
                    e.seq, e.action, e.target
                ));
            }
            prev_seq = e.seq;
            prev_hash.clone_from(&e.hash);
        }
        if prev_seq != head_seq || prev_hash != head_hash {
            problems.push(format!(
                "the log ends at entry {prev_seq} but the chain's head is entry {head_seq}: entries were deleted from the end"
            ));
        }
        Ok(AuditVerdict {
            entries: entries.len(),
            head_seq,
            problems,
        })
    }

    /// When the central team was created, if it was (`ward admin init` has run).
    pub async fn central(&self) -> Result<Option<Organisation>> {
        let row = sqlx::query(
            "SELECT id, slug, name, central, created_at FROM organisation WHERE central = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(organisation))
    }
}

/// Parses an RFC 3339 time as sent by a client, for storage in the same form as Ward's own.
pub fn normalise_time(s: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| {
        t.with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    })
}
