//! Where deliveries may go: real connections on loopback, with and without the central admin's
//! allowance. A refused destination sees no connection at all.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ward_model::ChannelKind;
use ward_server::notify::{Clients, deliver};
use ward_server::outbound::Targets;
use ward_store::{Delivery, Failure};

/// A loopback HTTP server answering every request with `answer` (status line and headers),
/// counting connections.
struct Listener {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Listener {
    fn start(answer: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(
                    format!("{answer}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        Self { port, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The connections once `want` have been counted, or after two seconds (the listener's
    /// thread counts each after accepting it: on a busy machine, after the sender is done).
    fn connections_reaching(&self, want: usize) -> usize {
        let started = std::time::Instant::now();
        while self.connections() < want && started.elapsed() < std::time::Duration::from_secs(2) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        self.connections()
    }
}

fn delivery(kind: ChannelKind, target: String) -> Delivery {
    Delivery {
        id: 1,
        channel: ward_store::ChannelId::from(1),
        kind,
        target,
        secret: Some("a-secret-of-sixteen+".into()),
        event: "alert.issue".into(),
        payload: r#"{"event":"alert.issue"}"#.into(),
        idempotency_key: "k".into(),
        attempts: 1,
    }
}

async fn send(
    targets: &Targets,
    kind: ChannelKind,
    target: String,
) -> Result<(), (Failure, String)> {
    let clients = Clients::new(targets.clone()).unwrap();
    deliver(&clients, None, &delivery(kind, target)).await
}

#[tokio::test]
async fn internal_destinations_are_refused_before_any_connection() {
    let receiver = Listener::start("HTTP/1.1 200 OK");
    let port = receiver.port;
    let none = Targets::default();
    for target in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("https://127.0.0.1:{port}/hook"),
        format!("http://0x7f000001:{port}/hook"),
        format!("http://2130706433:{port}/hook"),
        format!("https://[::ffff:127.0.0.1]:{port}/hook"),
        // A name is resolved, then every address checked, when Ward connects.
        format!("https://localhost:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let (failure, why) = send(&none, ChannelKind::Webhook, target.clone())
            .await
            .unwrap_err();
        assert_eq!(failure, Failure::Refused, "{target}: {why}");
        assert!(why.contains("--allow-targets"), "{target}: {why}");
    }
    for target in [
        format!("tcp://127.0.0.1:{port}"),
        format!("udp://127.0.0.1:{port}"),
        format!("tcp://localhost:{port}"),
    ] {
        let (failure, why) = send(&none, ChannelKind::Syslog, target.clone())
            .await
            .unwrap_err();
        assert_eq!(failure, Failure::Refused, "{target}: {why}");
        assert!(why.contains("loopback"), "{target}: {why}");
    }
    assert_eq!(
        receiver.connections(),
        0,
        "a refused destination was reached"
    );
}

#[tokio::test]
async fn allowed_ranges_are_reached_and_plain_http_needs_an_allowed_range() {
    let receiver = Listener::start("HTTP/1.1 200 OK");
    let port = receiver.port;
    let loopback = Targets::parse("127.0.0.0/8,::1").unwrap();
    send(
        &loopback,
        ChannelKind::Webhook,
        format!("http://127.0.0.1:{port}/hook"),
    )
    .await
    .unwrap();
    send(
        &loopback,
        ChannelKind::Webhook,
        format!("http://localhost:{port}/hook"),
    )
    .await
    .unwrap();
    send(
        &loopback,
        ChannelKind::Syslog,
        format!("tcp://127.0.0.1:{port}"),
    )
    .await
    .unwrap();
    assert_eq!(receiver.connections_reaching(3), 3);
    // Another range allowed: loopback is still internal, and refused.
    let other = Targets::parse("10.20.0.0/16").unwrap();
    let (failure, _) = send(
        &other,
        ChannelKind::Webhook,
        format!("http://localhost:{port}/hook"),
    )
    .await
    .unwrap_err();
    assert_eq!(failure, Failure::Refused);
    assert_eq!(receiver.connections(), 3);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let inner = Listener::start("HTTP/1.1 200 OK");
    let answer: &'static str = Box::leak(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{}/internal",
            inner.port
        )
        .into_boxed_str(),
    );
    let redirecting = Listener::start(answer);
    let loopback = Targets::parse("127.0.0.0/8").unwrap();
    let (failure, why) = send(
        &loopback,
        ChannelKind::Webhook,
        format!("http://127.0.0.1:{}/hook", redirecting.port),
    )
    .await
    .unwrap_err();
    assert_eq!(failure, Failure::Failed);
    assert!(why.contains("307") && why.contains("not followed"), "{why}");
    assert_eq!(redirecting.connections(), 1);
    assert_eq!(inner.connections(), 0, "the redirect was followed");
}
