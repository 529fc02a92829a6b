//! `ward bench hostile`: how `/api/v1/health` answers while a member's analyst uploads crafted
//! CycloneDX XML (deep nesting, a property close at every step) and strangers burst wrong
//! logins — the two loads that froze the server before parsing, matching and Argon2 left the
//! async workers. Reports the health latency's p50/p99/max and what each load got done.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ward_store::{Role, Store};

/// Crafted XML of about `bytes`: 120 elements deep inside `<metadata>`, then properties.
fn crafted_xml(bytes: usize) -> Vec<u8> {
    let depth = 120;
    let mut xml = String::from("<bom xmlns=\"http://cyclonedx.org/schema/bom/1.5\"><metadata>");
    xml.push_str(&"<x>".repeat(depth));
    xml.push_str("<properties>");
    let property = "<property name=\"p\">v</property>";
    while xml.len() + property.len() < bytes {
        xml.push_str(property);
    }
    xml.push_str("</properties>");
    xml.push_str(&"</x>".repeat(depth));
    xml.push_str("</metadata><components/></bom>");
    xml.into_bytes()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub(crate) async fn bench(
    seconds: u64,
    uploaders: usize,
    xml_mb: f64,
    guessers: usize,
) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let location = dir.path().join("hostile.db").display().to_string();
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
    store
        .create_user(
            actor,
            "trust",
            "lead@trust.example",
            "violet tugboat marmalade quorum",
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
        .json(&json!({"name": "mdm-01"}))
        .send()
        .await?
        .json()
        .await?;
    let asset = asset["asset"]["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no asset id in {asset}"))?;
    let xml = crafted_xml((xml_mb * 1e6) as usize);
    let xml_bytes = xml.len();
    let until = Instant::now() + Duration::from_secs(seconds);

    // Health, every 20 ms, before and during the loads.
    let poll = |client: reqwest::Client, url: String, stop: Instant| async move {
        let mut latencies = Vec::new();
        while Instant::now() < stop {
            let started = Instant::now();
            let ok = client
                .get(format!("{url}/api/v1/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        latencies
    };
    let mut idle = poll(
        client.clone(),
        url.clone(),
        Instant::now() + Duration::from_secs(2),
    )
    .await;
    let health = tokio::spawn(poll(client.clone(), url.clone(), until));
    let mut loads = Vec::new();
    for _ in 0..uploaders {
        let (client, url, analyst, xml) =
            (client.clone(), url.clone(), analyst.clone(), xml.clone());
        loads.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < until {
                let r = client
                    .post(format!(
                        "{url}/api/v1/assets/{asset}/inventory?filename=crafted.xml"
                    ))
                    .bearer_auth(&analyst)
                    .body(xml.clone())
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status().is_success()) {
                    done += 1;
                }
            }
            ("uploads", done)
        }));
    }
    for g in 0..guessers {
        let (client, url) = (client.clone(), url.clone());
        loads.push(tokio::spawn(async move {
            let mut evaluated = 0u64;
            let mut n = 0;
            while Instant::now() < until {
                n += 1;
                let r = client
                    .post(format!("{url}/api/v1/login"))
                    .json(&json!({"email": "lead@trust.example", "password": format!("guess {g} {n}")}))
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status() == 401) {
                    evaluated += 1;
                }
            }
            ("logins_evaluated", evaluated)
        }));
    }
    let mut during = health.await?;
    let mut totals = serde_json::Map::new();
    for l in loads {
        let (what, n) = l.await?;
        let entry = totals.entry(what).or_insert(json!(0));
        *entry = json!(entry.as_u64().unwrap_or(0) + n);
    }
    server.abort();
    idle.sort_by(f64::total_cmp);
    during.sort_by(f64::total_cmp);
    Ok(json!({
        "bench": "hostile",
        "seconds": seconds,
        "crafted_xml_bytes": xml_bytes,
        "uploaders": uploaders,
        "guessers": guessers,
        "done": totals,
        "health_idle_ms": {"p50": percentile(&idle, 0.5), "p99": percentile(&idle, 0.99)},
        "health_under_load_ms": {"requests": during.len(), "p50": percentile(&during, 0.5),
                                  "p99": percentile(&during, 0.99), "max": during.last().copied().unwrap_or(0.0)},
    }))
}
