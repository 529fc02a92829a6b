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

/// The hash an entry should have, by the chain's (public) formula.
pub fn entry_hash_of(e: &AuditEntry) -> String {
    entry_hash(
        e.seq,
        &e.at,
        &e.actor,
        e.organisation_id,
        &e.action,
        &e.target,
        e.before.as_deref(),
        e.after.as_deref(),
        &e.prev_hash,
    )
}

/// A change in progress: a transaction that holds the audit chain's head, so that its audit
/// entries and its state changes land together or not at all.
/// An alert event's own fields (`crate::events::AlertEvent`), beside the alert.
#[derive(Debug, Default)]
pub(crate) struct EventExtra<'a> {
    /// `alert.escalate`: which deadline was missed.
    pub(crate) missed: Option<&'a str>,
    /// Why it reopened, was remediated or was withdrawn.
    pub(crate) reason: Option<String>,
}

pub struct Change {
    pub(crate) tx: Transaction<'static, Any>,
    /// SQLite: this process's turn to write, held until the change ends.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    pub(crate) seq: i64,
    pub(crate) hash: String,
    actor: String,
    /// When the last entry was written.
    pub(crate) at: String,
    /// The store's facts of shared finding details (see [`crate::alerts::sync::FactsCache`]).
    pub(crate) facts: crate::alerts::sync::FactsCache,
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
        let row = self.chain(organisation_id, action, target, before, after);
        insert_entries(&mut self.tx, std::slice::from_ref(&row)).await
    }

    /// Appends entries in their order, many to a statement: a re-match logs one per asset it
    /// changed, thousands in a KEV listing at national scale. Each is
    /// (organisation, action, target, after).
    pub async fn log_all(
        &mut self,
        entries: &[(Option<OrgId>, &str, String, serde_json::Value)],
    ) -> Result<()> {
        let rows: Vec<EntryRow> = entries
            .iter()
            .map(|(organisation_id, action, target, after)| {
                self.chain(*organisation_id, action, target, None, Some(after))
            })
            .collect();
        // Ten parameters a row: well under either backend's limit per statement.
        for chunk in rows.chunks(1000) {
            insert_entries(&mut self.tx, chunk).await?;
        }
        Ok(())
    }

    /// The next entry of the chain, made and taken as its head (written by the caller).
    fn chain(
        &mut self,
        organisation_id: Option<OrgId>,
        action: &str,
        target: &str,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
    ) -> EntryRow {
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
        let row = EntryRow {
            seq,
            at: at.clone(),
            actor: self.actor.clone(),
            organisation_id,
            action: action.to_owned(),
            target: target.to_owned(),
            before,
            after,
            prev_hash: std::mem::replace(&mut self.hash, hash.clone()),
            hash,
        };
        self.seq = seq;
        self.at = at;
        row
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
        self.alert_changed_with(
            organisation_id,
            action,
            target,
            before,
            after,
            &EventExtra::default(),
        )
        .await
    }

    /// [`Change::alert_changed`] with the event's own fields beside `alert`: an escalation's
    /// `missed` deadline, a reopening's or a closing's `reason`.
    pub(crate) async fn alert_changed_with(
        &mut self,
        organisation_id: OrgId,
        action: &str,
        target: &str,
        before: Option<&serde_json::Value>,
        after: &serde_json::Value,
        extra: &EventExtra<'_>,
    ) -> Result<()> {
        self.log(Some(organisation_id), action, target, before, Some(after))
            .await?;
        let event = crate::events::AlertEvent {
            version: crate::events::EVENT_VERSION,
            event: action,
            at: &self.at,
            alert: after,
            // The chain's head after this change: every receiver keeps a copy of it, so a
            // rewritten chain disagrees with what was sent.
            audit_seq: self.seq,
            audit_hash: &self.hash,
            missed: extra.missed,
            reason: extra.reason.clone(),
        };
        debug_assert!(
            crate::events::EVENTS.iter().any(|(n, _)| *n == action),
            "an event not in the documented list: {action}"
        );
        let payload = serde_json::to_value(&event).expect("an event serialises");
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
        let turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        // A write first: it takes the database's write lock, so the head read here stays the
        // head until this change commits.
        let row = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut *tx)
            .await?;
        Ok(Change {
            tx,
            _turn: turn,
            seq: row.get("seq"),
            hash: row.get("hash"),
            actor: actor.to_owned(),
            at: now(),
            facts: self.facts.clone(),
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
            if entry_hash_of(e) != e.hash {
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

/// The key that signs checkpoints of the audit chain (Ed25519, PKCS#8 PEM in a file outside the
/// database), or the public half that verifies them (SPKI PEM, or the private file itself).
pub mod checkpoint {
    use ed25519_dalek::pkcs8::{
        DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey,
    };
    use ed25519_dalek::{Signature, Signer, Verifier};
    pub use ed25519_dalek::{SigningKey, VerifyingKey};
    use sha2::{Digest, Sha256};

    /// What a checkpoint signs: the chain's head and when.
    pub(crate) fn message(seq: i64, hash: &str, signed_at: &str) -> Vec<u8> {
        format!("ward-audit-checkpoint-v1\n{seq}\n{hash}\n{signed_at}\n").into_bytes()
    }

    /// A short name of a public key: the first 16 hex digits of its SHA-256.
    pub fn key_id(key: &VerifyingKey) -> String {
        hex::encode(Sha256::digest(key.as_bytes()))[..16].to_owned()
    }

    /// A new signing key as PKCS#8 PEM, and its public key as SPKI PEM.
    pub fn generate() -> Result<(String, String), String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
        let key = SigningKey::from_bytes(&seed);
        let private = key
            .to_pkcs8_pem(Default::default())
            .map_err(|e| e.to_string())?
            .to_string();
        let public = key
            .verifying_key()
            .to_public_key_pem(Default::default())
            .map_err(|e| e.to_string())?;
        Ok((private, public))
    }

    /// A signing key from PKCS#8 PEM.
    pub fn signing_key(pem: &str) -> Result<SigningKey, String> {
        SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| format!("not an Ed25519 private key (PKCS#8 PEM): {e}"))
    }

    /// A verifying key from SPKI PEM, or from the private key's PKCS#8 PEM.
    pub fn verifying_key(pem: &str) -> Result<VerifyingKey, String> {
        VerifyingKey::from_public_key_pem(pem)
            .or_else(|_| SigningKey::from_pkcs8_pem(pem).map(|k| k.verifying_key()))
            .map_err(|e| format!("not an Ed25519 public or private key in PEM: {e}"))
    }

    /// A signature of `message`, in hex.
    pub fn sign(key: &SigningKey, message: &[u8]) -> String {
        hex::encode(key.sign(message).to_bytes())
    }

    /// Whether `signature` (hex) is `key`'s over `message`.
    pub fn verify(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        key.verify(message, &sig).is_ok()
    }
}

/// One signed checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub signed_at: String,
    pub key_id: String,
}

