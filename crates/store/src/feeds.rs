//! Feed sync's state: per configured source, where it is (cursor, HTTP validators) and how it
//! went (last success, last error, consecutive failures), kept so that a restart resumes; and
//! the EPSS history imports record.

use serde::Serialize;
use sqlx::Row;

use crate::audit::now;
use crate::{Result, Store};

/// One source's state, as `ward feeds status` and `GET /api/v1/feeds` show it.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct FeedState {
    pub name: String,
    pub kind: String,
    /// The source's resume point (JSON: an NVD window and page, a delta log time, …).
    pub cursor: Option<serde_json::Value>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_run_at: Option<String>,
    pub last_success_at: Option<String>,
    /// The last sync that imported something new or changed.
    pub last_change_at: Option<String>,
    pub last_error_at: Option<String>,
    pub last_error: Option<String>,
    /// What the last successful sync did (JSON).
    pub last_summary: Option<serde_json::Value>,
    /// Failed syncs since the last success.
    pub failures: i64,
    /// When it fell behind and the central team was told (cleared by the next success).
    pub behind_since: Option<String>,
}

/// How a sync ended, to record.
#[derive(Debug, Clone)]
pub enum FeedOutcome {
    Succeeded {
        /// It imported something new or changed.
        changed: bool,
        summary: serde_json::Value,
    },
    Failed(String),
}

/// A score on one day, from the EPSS history.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct EpssPoint {
    pub date: String,
    pub score: f64,
    pub percentile: f64,
}

fn state(r: &sqlx::any::AnyRow) -> FeedState {
    let json = |c: &str| {
        r.get::<Option<String>, _>(c)
            .and_then(|s| serde_json::from_str(&s).ok())
    };
    FeedState {
        name: r.get("name"),
        kind: r.get("kind"),
        cursor: json("cursor"),
        etag: r.get("etag"),
        last_modified: r.get("last_modified"),
        last_run_at: r.get("last_run_at"),
        last_success_at: r.get("last_success_at"),
        last_change_at: r.get("last_change_at"),
        last_error_at: r.get("last_error_at"),
        last_error: r.get("last_error"),
        last_summary: json("last_summary"),
        failures: r.get("failures"),
        behind_since: r.get("behind_since"),
    }
}

/// The columns `state()` reads (a macro, so that queries stay string literals).
macro_rules! feed_columns {
    () => {
        "name, kind, cursor, etag, last_modified, last_run_at, last_success_at, last_change_at,
         last_error_at, last_error, last_summary, failures, behind_since"
    };
}

