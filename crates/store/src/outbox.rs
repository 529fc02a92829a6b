//! The notification outbox. Every alert change is audited through [`Change::log`]; that same
//! call writes one outbox row per channel that should hear of it, in the same transaction, so
//! a change is never committed without its notifications nor a notification sent for a change
//! that did not happen. Deliverers claim rows for a while; a row whose deliverer died becomes
//! due again when the claim runs out, so every notification is delivered at least once.

use chrono::{Duration, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::audit::{Change, now};
use crate::rows::parse;
use crate::{Backend, ChannelId, OrgId, Result, Scope, Store, StoreError};
use ward_model::{ChannelKind, DeliveryState};

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Channel {
    pub id: ChannelId,
    pub organisation: String,
    pub kind: ChannelKind,
    pub target: String,
    pub created_at: String,
    pub disabled_at: Option<String>,
    /// Notifications waiting (not yet delivered, perhaps failing and being retried).
    pub pending: i64,
    pub delivered: i64,
    /// How delivery goes, coarsely: what every role of the organisation may see.
    pub delivery: DeliveryState,
    /// Why the newest waiting notification failed, if it did: the central team sees why
    /// nothing arrives (a relay certificate not trusted, a receiver answering 500, …); members
    /// never see it (it would make the server a port scanner of the central network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The destination is not one Ward may connect to.
    Refused,
    /// The receiver or the network failed.
    Failed,
}

impl Channel {
    /// The channel as a member sees it: the delivery state without the error's text.
    pub fn for_member(mut self) -> Self {
        self.last_error = None;
        self
    }
}

/// A channel and its delivery counts; the argument is the rest of the query.
macro_rules! channel_select {
    ($rest:literal) => {
        concat!(
            "SELECT c.id, o.slug, c.kind, c.target, c.created_at, c.disabled_at,
                    (SELECT COUNT(*) FROM outbox x WHERE x.channel_id = c.id AND x.delivered_at IS NULL) AS pending,
                    (SELECT COUNT(*) FROM outbox x WHERE x.channel_id = c.id AND x.delivered_at IS NOT NULL) AS delivered,
                    (SELECT x.last_error FROM outbox x
                      WHERE x.channel_id = c.id AND x.delivered_at IS NULL AND x.last_error IS NOT NULL
                      ORDER BY x.id DESC LIMIT 1) AS last_error,
                    (SELECT x.failure FROM outbox x
                      WHERE x.channel_id = c.id AND x.delivered_at IS NULL AND x.failure IS NOT NULL
                      ORDER BY x.id DESC LIMIT 1) AS failure
             FROM notification_channel c JOIN organisation o ON o.id = c.organisation_id ",
            $rest
        )
    };
}

/// A notification claimed for delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    /// The channel it goes to (logs name the channel, never the target: a webhook URL may
    /// hold a secret in its path).
    pub channel: ChannelId,
    pub kind: ChannelKind,
    pub target: String,
    pub secret: Option<String>,
    pub event: String,
    pub payload: String,
    pub idempotency_key: String,
    pub attempts: i64,
}

/// Counts of the outbox, for operators and tests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutboxCounts {
    pub pending: i64,
    pub delivered: i64,
    pub failing: i64,
}

impl Change {
    /// Queues `event` for every channel of the organisation and of the central team.
    pub(crate) async fn enqueue(
        &mut self,
        organisation_id: OrgId,
        event: &str,
        payload: &serde_json::Value,
        seq: i64,
    ) -> Result<()> {
        let channels = sqlx::query(
            "SELECT c.id FROM notification_channel c JOIN organisation o ON o.id = c.organisation_id
             WHERE c.disabled_at IS NULL AND (c.organisation_id = $1 OR o.central = 1)",
        )
        .bind(organisation_id)
        .fetch_all(&mut *self.tx)
        .await?;
        let at = now();
        for c in channels {
            let channel: i64 = c.get("id");
            // One key per (channel, audited change): a redelivery carries the same key.
            let key = hex::encode(Sha256::digest(format!("{channel}:{seq}").as_bytes()));
            sqlx::query(
                "INSERT INTO outbox (channel_id, event, payload, idempotency_key, created_at, next_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(channel)
            .bind(event)
            .bind(payload.to_string())
            .bind(&key)
            .bind(&at)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }
}

/// One mailbox, `local@domain`, nothing that could add a header or a second recipient. The
/// deliverer parses it again as an RFC 5321 address before sending.
fn is_email_address(target: &str) -> bool {
    let Some((local, domain)) = target.rsplit_once('@') else {
        return false;
    };
    target.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !target
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ';' | '<' | '>'))
        && !local.contains('@')
}

