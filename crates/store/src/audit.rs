//! The hash-chained audit log: every change writes its entries in its own transaction, which
//! holds the chain's head; `verify_audit` walks the chain.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

use crate::{OrgId, Result, Scope, Store};

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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

pub(crate) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
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
    /// When the last entry was written.
    at: String,
}

impl Change {
    /// Appends an audit entry (before/after as JSON).
    pub async fn log(
        &mut self,
        organisation_id: Option<OrgId>,
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
            organisation_id.map(OrgId::get),
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
        self.at = at;
        Ok(())
    }

    /// Appends the entry of a record created (`record` as the API shows it).
    pub async fn created(
        &mut self,
        organisation_id: Option<OrgId>,
        action: &str,
        target: &str,
        record: &impl Serialize,
    ) -> Result<()> {
        let after = serde_json::to_value(record).expect("records serialise");
        self.log(organisation_id, action, target, None, Some(&after))
            .await
    }

    /// Appends the audit entry of an alert's change and queues its notification to the
    /// organisation's channels (and the central team's), in the same transaction: an alert
    /// never changes without both. `after` is what the notification carries as `alert`.
    pub async fn alert_changed(
        &mut self,
        organisation_id: OrgId,
        action: &str,
        target: &str,
        before: Option<&serde_json::Value>,
        after: &serde_json::Value,
    ) -> Result<()> {
        self.log(Some(organisation_id), action, target, before, Some(after))
            .await?;
        let payload = serde_json::json!({
            "event": action,
            "at": self.at,
            "alert": after,
            "audit_seq": self.seq,
        });
        self.enqueue(organisation_id, action, &payload, self.seq)
            .await
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
            at: now(),
        })
    }

    /// The audit log's entries within the scope (an organisation's own entries; every entry,
    /// federation-wide ones included, for a scope that reaches every organisation), oldest first.
    pub async fn audit_log(&self, scope: Scope) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, organisation_id, action, target, before, after, prev_hash, hash FROM audit_log
             WHERE ($1 IS NULL OR organisation_id = $1) ORDER BY seq",
        )
        .bind(scope.organisation())
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
        let entries = self.audit_log(Scope::operator()).await?;
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
}

/// Parses an RFC 3339 time as sent by a client, for storage in the same form as Ward's own.
pub fn normalise_time(s: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| {
        t.with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    })
}
