//! Delivering the outbox: webhooks (JSON, HMAC-SHA256 signature, idempotency key) and syslog
//! (RFC 5424 over UDP, or TCP with RFC 6587 octet counting). Failures are retried with
//! exponential backoff; a crash mid-delivery leaves the claim to run out and the row to be
//! delivered again (at least once; receivers deduplicate by the idempotency key).

use std::time::Duration;

use hmac::{KeyInit, Mac};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use ward_store::{Delivery, Store};

/// Delivers due notifications until the process ends. A claimed notification is held for
/// `hold` before another deliverer (or this one, restarted) may take it again.
pub async fn deliver_forever(store: Store, hold: Duration) {
    let hold = chrono::Duration::from_std(hold).unwrap_or(chrono::Duration::seconds(30));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("ward/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("notifications disabled: {e}");
            return;
        }
    };
    loop {
        match store.claim_deliveries(20, hold).await {
            Ok(batch) if !batch.is_empty() => {
                for d in batch {
                    let result = deliver(&client, &d).await;
                    let recorded = match result {
                        Ok(()) => store.delivered(d.id).await,
                        Err(e) => {
                            tracing::warn!("notification {} to {}: {e}", d.id, d.target);
                            store.delivery_failed(d.id, d.attempts, &e).await
                        }
                    };
                    if let Err(e) = recorded {
                        tracing::error!("outbox: {e}");
                    }
                }
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            Err(e) => {
                tracing::error!("outbox: {e}");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliver(client: &reqwest::Client, d: &Delivery) -> Result<(), String> {
    match d.kind.as_str() {
        "webhook" => {
            let body = d.payload.as_bytes().to_vec();
            let secret = d.secret.as_deref().unwrap_or_default();
            let response = client
                .post(&d.target)
                .header("content-type", "application/json")
                .header("x-ward-event", &d.event)
                .header("x-ward-signature", signature(secret, &body))
                .header("idempotency-key", &d.idempotency_key)
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!("the receiver answered {}", response.status()))
            }
        }
        "syslog" => syslog(d).await,
        other => Err(format!("unknown channel kind {other}")),
    }
}

/// One RFC 5424 message: facility local0, severity by event; the payload as the message.
pub fn syslog_message(event: &str, idempotency_key: &str, payload: &str) -> String {
    let severity = match event {
        "alert.escalate" => 2,
        "alert.raise" | "alert.issue" | "alert.reopen" => 4,
        _ => 5,
    };
    let pri = 16 * 8 + severity;
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "-".into());
    let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!(
        "<{pri}>1 {stamp} {host} ward {} {event} [ward@32473 key=\"{idempotency_key}\"] {payload}",
        std::process::id()
    )
}

async fn syslog(d: &Delivery) -> Result<(), String> {
    let message = syslog_message(&d.event, &d.idempotency_key, &d.payload);
    if let Some(addr) = d.target.strip_prefix("udp://") {
        let socket = tokio::net::UdpSocket::bind("0.0.0.0:0")
            .await
            .map_err(|e| e.to_string())?;
        socket
            .send_to(message.as_bytes(), addr)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    } else if let Some(addr) = d.target.strip_prefix("tcp://") {
        let mut stream = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        .map_err(|_| "connection timed out".to_owned())?
        .map_err(|e| e.to_string())?;
        // RFC 6587 octet counting.
        let framed = format!("{} {message}", message.len());
        stream
            .write_all(framed.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stream.flush().await.map_err(|e| e.to_string())?;
        Ok(())
    } else {
        Err(format!(
            "syslog target {} is not udp:// or tcp://",
            d.target
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn syslog_messages_are_rfc_5424() {
        let m = syslog_message("alert.escalate", "k1", "{\"a\":1}");
        assert!(m.starts_with("<130>1 "), "{m}");
        assert!(
            m.contains(" ward ") && m.contains(" alert.escalate [ward@32473 key=\"k1\"] {\"a\":1}")
        );
    }
}