impl Store {
    /// Adds a channel to the one organisation `scope` is narrowed to.
    pub async fn add_channel(
        &self,
        actor: &str,
        scope: Scope,
        kind: ChannelKind,
        target: &str,
        secret: Option<&str>,
    ) -> Result<Channel> {
        let organisation_id = scope.organisation().ok_or_else(|| {
            StoreError::Invalid("organisation: name the organisation the channel is for".into())
        })?;
        match kind {
            ChannelKind::Webhook
                if target.starts_with("https://") || target.starts_with("http://") => {}
            ChannelKind::Syslog if target.starts_with("udp://") || target.starts_with("tcp://") => {
            }
            ChannelKind::Email if is_email_address(target) => {}
            ChannelKind::Email => {
                return Err(StoreError::Invalid(format!(
                    "target {target:?}: e-mail needs one address (name@domain)"
                )));
            }
            ChannelKind::Webhook => {
                return Err(StoreError::Invalid(format!(
                    "target {target:?}: a webhook needs an http(s):// URL"
                )));
            }
            ChannelKind::Syslog => {
                return Err(StoreError::Invalid(format!(
                    "target {target:?}: syslog needs udp://host:port or tcp://host:port"
                )));
            }
        }
        if kind == ChannelKind::Webhook && secret.is_none_or(|s| s.len() < 16) {
            return Err(StoreError::Invalid(
                "secret: a webhook needs a signing secret of at least 16 characters".into(),
            ));
        }
        let mut change = self.begin_change(actor).await?;
        let new_id = change.new_id(crate::ids::Kind::Channel).await?;
        let row = sqlx::query(
            "INSERT INTO notification_channel (organisation_id, kind, target, secret, created_at, id)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(organisation_id)
        .bind(kind.as_str())
        .bind(target)
        .bind(secret)
        .bind(now())
        .bind(new_id)
        .fetch_one(&mut *change.tx)
        .await?;
        let id: ChannelId = row.get("id");
        let channel = channel_by_id(&mut change, id).await?;
        change
            .created(
                Some(organisation_id),
                "channel.add",
                &format!("channel:{id}"),
                &channel,
            )
            .await?;
        change.commit().await?;
        Ok(channel)
    }

    /// The channels within the scope.
    pub async fn channels(&self, scope: Scope) -> Result<Vec<Channel>> {
        let rows = sqlx::query(channel_select!(
            "WHERE ($1 IS NULL OR c.organisation_id = $1) ORDER BY c.id"
        ))
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(channel).collect()
    }

    /// Claims up to `limit` due notifications for `hold` (a deliverer that dies releases them
    /// when the hold runs out).
    pub async fn claim_deliveries(&self, limit: i64, hold: Duration) -> Result<Vec<Delivery>> {
        let now_ = Utc::now();
        let at = now_.to_rfc3339_opts(SecondsFormat::Millis, true);
        let until = (now_ + hold).to_rfc3339_opts(SecondsFormat::Millis, true);
        // SQLite has one writer at a time; on PostgreSQL, several servers claim side by side,
        // each skipping the rows another is claiming.
        let turn = self.write_turn().await;
        let rows = sqlx::query(match self.backend {
            Backend::Sqlite => {
                "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1
                 WHERE id IN (SELECT id FROM outbox
                              WHERE delivered_at IS NULL AND next_attempt_at <= $2
                                AND (claimed_until IS NULL OR claimed_until <= $2)
                              ORDER BY id LIMIT $3)
                 RETURNING id, channel_id, event, payload, idempotency_key, attempts"
            }
            Backend::Postgres => {
                "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1
                 WHERE id IN (SELECT id FROM outbox
                              WHERE delivered_at IS NULL AND next_attempt_at <= $2
                                AND (claimed_until IS NULL OR claimed_until <= $2)
                              ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING id, channel_id, event, payload, idempotency_key, attempts"
            }
        })
        .bind(&until)
        .bind(&at)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        drop(turn);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let channel: i64 = r.get("channel_id");
            let c =
                sqlx::query("SELECT kind, target, secret FROM notification_channel WHERE id = $1")
                    .bind(channel)
                    .fetch_one(&self.pool)
                    .await?;
            out.push(Delivery {
                id: r.get("id"),
                channel: ChannelId::from(channel),
                kind: parse(&c, "notification_channel", channel, "kind")?,
                target: c.get("target"),
                secret: c.get("secret"),
                event: r.get("event"),
                payload: r.get("payload"),
                idempotency_key: r.get("idempotency_key"),
                attempts: r.get("attempts"),
            });
        }
        out.sort_by_key(|d| d.id);
        Ok(out)
    }

    pub async fn delivered(&self, id: i64) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE outbox SET delivered_at = $1, claimed_until = NULL, last_error = NULL, failure = NULL WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a failed attempt; the next one waits 2^attempts seconds (at most an hour).
    pub async fn delivery_failed(
        &self,
        id: i64,
        attempts: i64,
        failure: Failure,
        error: &str,
    ) -> Result<()> {
        let wait = Duration::seconds(1i64 << attempts.clamp(0, 12)).min(Duration::hours(1));
        let next = (Utc::now() + wait).to_rfc3339_opts(SecondsFormat::Millis, true);
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE outbox SET next_attempt_at = $1, claimed_until = NULL, last_error = $2, failure = $3 WHERE id = $4")
            .bind(next)
            .bind(error.chars().take(500).collect::<String>())
            .bind(match failure {
                Failure::Refused => "refused",
                Failure::Failed => "failed",
            })
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        let r = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE delivered_at IS NULL) AS pending,
                    COUNT(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,
                    COUNT(*) FILTER (WHERE delivered_at IS NULL AND last_error IS NOT NULL) AS failing FROM outbox",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(OutboxCounts {
            pending: r.get::<Option<i64>, _>("pending").unwrap_or(0),
            delivered: r.get::<Option<i64>, _>("delivered").unwrap_or(0),
            failing: r.get::<Option<i64>, _>("failing").unwrap_or(0),
        })
    }
}

