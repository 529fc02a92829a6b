//! `serve`: the API and the UI on a bound listener, with the background jobs beside them.

use axum::http::{HeaderValue, header};
use axum::response::Response;
use ward_priority::Policy;
use ward_store::{Job, Store};

use crate::jobs::{exclusively, match_knowledge_changes};
use crate::notify;

/// Serves the API on a bound listener until the process ends, with the background work beside
/// it: continuous matching, deadline checks and notification delivery.
pub async fn serve(
    store: Store,
    policy: Policy,
    listener: tokio::net::TcpListener,
    options: ServeOptions,
) -> std::io::Result<()> {
    tokio::spawn(notify::deliver_forever(
        store.clone(),
        options.delivery_hold,
        options.mailer,
        options.targets.clone(),
    ));
    let matcher = (store.clone(), policy.clone());
    tokio::spawn(async move {
        // Knowledge changes are looked for every two seconds: an import into the server's
        // database reaches every affected member's findings and alerts within seconds.
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            interval.tick().await;
            // Several servers on one PostgreSQL database: one matches at a time.
            let work = match_knowledge_changes(&matcher.0, &matcher.1);
            let Some(result) = exclusively(&matcher.0, Job::Matching, work).await else {
                continue;
            };
            match result {
                Ok(run) if run.vulnerabilities > 0 => tracing::info!(
                    "matched {} changed vulnerabilities: {} assets, {} new, {} resolved findings, {} alerts",
                    run.vulnerabilities,
                    run.assets,
                    run.new,
                    run.resolved,
                    run.alerts
                ),
                Ok(_) => {}
                Err(e) => tracing::error!("continuous matching: {e}"),
            }
        }
    });
    if let Some(key) = options.audit_key {
        // The chain's head signed every tick when it moved (the key never enters the database).
        let signer = store.clone();
        let every = options.tick;
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            loop {
                interval.tick().await;
                match signer.sign_checkpoint(&key).await {
                    Ok(Some(c)) => {
                        tracing::info!(seq = c.seq, key = %c.key_id, "audit checkpoint signed")
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!("audit checkpoint: {e}"),
                }
            }
        });
    }
    let recorder = store.clone();
    tokio::spawn(async move {
        // Off the request path every five seconds: tokens' last use recorded, and stale login
        // failures and expired sessions deleted.
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            interval.tick().await;
            if let Err(e) = recorder.flush_token_uses().await {
                tracing::warn!("recording tokens' last use: {e}");
            }
            if let Err(e) = recorder.prune_logins().await {
                tracing::warn!("pruning login failures and sessions: {e}");
            }
        }
    });
    let ticker = store.clone();
    let tick = options.tick;
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        // Finding details no finding refers to any more are deleted at most hourly (a scan of
        // the findings: 2.2 s at 1.67 million on SQLite), on the tick's one server.
        let mut collected: Option<std::time::Instant> = None;
        loop {
            interval.tick().await;
            if collected.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(3600)) {
                let work = ticker.collect_finding_details();
                if let Some(result) = exclusively(&ticker, Job::Deadlines, work).await {
                    collected = Some(std::time::Instant::now());
                    match result {
                        Ok(0) => {}
                        Ok(n) => tracing::info!("{n} finding details no finding refers to deleted"),
                        Err(e) => tracing::error!("collecting finding details: {e}"),
                    }
                }
            }
            let work = ticker.tick(chrono::Utc::now());
            let Some(result) = exclusively(&ticker, Job::Deadlines, work).await else {
                continue;
            };
            match result {
                Ok(t)
                    if !t.escalated.is_empty()
                        || !t.reopened.is_empty()
                        || !t.remediated.is_empty() =>
                {
                    tracing::info!(
                        "deadlines: {} alerts escalated, {} risk acceptances expired and reopened, {} expired with nothing left open (remediated)",
                        t.escalated.len(),
                        t.reopened.len(),
                        t.remediated.len()
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::error!("deadline check: {e}"),
            }
        }
    });
    if let Some(feeds) = options.feeds.clone() {
        tokio::spawn(crate::feeds::sync_forever(store.clone(), feeds));
    }
    let app = crate::router_for(crate::AppState {
        store,
        policy,
        targets: options.targets,
        import_limits: options.import_limits,
        feeds: options.feeds,
        bundle_dir: options.bundle_dir,
    });
    match options.tls {
        None => {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        }
        Some(tls) => {
            // Under TLS browsers are told to use nothing else for a year (HSTS).
            let app = app.layer(axum::middleware::map_response(
                |mut response: Response| async move {
                    response.headers_mut().insert(
                        header::STRICT_TRANSPORT_SECURITY,
                        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
                    );
                    response
                },
            ));
            axum_server::from_tcp_rustls(listener.into_std()?, tls)?
                .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await
        }
    }
}

/// What `serve` runs besides the API.
pub struct ServeOptions {
    /// Between deadline checks (escalations, expired risk acceptances).
    pub tick: std::time::Duration,
    /// How long a notification being delivered is held before it is due again.
    pub delivery_hold: std::time::Duration,
    /// The SMTP relay for e-mail channels; without one they wait (and say why).
    pub mailer: Option<notify::Mailer>,
    /// Signs the audit chain's head every tick (`ward serve --audit-key`).
    pub audit_key: Option<ward_store::checkpoint::SigningKey>,
    /// Internal ranges that notification channels may reach besides the public internet.
    pub targets: crate::outbound::Targets,
    /// HTTPS with this certificate and key (and HSTS) instead of plain HTTP.
    pub tls: Option<axum_server::tls_rustls::RustlsConfig>,
    /// How far a feed imported over HTTP may expand, per document and per archive.
    pub import_limits: ward_import::Limits,
    /// The publishers' feeds to follow on schedule (`ward serve --feeds FILE`).
    pub feeds: Option<ward_sync::Config>,
    /// Offline bundles to publish (`ward serve --bundle-dir DIR`: the newest `.tar.gz`).
    pub bundle_dir: Option<std::path::PathBuf>,
}

pub(crate) async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The API's answers load nothing; the UI's pages set their own policy.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    response
}
