//! The feeds a server follows (`ward serve --feeds FILE`): each source synced when due, one
//! server at a time on a shared PostgreSQL, and each source's freshness for `GET
//! /api/v1/feeds` and the Sources page.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use ward_store::{FeedState, Job, Store};
use ward_sync::Config;

use crate::jobs::exclusively;

/// A source's freshness: its state, schedule and whether it is behind.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FeedStatus {
    #[serde(flatten)]
    pub state: FeedState,
    /// How often it is synced (seconds), when this server follows it.
    pub every_seconds: Option<u64>,
    /// Seconds since the last success (`null`: never).
    pub lag_seconds: Option<i64>,
    /// When the next sync is due.
    pub next_run_at: Option<String>,
    /// No success for twice its interval.
    pub behind: bool,
}

fn time(t: &Option<String>) -> Option<DateTime<Utc>> {
    t.as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// After a failure a source is tried again sooner than its interval: a minute, doubling with
/// each failure, never later than the interval.
fn retry_after(every: Duration, failures: i64) -> Duration {
    if failures <= 0 {
        return every;
    }
    let backoff = Duration::from_secs(60u64.saturating_mul(1 << failures.clamp(0, 10)));
    backoff.min(every)
}

/// Every known source's status (those the config names first, then any other the database
/// has a state for).
pub fn statuses(
    states: Vec<FeedState>,
    config: Option<&Config>,
    now: DateTime<Utc>,
) -> Vec<FeedStatus> {
    let mut out: Vec<FeedStatus> = Vec::new();
    let mut states = states;
    for source in config.map(|c| c.sources.as_slice()).unwrap_or_default() {
        let state = match states.iter().position(|s| s.name == source.name) {
            Some(i) => states.remove(i),
            None => FeedState {
                name: source.name.clone(),
                kind: source.kind.as_str().to_owned(),
                ..FeedState::default()
            },
        };
        let every = chrono::Duration::from_std(source.every).unwrap_or_default();
        let success = time(&state.last_success_at);
        let next = time(&state.last_run_at).map_or(now, |r| {
            r + chrono::Duration::from_std(retry_after(source.every, state.failures))
                .unwrap_or_default()
        });
        out.push(FeedStatus {
            every_seconds: Some(source.every.as_secs()),
            lag_seconds: success.map(|t| (now - t).num_seconds()),
            next_run_at: Some(next.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            behind: success.is_none_or(|t| now - t > every * 2)
                && time(&state.last_run_at).is_some(),
            state,
        });
    }
    for state in states {
        out.push(FeedStatus {
            every_seconds: None,
            lag_seconds: time(&state.last_success_at).map(|t| (now - t).num_seconds()),
            next_run_at: None,
            behind: false,
            state,
        });
    }
    out
}

/// Syncs each source when it is due, for ever: each source in its own task (a first NVD load
/// of hours never holds up a KEV poll), one server at a time per source on a shared
/// PostgreSQL; and, every few seconds, tells the central team of a source that fell behind.
/// Due: never run, or its interval (after a failure, a shorter backoff) passed since the last
/// run.
pub async fn sync_forever(store: Store, config: Config) {
    let http = match ward_sync::Http::new(config.ca_file.as_deref()) {
        Ok(h) => std::sync::Arc::new(h),
        Err(e) => {
            tracing::error!("feed sync cannot start: {e}");
            return;
        }
    };
    for source in config.sources.clone() {
        let (store, http) = (store.clone(), http.clone());
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            loop {
                interval.tick().await;
                if let Err(e) = sync_if_due(&store, &http, &source).await {
                    tracing::error!(source = %source.name, "feed sync: {e}");
                }
            }
        });
    }
    let mut interval = tokio::time::interval(Duration::from_secs(2));
    loop {
        interval.tick().await;
        let work = async {
            // A source behind (no success for twice its interval): the central team is told,
            // once until it succeeds again.
            let states = store.feed_states().await?;
            for status in statuses(states, Some(&config), Utc::now()) {
                if status.behind && status.state.behind_since.is_none() {
                    let detail = serde_json::to_value(&status).expect("a status serialises");
                    store
                        .mark_feed_behind(&status.state.name, &status.state.kind, &detail)
                        .await?;
                }
            }
            Ok::<(), ward_store::StoreError>(())
        };
        if let Some(Err(e)) = exclusively(&store, Job::FeedSync, work).await {
            tracing::error!("feed freshness: {e}");
        }
    }
}

/// One source, if it is due and no other server is syncing it.
async fn sync_if_due(
    store: &Store,
    http: &ward_sync::Http,
    source: &ward_sync::Source,
) -> Result<(), ward_store::StoreError> {
    let due = |state: &FeedState| {
        time(&state.last_run_at).is_none_or(|last| {
            let wait = retry_after(source.every, state.failures);
            Utc::now() - last >= chrono::Duration::from_std(wait).unwrap_or_default()
        })
    };
    if !due(&store.feed_state(&source.name, source.kind.as_str()).await?) {
        return Ok(());
    }
    let Some(lock) = store
        .try_job_named(&format!("feed:{}", source.name))
        .await?
    else {
        return Ok(());
    };
    // Another server may have synced it between the look and the lock.
    if !due(&store.feed_state(&source.name, source.kind.as_str()).await?) {
        lock.release().await?;
        return Ok(());
    }
    let result = match ward_sync::sync_source(store, http, source).await {
        Ok(r) if r.ok => Ok(()),
        Ok(r) => {
            tracing::warn!(source = %r.name, "feed sync failed: {}", r.error.unwrap_or_default());
            Ok(())
        }
        Err(ward_sync::SyncError::Store(e)) => Err(e),
        Err(e) => {
            tracing::error!(source = %source.name, "feed sync: {e}");
            Ok(())
        }
    };
    lock.release().await?;
    result
}
