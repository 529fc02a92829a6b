//! `ward bench feeds`: from a KEV publication to the members' notifications, end to end.
//!
//! A generated federation (as `ward bench federation`) on a knowledge-only database; a
//! publisher on loopback serving the database's own KEV catalogue as CISA's JSON (with an
//! ETag); `ward serve --feeds` polling it every `--every`; a webhook receiver as the central
//! team's channel. The publisher then adds a KEV entry for a vulnerability some members have;
//! the bench prints the time from that publication to each notification delivered, split into
//! poll wait, download and import, matching, and delivery. With `--cve5 ARCHIVE` it also
//! measures the first load of a CVE 5 archive through the sync path (served over loopback,
//! `kind = "vulnrichment"` with it as the baseline) against `ward db import` of the same file.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use serde_json::json;
use ward_store::Store;

use super::{peak_rss_mib, populate};

/// What the publisher serves, and when it was asked.
#[derive(Default)]
struct Publisher {
    kev: Vec<u8>,
    etag: String,
    /// When each request came (since the bench's clock started).
    asked: Vec<Instant>,
    cve5: Option<Vec<u8>>,
}

/// One delivered notification.
struct Delivery {
    at: Instant,
    event: String,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The database's KEV catalogue as CISA publishes it (plus `extra`).
async fn catalogue(store: &Store, extra: Option<&ward_model::KevEntry>) -> anyhow::Result<Vec<u8>> {
    let mut entries: Vec<serde_json::Value> = Vec::new();
    for payload in store.kev_payloads().await? {
        let k: ward_model::KevEntry = serde_json::from_str(&payload)?;
        entries.push(cisa(&k));
    }
    if let Some(k) = extra {
        entries.push(cisa(k));
    }
    // A knowledge base without KEV (a CVE 5 corpus alone) still gets a catalogue to poll: one
    // old entry no member has.
    if entries.is_empty() {
        entries.push(cisa(&ward_model::KevEntry {
            cve_id: "CVE-1999-0001".into(),
            date_added: chrono::NaiveDate::from_ymd_opt(2021, 11, 3),
            due_date: chrono::NaiveDate::from_ymd_opt(2022, 5, 3),
            ..ward_model::KevEntry::default()
        }));
    }
    Ok(serde_json::to_vec(&json!({
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": chrono::Utc::now().format("%Y.%m.%d").to_string(),
        "dateReleased": chrono::Utc::now().to_rfc3339(),
        "count": entries.len(),
        "vulnerabilities": entries,
    }))?)
}

fn cisa(k: &ward_model::KevEntry) -> serde_json::Value {
    json!({
        "cveID": k.cve_id,
        "vendorProject": k.vendor_project.clone().unwrap_or_default(),
        "product": k.product.clone().unwrap_or_default(),
        "vulnerabilityName": k.name.clone().unwrap_or_default(),
        "dateAdded": k.date_added.map(|d| d.to_string()).unwrap_or_default(),
        "shortDescription": "",
        "requiredAction": k.required_action.clone().unwrap_or_default(),
        "dueDate": k.due_date.map(|d| d.to_string()).unwrap_or_default(),
        "knownRansomwareCampaignUse": k.ransomware.clone().unwrap_or_else(|| "Unknown".into()),
        "notes": "",
    })
}

pub(crate) async fn bench(
    location: &str,
    members: usize,
    assets: usize,
    components: usize,
    every: u64,
    cve5: Option<std::path::PathBuf>,
) -> anyhow::Result<serde_json::Value> {
    let store = Store::open(location).await?;
    let policy = ward_priority::Policy::load("ssvc-deployer")?;
    let started = Instant::now();
    let (central_token, _) =
        populate(&store, location, &policy, members, assets, components).await?;
    let (run, _) = ward_server::match_all(&store, &policy).await?;
    let setup = started.elapsed().as_secs_f64();
    let Some((cve, affected)) = store.unlisted_finding().await? else {
        anyhow::bail!("no finding of a vulnerability KEV does not list: nothing to publish");
    };

    // The publisher and the receiver, on loopback.
    let publisher = Arc::new(Mutex::new(Publisher {
        kev: catalogue(&store, None).await?,
        etag: "\"0\"".into(),
        cve5: match &cve5 {
            Some(p) => Some(std::fs::read(p)?),
            None => None,
        },
        ..Publisher::default()
    }));
    let deliveries: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let p = publisher.clone();
    let d = deliveries.clone();
    let app = axum::Router::new()
        .route(
            "/kev.json",
            get(move |headers: axum::http::HeaderMap| {
                let p = p.clone();
                async move {
                    let mut p = p.lock().expect("the publisher's lock");
                    p.asked.push(Instant::now());
                    if headers.get("if-none-match").and_then(|v| v.to_str().ok())
                        == Some(p.etag.as_str())
                    {
                        return axum::response::Response::builder()
                            .status(304)
                            .body(axum::body::Body::empty())
                            .expect("a response");
                    }
                    axum::response::Response::builder()
                        .header("etag", p.etag.clone())
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from(p.kev.clone()))
                        .expect("a response")
                }
            }),
        )
        .route(
            "/cve5/baseline.tar.xz",
            get({
                let p = publisher.clone();
                move || {
                    let p = p.clone();
                    async move {
                        p.lock()
                            .expect("the publisher's lock")
                            .cve5
                            .clone()
                            .unwrap_or_default()
                    }
                }
            }),
        )
        .route("/cve5/deltaLog.json", get(|| async { "[]" }))
        .route(
            "/hook",
            post(move |headers: axum::http::HeaderMap| {
                let d = d.clone();
                async move {
                    d.lock().expect("the receiver's lock").push(Delivery {
                        at: Instant::now(),
                        event: headers
                            .get("x-ward-event")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned(),
                    });
                    "ok"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let local = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let central = store
        .central()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no central team"))?;
    store
        .add_channel(
            "bench",
            ward_store::Scope::operator()
                .within(central.id)
                .expect("the operator reaches every organisation"),
            ward_model::ChannelKind::Webhook,
            &format!("{local}/hook"),
            Some("bench-secret-0123456789"),
        )
        .await?;
    let feeds = ward_sync::Config::parse(
        "bench feeds",
        &format!("[[source]]\nkind = \"kev\"\nurl = \"{local}/kev.json\"\nevery = \"{every}s\"\n"),
    )?;
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let serving = tokio::spawn(ward_server::serve(
        store.clone(),
        policy.clone(),
        api,
        ward_server::ServeOptions {
            feeds: Some(feeds),
            bundle_dir: None,
            tick: Duration::from_secs(3600),
            delivery_hold: Duration::from_secs(30),
            mailer: None,
            targets: ward_server::outbound::Targets::parse("127.0.0.1")
                .map_err(anyhow::Error::msg)?,
            audit_key: None,
            tls: None,
            import_limits: ward_import::Limits::DEFAULT,
        },
    ));
    // The first poll: the catalogue as it is (nothing new). Then a moment in the poll cycle.
    let waiting = Instant::now();
    while publisher.lock().expect("lock").asked.is_empty() {
        anyhow::ensure!(
            waiting.elapsed() < Duration::from_secs(120),
            "the server never polled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = deliveries.lock().expect("lock").len();

    // CISA publishes.
    let entry = ward_model::KevEntry {
        cve_id: cve.clone(),
        date_added: Some(chrono::Utc::now().date_naive()),
        due_date: Some(chrono::Utc::now().date_naive() + chrono::Duration::days(21)),
        required_action: Some("Apply mitigations per vendor instructions.".into()),
        ..ward_model::KevEntry::default()
    };
    let kev = catalogue(&store, Some(&entry)).await?;
    let published = Instant::now();
    let since = chrono::Utc::now();
    {
        let mut p = publisher.lock().expect("lock");
        p.kev = kev;
        p.etag = "\"1\"".into();
    }
    // Wait for the deliveries to settle: at least one, then none new for 10 s (at most 180 s).
    let mut last_count = before;
    let mut last_change = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let n = deliveries.lock().expect("lock").len();
        if n != last_count {
            last_count = n;
            last_change = Instant::now();
        }
        if (n > before && last_change.elapsed() > Duration::from_secs(10))
            || published.elapsed() > Duration::from_secs(180)
        {
            break;
        }
    }
    serving.abort();
    let polled = publisher
        .lock()
        .expect("lock")
        .asked
        .iter()
        .copied()
        .find(|t| *t >= published);
    let state = store.feed_state("kev", "kev").await?;
    // The sync that imported the publication (later polls answered 304 succeed too).
    let imported = state
        .last_change_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (t.with_timezone(&chrono::Utc) - since).num_milliseconds() as f64 / 1000.0);
    let (queued, members_notified) = store
        .outbox_since(&since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .await?;
    let got: Vec<(Instant, String)> = deliveries.lock().expect("lock")[before..]
        .iter()
        .map(|d| (d.at, d.event.clone()))
        .collect();
    let mut latencies: Vec<f64> = got
        .iter()
        .map(|(at, _)| (*at - published).as_secs_f64())
        .collect();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let mut events: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for (_, event) in &got {
        *events.entry(event.as_str()).or_default() += 1;
    }
    let poll_wait = polled.map(|t| (t - published).as_secs_f64());
    let report_kev = json!({
        "cve": cve,
        "members_with_findings": affected,
        "every_seconds": every,
        "notifications_delivered": latencies.len(),
        "notifications_queued": queued,
        "members_notified": members_notified,
        "events": events,
        "publication_to_delivery_seconds": {
            "p50": percentile(&latencies, 0.5),
            "p99": percentile(&latencies, 0.99),
            "max": latencies.last().copied(),
        },
        "split_seconds": {
            "poll_wait": poll_wait,
            "download_and_import": match (imported, poll_wait) { (Some(i), Some(w)) => Some(i - w), _ => None },
            "matching_and_delivery_first": match (latencies.first(), imported) { (Some(f), Some(i)) => Some(f - i), _ => None },
            "delivery_spread": match (latencies.first(), latencies.last()) { (Some(f), Some(l)) => Some(l - f), _ => None },
        },
    });
    let _ = central_token;

    // The first load of a CVE 5 archive: the sync path against `ward db import`.
    let first_load = match cve5 {
        None => json!(null),
        Some(path) => {
            let dir = tempfile::tempdir()?;
            let synced = Store::open(&dir.path().join("sync.db").display().to_string()).await?;
            let config = ward_sync::Config::parse(
                "bench cve5",
                &format!(
                    "[[source]]\nkind = \"vulnrichment\"\nurl = \"{local}/cve5\"\nbaseline = \"{local}/cve5/baseline.tar.xz\"\nmax_bytes = 17179869184\n"
                ),
            )?;
            let http = ward_sync::Http::new(None)?;
            let t = Instant::now();
            let reports = ward_sync::sync(&synced, &http, &config, None).await?;
            let sync_seconds = t.elapsed().as_secs_f64();
            let counts = synced.counts().await?;
            synced.close().await;
            let imported = Store::open(&dir.path().join("import.db").display().to_string()).await?;
            let t = Instant::now();
            let mut warnings = Vec::new();
            ward_import::import_paths(
                &imported,
                vec![path.clone()],
                ward_import::Options::default(),
                &|_| {},
                &mut warnings,
            )
            .await?;
            let import_seconds = t.elapsed().as_secs_f64();
            imported.close().await;
            json!({
                "archive": path.display().to_string(),
                "records": counts.views,
                "sync_ok": reports.iter().all(|r| r.ok),
                "sync_seconds": sync_seconds,
                "db_import_seconds": import_seconds,
                "sync_over_import": sync_seconds / import_seconds,
            })
        }
    };
    Ok(json!({
        "bench": "feeds",
        "members": members,
        "assets": members * assets,
        "components": members * assets * components,
        "setup_seconds": setup,
        "findings": run.new,
        "kev_publication": report_kev,
        "cve5_first_load": first_load,
        "peak_rss_mib": peak_rss_mib(),
    }))
}