impl Store {
    /// Every source's state, by name.
    pub async fn feed_states(&self) -> Result<Vec<FeedState>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            feed_columns!(),
            " FROM feed_state ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(state).collect())
    }

    /// One source's state (a new source: its name and kind, nothing done yet).
    pub async fn feed_state(&self, name: &str, kind: &str) -> Result<FeedState> {
        let row = sqlx::query(concat!(
            "SELECT ",
            feed_columns!(),
            " FROM feed_state WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(state).unwrap_or_else(|| FeedState {
            name: name.to_owned(),
            kind: kind.to_owned(),
            ..FeedState::default()
        }))
    }

    /// Records a source's resume point and HTTP validators after a complete step (a page, a
    /// file) — written after that step's import committed, so a restart never skips one.
    pub async fn save_feed_cursor(
        &self,
        name: &str,
        kind: &str,
        cursor: Option<&serde_json::Value>,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO feed_state (name, kind, cursor, etag, last_modified) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, cursor = excluded.cursor,
                 etag = excluded.etag, last_modified = excluded.last_modified",
        )
        .bind(name)
        .bind(kind)
        .bind(cursor.map(ToString::to_string))
        .bind(etag)
        .bind(last_modified)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records how a sync of a source ended.
    pub async fn record_feed_run(
        &self,
        name: &str,
        kind: &str,
        outcome: &FeedOutcome,
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        let at = now();
        match outcome {
            FeedOutcome::Succeeded { changed, summary } => {
                sqlx::query(
                    "INSERT INTO feed_state (name, kind, last_run_at, last_success_at, last_change_at, last_summary, failures)
                     VALUES ($1, $2, $3, $3, CASE WHEN $4 THEN $3 ELSE NULL END, $5, 0)
                     ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, last_run_at = excluded.last_run_at,
                         last_success_at = excluded.last_success_at,
                         last_change_at = COALESCE(excluded.last_change_at, feed_state.last_change_at),
                         last_summary = excluded.last_summary, failures = 0, behind_since = NULL",
                )
                .bind(name)
                .bind(kind)
                .bind(&at)
                .bind(*changed)
                .bind(summary.to_string())
                .execute(&self.pool)
                .await?;
            }
            FeedOutcome::Failed(error) => {
                sqlx::query(
                    "INSERT INTO feed_state (name, kind, last_run_at, last_error_at, last_error, failures)
                     VALUES ($1, $2, $3, $3, $4, 1)
                     ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, last_run_at = excluded.last_run_at,
                         last_error_at = excluded.last_error_at, last_error = excluded.last_error,
                         failures = feed_state.failures + 1",
                )
                .bind(name)
                .bind(kind)
                .bind(&at)
                .bind(error)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Marks a source behind and tells the central team (an audited `feed.behind` event to
    /// its channels), once until the source succeeds again. `false`: already told.
    pub async fn mark_feed_behind(
        &self,
        name: &str,
        kind: &str,
        source: &serde_json::Value,
    ) -> Result<bool> {
        let mut change = self.begin_change("ward:feeds").await?;
        let at = change.at.clone();
        let marked = sqlx::query(
            "UPDATE feed_state SET behind_since = $1 WHERE name = $2 AND behind_since IS NULL RETURNING name",
        )
        .bind(&at)
        .bind(name)
        .fetch_optional(&mut *change.tx)
        .await?;
        let central: Option<crate::OrgId> =
            sqlx::query("SELECT id FROM organisation WHERE central = 1")
                .fetch_optional(&mut *change.tx)
                .await?
                .map(|r| r.get("id"));
        let (Some(_), Some(central)) = (marked, central) else {
            change.tx.rollback().await?;
            return Ok(false);
        };
        change
            .log(
                Some(central),
                "feed.behind",
                &format!("feed:{name}"),
                None,
                Some(source),
            )
            .await?;
        let event = crate::events::FeedEvent {
            version: crate::events::EVENT_VERSION,
            event: "feed.behind",
            at: &at,
            source,
            audit_seq: change.seq,
            audit_hash: &change.hash,
        };
        let payload = serde_json::to_value(&event).expect("an event serialises");
        let seq = change.seq;
        change
            .enqueue(central, "feed.behind", &payload, seq)
            .await?;
        tracing::warn!(source = %name, kind, "feed behind: the central team is told");
        change.commit().await?;
        Ok(true)
    }

    /// A CVE's EPSS history, oldest first.
    pub async fn epss_history(&self, vulnerability: &str) -> Result<Vec<EpssPoint>> {
        let rows = sqlx::query(
            "SELECT score_date, score, percentile FROM epss_history WHERE vuln_id = $1 ORDER BY score_date",
        )
        .bind(vulnerability)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| EpssPoint {
                date: r.get("score_date"),
                score: r.get("score"),
                percentile: r.get("percentile"),
            })
            .collect())
    }
}

/// One page of the knowledge base's views for a bundle: `(vuln_id, source, payload)`.
pub type ViewPage = Vec<(String, String, String)>;

impl Store {
    /// Views imported at or after `since` (RFC 3339), ordered by key, `limit` at a time after
    /// `after` (keyset paging: a bundle of the whole knowledge base never holds it all).
    pub async fn views_imported_since(
        &self,
        since: &str,
        after: Option<&(String, String)>,
        limit: i64,
    ) -> Result<ViewPage> {
        let (vuln, source) = after
            .map(|(v, s)| (v.as_str(), s.as_str()))
            .unwrap_or(("", ""));
        let rows = sqlx::query(
            "SELECT vuln_id, source, payload FROM advisory
             WHERE imported_at >= $1 AND (vuln_id > $2 OR (vuln_id = $2 AND source > $3))
             ORDER BY vuln_id, source LIMIT $4",
        )
        .bind(since)
        .bind(vuln)
        .bind(source)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("vuln_id"), r.get("source"), r.get("payload")))
            .collect())
    }

    /// Every KEV entry as stored (JSON).
    pub async fn kev_payloads(&self) -> Result<Vec<String>> {
        Ok(sqlx::query("SELECT payload FROM kev ORDER BY vuln_id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.get("payload"))
            .collect())
    }

    /// EPSS scores dated on or after `date` (`YYYY-MM-DD`; scores without a date too).
    pub async fn epss_since(&self, date: &str) -> Result<Vec<ward_model::Epss>> {
        let rows = sqlx::query(
            "SELECT vuln_id, score, percentile, model_version, score_date FROM epss
             WHERE score_date IS NULL OR score_date >= $1 ORDER BY vuln_id",
        )
        .bind(date)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ward_model::Epss {
                cve_id: r.get("vuln_id"),
                score: r.get("score"),
                percentile: r.get("percentile"),
                model_version: r.get("model_version"),
                score_date: r
                    .get::<Option<String>, _>("score_date")
                    .and_then(|d| d.parse().ok()),
            })
            .collect())
    }
}