fn channel(r: &sqlx::any::AnyRow) -> Result<Channel> {
    let id: ChannelId = r.try_get("id")?;
    let pending: i64 = r.get("pending");
    let delivered: i64 = r.get("delivered");
    let failure: Option<String> = r.get("failure");
    let delivery = match failure.as_deref() {
        Some("refused") => DeliveryState::Refused,
        Some(_) => DeliveryState::Failing,
        None if pending > 0 => DeliveryState::Pending,
        None if delivered > 0 => DeliveryState::Delivered,
        None => DeliveryState::Idle,
    };
    Ok(Channel {
        delivery,
        id,
        organisation: r.get("slug"),
        kind: parse(r, "notification_channel", id, "kind")?,
        target: r.get("target"),
        created_at: r.get("created_at"),
        disabled_at: r.get("disabled_at"),
        pending,
        delivered,
        last_error: r.get("last_error"),
    })
}

async fn channel_by_id(change: &mut Change, id: ChannelId) -> Result<Channel> {
    channel(
        &sqlx::query(channel_select!("WHERE c.id = $1"))
            .bind(id)
            .fetch_one(&mut *change.tx)
            .await?,
    )
}

impl Store {
    /// Notifications queued for alert events since `since` (RFC 3339), and the organisations
    /// they concern.
    pub async fn outbox_since(&self, since: &str) -> Result<(i64, i64)> {
        let r = sqlx::query(match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) AS n, COUNT(DISTINCT json_extract(payload, '$.alert.organisation')) AS orgs
                 FROM outbox WHERE created_at >= $1"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) AS n, COUNT(DISTINCT payload::jsonb #>> '{alert,organisation}') AS orgs
                 FROM outbox WHERE created_at >= $1"
            }
        })
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok((r.get("n"), r.get("orgs")))
    }

    /// A vulnerability with open findings that KEV does not list (for benchmarks: what a new
    /// KEV entry would change).
    pub async fn unlisted_finding(&self) -> Result<Option<(String, i64)>> {
        let r = sqlx::query(
            "SELECT vuln_id, COUNT(DISTINCT organisation_id) AS orgs FROM finding
             WHERE resolved_at IS NULL AND vuln_id NOT IN (SELECT vuln_id FROM kev)
             GROUP BY vuln_id ORDER BY orgs DESC, vuln_id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|r| (r.get("vuln_id"), r.get("orgs"))))
    }
}
