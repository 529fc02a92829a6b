//! `ward bench busy`: what a member sees of the server while the central team imports a feed
//! corpus into the same database — the worklist's latency (`GET /api/v1/findings` and
//! `/api/v1/alerts`), an inventory upload's (a write, with matching) and a sign-in's (a write
//! for its throttle reservation) — before and during the import, and how long the import took.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ward_store::{Role, Store};

fn percentiles(mut ms: Vec<f64>) -> Value {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| {
        if ms.is_empty() {
            0.0
        } else {
            ms[((ms.len() as f64 - 1.0) * p).round() as usize]
        }
    };
    json!({"requests": ms.len(), "p50": at(0.5), "p99": at(0.99), "max": ms.last().copied().unwrap_or(0.0)})
}

const INVENTORY: &str = "asset,cpe\n\
mdm-01,cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*\n\
mdm-01,cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*\n\
mdm-01,cpe:2.3:a:openbsd:openssh:8.9:*:*:*:*:*:*:*\n\
mdm-01,cpe:2.3:a:f5:big-ip_access_policy_manager:16.1.0:*:*:*:*:*:*:*\n";

/// Requests of one kind, one after another (a pause of `every` between), until `stop`;
/// the latencies of those answered with a success.
async fn keep_asking(
    stop: Arc<AtomicBool>,
    every: Duration,
    mut ask: impl FnMut() -> reqwest::RequestBuilder,
) -> (Vec<f64>, u64) {
    let mut ms = Vec::new();
    let mut failed = 0;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        match ask().send().await {
            Ok(r) if r.status().is_success() => ms.push(started.elapsed().as_secs_f64() * 1000.0),
            _ => failed += 1,
        }
        tokio::time::sleep(every).await;
    }
    (ms, failed)
}

pub(crate) async fn bench(
    db: Option<String>,
    paths: Vec<PathBuf>,
    buffer: u64,
) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let location = db.unwrap_or_else(|| dir.path().join("busy.db").display().to_string());
    let store = Store::open(&location).await?;
    let actor = "cli:bench";
    store
        .create_organisation(actor, "central", "Central", true)
        .await?;
    store
        .create_organisation(actor, "trust", "Trust", false)
        .await?;
    let (_, analyst) = store
        .create_token(actor, "trust", "bench", Role::MemberAnalyst)
        .await?;
    let password = "violet tugboat marmalade quorum";
    store
        .create_user(
            actor,
            "trust",
            "lead@trust.example",
            password,
            Role::MemberAdmin,
        )
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(ward_server::serve(
        store.clone(),
        ward_priority::Policy::load("ssvc-deployer")?,
        listener,
        ward_server::ServeOptions {
            feeds: None,
            bundle_dir: None,
            tick: Duration::from_secs(3600),
            delivery_hold: Duration::from_secs(30),
            mailer: None,
            targets: ward_server::outbound::Targets::default(),
            audit_key: None,
            tls: None,
            import_limits: ward_import::Limits::DEFAULT,
        },
    ));
    let client = reqwest::Client::new();
    let asset: Value = client
        .post(format!("{url}/api/v1/assets"))
        .bearer_auth(&analyst)
        .json(&json!({"name": "mdm-01", "exposure": "open"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let asset = asset["asset"]["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no asset id in {asset}"))?;

    // The member's traffic: the worklist every 20 ms, an upload every 500 ms, a sign-in every
    // 250 ms; for `seconds` while idle, then for as long as the import runs.
    let traffic = |stop: Arc<AtomicBool>| {
        let (c, u, t) = (client.clone(), url.clone(), analyst.clone());
        let findings = tokio::spawn(keep_asking(
            stop.clone(),
            Duration::from_millis(20),
            move || {
                c.get(format!("{u}/api/v1/findings?limit=50"))
                    .bearer_auth(&t)
            },
        ));
        let (c, u, t) = (client.clone(), url.clone(), analyst.clone());
        let alerts = tokio::spawn(keep_asking(
            stop.clone(),
            Duration::from_millis(20),
            move || c.get(format!("{u}/api/v1/alerts")).bearer_auth(&t),
        ));
        let (c, u, t) = (client.clone(), url.clone(), analyst.clone());
        let uploads = tokio::spawn(keep_asking(
            stop.clone(),
            Duration::from_millis(500),
            move || {
                c.post(format!(
                    "{u}/api/v1/assets/{asset}/inventory?filename=inventory.csv"
                ))
                .bearer_auth(&t)
                .body(INVENTORY)
            },
        ));
        let (c, u) = (client.clone(), url.clone());
        let logins = tokio::spawn(keep_asking(stop, Duration::from_millis(250), move || {
            c.post(format!("{u}/api/v1/login"))
                .json(&json!({"email": "lead@trust.example", "password": password}))
        }));
        async move {
            let mut out = serde_json::Map::new();
            for (name, task) in [
                ("worklist_findings_ms", findings),
                ("worklist_alerts_ms", alerts),
                ("upload_ms", uploads),
                ("login_ms", logins),
            ] {
                let (ms, failed) = task.await.unwrap_or_default();
                let mut p = percentiles(ms);
                p["failed"] = json!(failed);
                out.insert(name.into(), p);
            }
            Value::Object(out)
        }
    };

    let stop = Arc::new(AtomicBool::new(false));
    let idle = traffic(stop.clone());
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    let idle = idle.await;

    let stop = Arc::new(AtomicBool::new(false));
    let during = traffic(stop.clone());
    let started = Instant::now();
    let mut warnings = Vec::new();
    let imported = ward_import::import_paths(
        &store,
        paths,
        ward_import::Options {
            kev_catalogue: false,
            buffer,
            ..Default::default()
        },
        &|_| {},
        &mut warnings,
    )
    .await;
    let import_seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let during = during.await;
    server.abort();
    let imported = imported.map_err(|e| anyhow::anyhow!("the import failed: {e}"))?;
    Ok(json!({
        "bench": "busy",
        "backend": if location.starts_with("postgres") { "postgres" } else { "sqlite" },
        "buffer": buffer,
        "import": {"seconds": import_seconds, "records": imported.records(), "documents": imported.documents},
        "idle": idle,
        "during_import": during,
    }))
}
