//! Downloads: reqwest over rustls (the process's ring provider; `HTTPS_PROXY`/`NO_PROXY` from
//! the environment; an extra CA file for TLS-inspecting proxies), streamed to a temporary file
//! under a size cap, conditional (ETag / Last-Modified), paced per host, and retried with
//! backoff on what a publisher's rate limit or outage answers (429, 503, 502, 504, 403 with
//! `Retry-After`, a dropped or stalled connection, a body shorter than promised), honouring
//! `Retry-After`. Every request's outcome is logged.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use url::Url;

use crate::SyncError;

/// The client every source shares.
pub struct Http {
    client: reqwest::Client,
    /// When each host was last asked (pacing).
    last: tokio::sync::Mutex<HashMap<String, Instant>>,
    /// The first backoff when a publisher gives no `Retry-After` (doubles each time).
    pub(crate) backoff: Duration,
    /// The longest `Retry-After` honoured (a publisher asking for an hour is retried at the
    /// next sync instead).
    pub(crate) max_wait: Duration,
    requests: std::sync::atomic::AtomicU64,
}

/// One request's particulars.
pub(crate) struct Get<'a> {
    pub(crate) etag: Option<&'a str>,
    pub(crate) last_modified: Option<&'a str>,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) max_bytes: u64,
    /// At least this long between two requests to the host.
    pub(crate) pace: Duration,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u32,
}