impl Store {
    /// Signs the chain's head with `key` unless it is signed already; the checkpoint made (or
    /// `None` when the head was signed or the log is empty).
    pub async fn sign_checkpoint(
        &self,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<Option<Checkpoint>> {
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let (seq, hash): (i64, String) = (head.get("seq"), head.get("hash"));
        if seq == 0 {
            return Ok(None);
        }
        let signed_at = now();
        let _turn = self.write_turn().await;
        let key_id = checkpoint::key_id(&key.verifying_key());
        let signature = checkpoint::sign(key, &checkpoint::message(seq, &hash, &signed_at));
        let done = sqlx::query(
            "INSERT INTO audit_checkpoint (seq, hash, signed_at, key_id, signature)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING",
        )
        .bind(seq)
        .bind(&hash)
        .bind(&signed_at)
        .bind(&key_id)
        .bind(&signature)
        .execute(&self.pool)
        .await?;
        Ok((done.rows_affected() == 1).then_some(Checkpoint {
            seq,
            hash,
            signed_at,
            key_id,
        }))
    }

    /// [`Store::verify_audit`], and every checkpoint signed by `key`: its signature holds and
    /// the entry it names still has the hash it signed. A chain rewritten and recomputed by
    /// someone without the key fails here; so does a log with no checkpoint of this key.
    pub async fn verify_audit_signed(
        &self,
        key: &ed25519_dalek::VerifyingKey,
    ) -> Result<(AuditVerdict, Vec<Checkpoint>)> {
        let mut verdict = self.verify_audit().await?;
        let id = checkpoint::key_id(key);
        let rows = sqlx::query(
            "SELECT c.seq, c.hash, c.signed_at, c.key_id, c.signature, a.hash AS entry_hash
             FROM audit_checkpoint c LEFT JOIN audit_log a ON a.seq = c.seq ORDER BY c.seq",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut good = Vec::new();
        for r in rows {
            let c = Checkpoint {
                seq: r.get("seq"),
                hash: r.get("hash"),
                signed_at: r.get("signed_at"),
                key_id: r.get("key_id"),
            };
            if c.key_id != id {
                continue;
            }
            let signature: String = r.get("signature");
            if !checkpoint::verify(
                key,
                &checkpoint::message(c.seq, &c.hash, &c.signed_at),
                &signature,
            ) {
                verdict.problems.push(format!(
                    "checkpoint at entry {} has a signature this key did not make (forged or altered)",
                    c.seq
                ));
                continue;
            }
            match r.get::<Option<String>, _>("entry_hash") {
                None => verdict.problems.push(format!(
                    "entry {} signed at {} is gone (deleted)",
                    c.seq, c.signed_at
                )),
                Some(h) if h != c.hash => verdict.problems.push(format!(
                    "entry {} no longer has the hash signed at {}: the chain up to it was rewritten",
                    c.seq, c.signed_at
                )),
                Some(_) => good.push(c),
            }
        }
        if good.is_empty() && verdict.problems.is_empty() && verdict.head_seq > 0 {
            verdict.problems.push(format!(
                "no checkpoint signed by key {id}: nothing vouches for the chain (sign with ward audit checkpoint --key or ward serve --audit-key)"
            ));
        }
        Ok((verdict, good))
    }
}

/// An audit entry as written.
struct EntryRow {
    seq: i64,
    at: String,
    actor: String,
    organisation_id: Option<OrgId>,
    action: String,
    target: String,
    before: Option<String>,
    after: Option<String>,
    prev_hash: String,
    hash: String,
}

async fn insert_entries(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rows: &[EntryRow],
) -> Result<()> {
    let mut q = crate::sql::Sql::new(
        crate::Backend::of(tx),
        "INSERT INTO audit_log (seq, at, actor, organisation_id, action, target, before, after, prev_hash, hash) ",
    );
    q.push_values(rows, |mut b, r| {
        b.push_bind(r.seq)
            .push_bind(&r.at)
            .push_bind(&r.actor)
            .push_bind(r.organisation_id)
            .push_bind(&r.action)
            .push_bind(&r.target)
            .push_bind(&r.before)
            .push_bind(&r.after)
            .push_bind(&r.prev_hash)
            .push_bind(&r.hash);
    });
    q.build().execute(&mut **tx).await?;
    Ok(())
}