/// A response saved to a file, or "not modified".
pub(crate) enum Fetched {
    NotModified,
    Body {
        file: tempfile::NamedTempFile,
        bytes: u64,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// Why one attempt failed, and whether to try again.
enum Attempt {
    Retry(String, Option<Duration>),
    Fail(String),
}

impl Http {
    pub fn new(ca_file: Option<&Path>) -> Result<Self, SyncError> {
        // Ward's one TLS provider (ring), if the process has not installed one yet.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("ward/", env!("CARGO_PKG_VERSION"), " (feed sync)"))
            .connect_timeout(Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::limited(5));
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| SyncError::Config(format!("ca_file {}: {e}", path.display())))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| SyncError::Config(format!("ca_file {}: {e}", path.display())))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(Self {
            client: builder
                .build()
                .map_err(|e| SyncError::Config(format!("the HTTP client: {e}")))?,
            last: tokio::sync::Mutex::new(HashMap::new()),
            backoff: Duration::from_secs(2),
            max_wait: Duration::from_secs(120),
            requests: 0.into(),
        })
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until the host may be asked again.
    async fn pace(&self, url: &Url, gap: Duration) {
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut last = self.last.lock().await;
        if let Some(at) = last.get(&host) {
            let ready = *at + gap;
            let now = Instant::now();
            if ready > now {
                tokio::time::sleep(ready - now).await;
            }
        }
        last.insert(host, Instant::now());
    }

    /// GETs `url` into a temporary file, trying again as a publisher's limits ask.
    pub(crate) async fn get(&self, url: &Url, how: &Get<'_>) -> Result<Fetched, SyncError> {
        let mut wait = self.backoff;
        let mut last_error = String::new();
        for attempt in 1..=how.attempts {
            self.pace(url, how.pace).await;
            self.requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let started = Instant::now();
            match self.attempt(url, how).await {
                Ok(fetched) => {
                    let size = match &fetched {
                        Fetched::NotModified => "not modified".to_owned(),
                        Fetched::Body { bytes, .. } => format!("{bytes} bytes"),
                    };
                    tracing::info!(url = %redacted(url), attempt, ms = started.elapsed().as_millis() as u64, "fetched: {size}");
                    return Ok(fetched);
                }
                Err(Attempt::Fail(e)) => {
                    tracing::warn!(url = %redacted(url), attempt, "failed: {e}");
                    return Err(SyncError::Fetch(format!("{}: {e}", redacted(url))));
                }
                Err(Attempt::Retry(e, after)) => {
                    let pause = after.unwrap_or(wait).min(self.max_wait);
                    tracing::warn!(url = %redacted(url), attempt, retry_in_ms = pause.as_millis() as u64, "{e}");
                    last_error = e;
                    if attempt < how.attempts {
                        tokio::time::sleep(pause).await;
                        wait = (wait * 2).min(self.max_wait);
                    }
                }
            }
        }
        Err(SyncError::Fetch(format!(
            "{}: gave up after {} attempts: {last_error}",
            redacted(url),
            how.attempts
        )))
    }

    async fn attempt(&self, url: &Url, how: &Get<'_>) -> Result<Fetched, Attempt> {
        let mut request = self.client.get(url.clone()).timeout(how.timeout);
        if let Some(etag) = how.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(modified) = how.last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, modified);
        }
        for (name, value) in &how.headers {
            request = request.header(*name, value);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| Attempt::Retry(format!("request: {}", plain(e)), None))?;
        let status = response.status();
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            let after = header(reqwest::header::RETRY_AFTER).and_then(|v| retry_after(&v));
            let message = format!("HTTP {status}");
            return Err(match status.as_u16() {
                429 | 502 | 503 | 504 => Attempt::Retry(message, after),
                // NVD answers 403 when its rate limit is exceeded; a 403 without Retry-After
                // (an "Access Denied" page) is tried again too, a few times.
                403 => Attempt::Retry(message, after),
                500 => Attempt::Retry(message, after),
                _ => Attempt::Fail(message),
            });
        }
        if let Some(len) = response.content_length()
            && len > how.max_bytes
        {
            return Err(Attempt::Fail(format!(
                "{len} bytes is more than the source's max_bytes ({})",
                how.max_bytes
            )));
        }
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        let promised = response.content_length();
        let file = tempfile::NamedTempFile::new()
            .map_err(|e| Attempt::Fail(format!("a temporary file: {e}")))?;
        let mut out = tokio::fs::File::from_std(
            file.reopen()
                .map_err(|e| Attempt::Fail(format!("a temporary file: {e}")))?,
        );
        let mut bytes = 0u64;
        loop {
            let chunk = response.chunk().await.map_err(|e| {
                Attempt::Retry(
                    format!("the body broke off after {bytes} bytes: {}", plain(e)),
                    None,
                )
            })?;
            let Some(chunk) = chunk else { break };
            bytes += chunk.len() as u64;
            if bytes > how.max_bytes {
                return Err(Attempt::Fail(format!(
                    "more than the source's max_bytes ({})",
                    how.max_bytes
                )));
            }
            out.write_all(&chunk)
                .await
                .map_err(|e| Attempt::Fail(format!("writing the download: {e}")))?;
        }
        out.flush()
            .await
            .map_err(|e| Attempt::Fail(format!("writing the download: {e}")))?;
        if let Some(promised) = promised
            && promised != bytes
        {
            return Err(Attempt::Retry(
                format!("{bytes} bytes of the {promised} promised"),
                None,
            ));
        }
        Ok(Fetched::Body {
            file,
            bytes,
            etag,
            last_modified,
        })
    }
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// An error without the URL (its query may carry a key), with its causes.
fn plain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A URL as logged: no query values that could be secrets, no user or password.
pub(crate) fn redacted(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let secret =
                k.to_ascii_lowercase().contains("key") || k.to_ascii_lowercase().contains("token");
            (
                k.into_owned(),
                if secret {
                    "***".to_owned()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if !pairs.is_empty() {
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn logged_urls_carry_no_secrets() {
        let u =
            Url::parse("https://user:pw@services.nvd.nist.gov/rest?apiKey=s3cret&startIndex=2000")
                .unwrap();
        let r = redacted(&u);
        assert!(
            !r.contains("s3cret") && !r.contains("pw") && r.contains("startIndex=2000"),
            "{r}"
        );
    }
}
