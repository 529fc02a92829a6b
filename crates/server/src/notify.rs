//! Delivering the outbox: webhooks (JSON, HMAC-SHA256 signature, idempotency key), syslog
//! (RFC 5424 over UDP, or TCP with RFC 6587 octet counting) and e-mail through an SMTP relay
//! (STARTTLS required unless the operator says otherwise). Failures are retried with
//! exponential backoff; a crash mid-delivery leaves the claim to run out and the row to be
//! delivered again (at least once; receivers deduplicate by the idempotency key).

use std::time::Duration;

use hmac::{KeyInit, Mac};
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use ward_model::ChannelKind;
use ward_store::{Delivery, Failure, Store};

use crate::outbound::{Refused, Targets, is_refusal};

/// The HTTP clients deliveries use: every connection's addresses checked against the
/// destination policy, no redirects followed, no proxy from the environment.
pub struct Clients {
    /// For https:// webhooks: public destinations and allowed ranges.
    https: reqwest::Client,
    /// For http:// webhooks: allowed ranges only.
    http: reqwest::Client,
    targets: Targets,
}

impl Clients {
    pub fn new(targets: Targets) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let build = |allowed_only: bool| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .user_agent(concat!("ward/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .dns_resolver(targets.resolver(allowed_only))
                .build()
                .map_err(|e| e.to_string())
        };
        Ok(Self {
            https: build(false)?,
            http: build(true)?,
            targets,
        })
    }
}

/// Delivers due notifications until the process ends. A claimed notification is held for
/// `hold` before another deliverer (or this one, restarted) may take it again.
pub async fn deliver_forever(
    store: Store,
    hold: Duration,
    mailer: Option<Mailer>,
    targets: Targets,
) {
    let hold = chrono::Duration::from_std(hold).unwrap_or(chrono::Duration::seconds(30));
    let clients = match Clients::new(targets) {
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
                    let result = deliver(&clients, mailer.as_ref(), &d).await;
                    let recorded = match result {
                        Ok(()) => store.delivered(d.id).await,
                        Err((failure, e)) => {
                            tracing::warn!(
                                notification = d.id,
                                channel = %d.channel,
                                kind = %d.kind,
                                refused = failure == Failure::Refused,
                                "delivery failed: {e}"
                            );
                            store.delivery_failed(d.id, d.attempts, failure, &e).await
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

/// Delivers one notification; a failure says whether the destination was refused.
pub async fn deliver(
    clients: &Clients,
    mailer: Option<&Mailer>,
    d: &Delivery,
) -> Result<(), (Failure, String)> {
    let failed = |e: String| (Failure::Failed, e);
    match d.kind {
        ChannelKind::Webhook => {
            let url = reqwest::Url::parse(&d.target).map_err(|e| failed(e.to_string()))?;
            let host = url
                .host()
                .ok_or_else(|| failed("the URL names no host".into()))?;
            // An address literal is not resolved, so it is checked here; a name is checked by
            // the clients' resolver on every connection.
            let refused = |r: Refused| (Failure::Refused, r.0);
            clients.targets.check_literal(&host).map_err(refused)?;
            let client = match url.scheme() {
                "https" => &clients.https,
                "http" => {
                    let literal = crate::outbound::literal_ip(&host);
                    if let Some(ip) = literal.filter(|ip| !clients.targets.allows(*ip)) {
                        return Err(refused(Refused(format!(
                            "plain http to {ip} is refused: webhooks use https unless the destination is in --allow-targets"
                        ))));
                    }
                    &clients.http
                }
                other => return Err(failed(format!("scheme {other} is not http(s)"))),
            };
            let body = d.payload.as_bytes().to_vec();
            let secret = d.secret.as_deref().unwrap_or_default();
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .header("x-ward-event", &d.event)
                .header("x-ward-signature", signature(secret, &body))
                .header("idempotency-key", &d.idempotency_key)
                .body(body)
                .send()
                .await
                .map_err(|e| {
                    let class = if is_refusal(&e) {
                        Failure::Refused
                    } else {
                        Failure::Failed
                    };
                    // Without the URL: a webhook URL may hold a secret in its path.
                    (class, error_chain(&e.without_url()))
                })?;
            if response.status().is_success() {
                Ok(())
            } else if response.status().is_redirection() {
                Err(failed(format!(
                    "the receiver answered {} (redirects are not followed)",
                    response.status()
                )))
            } else {
                Err(failed(format!(
                    "the receiver answered {}",
                    response.status()
                )))
            }
        }
        ChannelKind::Syslog => syslog(&clients.targets, d).await,
        ChannelKind::Email => match mailer {
            Some(m) => m.send(d).await.map_err(failed),
            None => Err(failed(
                "no SMTP relay is configured (ward serve --smtp URL --smtp-from ADDRESS)".into(),
            )),
        },
    }
}

/// An error and its causes, as one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
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

async fn syslog(targets: &Targets, d: &Delivery) -> Result<(), (Failure, String)> {
    let failed = |e: String| (Failure::Failed, e);
    let message = syslog_message(&d.event, &d.idempotency_key, &d.payload);
    let (scheme, host, port) = crate::outbound::syslog_target(&d.target).map_err(failed)?;
    // Resolved and checked now; the connection goes to the checked addresses only.
    let addrs = targets
        .resolve(host, port)
        .await
        .map_err(|e| (Failure::Refused, e))?;
    if scheme == "udp" {
        let addr = addrs[0];
        let bind = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(|e| failed(e.to_string()))?;
        socket
            .send_to(message.as_bytes(), addr)
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(())
    } else {
        // tcp (syslog_target accepts nothing else)
        let mut stream = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect(&addrs[..]),
        )
        .await
        .map_err(|_| failed("connection timed out".to_owned()))?
        .map_err(|e| failed(e.to_string()))?;
        // RFC 6587 octet counting.
        let framed = format!("{} {message}", message.len());
        stream
            .write_all(framed.as_bytes())
            .await
            .map_err(|e| failed(e.to_string()))?;
        stream.flush().await.map_err(|e| failed(e.to_string()))?;
        Ok(())
    }
}

/// The SMTP relay that e-mail channels are sent through.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// `url`: `smtp://[user:password@]host[:port]` sends with STARTTLS, required (port 587
    /// unless given); `smtps://…` speaks TLS from the first byte (465); `?tls=opportunistic`
    /// upgrades when offered and `?tls=none` never does (only for a relay on the same host).
    /// `extra_root_pem` adds a private CA to the Mozilla roots.
    pub fn new(url: &str, from: &str, extra_root_pem: Option<&[u8]>) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("--smtp {url:?}: {e}"))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| "--smtp: the URL names no host".to_owned())?
            .trim_matches(['[', ']'])
            .to_owned();
        let tls_query = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let mode = match (parsed.scheme(), tls_query.as_deref()) {
            ("smtps", None) => "wrapper",
            ("smtp", None | Some("required")) => "required",
            ("smtp", Some("opportunistic")) => "opportunistic",
            ("smtp", Some("none")) => "none",
            (scheme, tls) => {
                return Err(format!(
                    "--smtp: scheme {scheme:?} with tls={tls:?}: use smtp:// (STARTTLS), smtps:// (TLS), or smtp://…?tls=opportunistic|none"
                ));
            }
        };
        // lettre reads the credentials, port and hello name; the TLS mode is set below.
        let mut plain = parsed.clone();
        plain.set_query(None);
        let _ = plain.set_scheme("smtp");
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(plain.as_str())
            .map_err(|e| format!("--smtp: {e}"))?;
        if parsed.port().is_none() {
            builder = builder.port(if mode == "wrapper" { 465 } else { 587 });
        }
        let params = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(host.clone());
            if let Some(pem) = extra_root_pem {
                use rustls::pki_types::{CertificateDer, pem::PemObject};
                if !CertificateDer::pem_slice_iter(pem).any(|c| c.is_ok()) {
                    return Err("--smtp-ca: the file holds no PEM certificate".into());
                }
                let cert = Certificate::from_pem(pem).map_err(|e| format!("--smtp-ca: {e}"))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls().map_err(|e| format!("--smtp: {e}"))
        };
        builder = builder.tls(match mode {
            "wrapper" => Tls::Wrapper(params()?),
            "required" => Tls::Required(params()?),
            "opportunistic" => Tls::Opportunistic(params()?),
            _ => Tls::None,
        });
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("--smtp-from {from:?}: {e}"))?;
        Ok(Self {
            transport: builder.timeout(Some(Duration::from_secs(20))).build(),
            from,
        })
    }

    async fn send(&self, d: &Delivery) -> Result<(), String> {
        let to: Mailbox = d
            .target
            .parse()
            .map_err(|e| format!("address {:?}: {e}", d.target))?;
        let payload: serde_json::Value =
            serde_json::from_str(&d.payload).map_err(|e| format!("payload: {e}"))?;
        let (subject, body) = email_text(&d.event, &payload);
        // The idempotency key names the message, so a redelivery is the same message.
        let domain = self.from.email.domain().to_owned();
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{}@{domain}>", d.idempotency_key)))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }
}

/// The subject and plain-text body of an alert e-mail. Every value is copied in as text:
/// nothing from the payload is interpreted, and control characters cannot start a header.
pub fn email_text(event: &str, payload: &serde_json::Value) -> (String, String) {
    if event.starts_with("feed.") {
        return feed_email_text(payload);
    }
    let alert = &payload["alert"];
    // Every value on one line: control characters (CR, LF, tab, …) become spaces, so no value
    // can start a line of its own ("Bcc: …", a forged "Remediate by: …").
    let field = |name: &str| {
        let text = match &alert[name] {
            serde_json::Value::Null => return None,
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Some(
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>(),
        )
    };
    let headline = match event {
        "alert.issue" => "High severity alert",
        "alert.raise" => "New alert",
        "alert.reopen" => "Alert reopened",
        "alert.escalate" => "Deadline missed, escalated",
        "alert.acknowledge" => "Alert acknowledged",
        "alert.remediate" => "Alert remediated",
        "alert.accept-risk" => "Risk accepted",
        "alert.not-affected" => "Declared not affected",
        "alert.add-evidence" => "New evidence for an alert",
        "alert.withdraw" => "Alert withdrawn: the knowledge changed (nothing was patched)",
        _ => "Alert changed",
    };
    let subject_of = field("subject").unwrap_or_default();
    let organisation = field("organisation").unwrap_or_default();
    let one_line = |s: String| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect()
    };
    let subject = one_line(format!("[Ward] {headline}: {subject_of} ({organisation})"));
    let mut body = format!("{headline} for {organisation}\n\n");
    if let Some(missed) = payload["missed"].as_str() {
        body.push_str(&one_line(format!("Missed: the {missed} deadline")));
        body.push_str("\n\n");
    }
    if let Some(reason) = payload["reason"].as_str() {
        body.push_str(&one_line(format!("Why: {reason}")));
        body.push_str("\n\n");
    }
    let exposure = field("exposure").map(|e| match e.as_str() {
        "affected" => "affected: your inventory has a vulnerable version".to_owned(),
        "confirm-exposure" => {
            "confirm exposure: your inventory says nothing about this product; please confirm whether you run it".to_owned()
        }
        _ => e,
    });
    for (label, value) in [
        ("Subject", Some(subject_of.clone())),
        ("Title", field("title")),
        ("State", field("state")),
        ("Exposure", exposure),
        ("Priority", field("priority").or_else(|| field("level"))),
        ("Severity", field("severity")),
        ("Acknowledge by", field("acknowledge_by")),
        ("Remediate by", field("remediate_by")),
        ("Findings or sightings", field("evidence")),
        ("Justification", field("justification")),
        ("Accepted until", field("accepted_until")),
        ("Note", field("note")),
    ] {
        if let Some(v) = value {
            body.push_str(&format!("{label}: {v}\n"));
        }
    }
    body.push_str(&format!(
        "\nAlert {} (audit entry {}). Acknowledge, remediate or answer it in Ward.\n",
        field("id").unwrap_or_default(),
        payload["audit_seq"]
    ));
    (subject, body)
}

/// A feed event's e-mail: which source fell behind, since when, and its last error.
fn feed_email_text(payload: &serde_json::Value) -> (String, String) {
    let source = &payload["source"];
    let text = |v: &serde_json::Value| -> String {
        let s = match v {
            serde_json::Value::Null => "—".to_owned(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(300)
            .collect()
    };
    let name = text(&source["name"]);
    let subject = format!("[Ward] Feed behind: {name}");
    let body = format!(
        "The feed source {name} ({}) has not synced successfully for twice its interval.\n\n\
         Last success: {}\nLast error: {}\nFailed syncs since: {}\n\n\
         Ward keeps trying; `ward feeds status` and the Sources page show it. (audit entry {})\n",
        text(&source["kind"]),
        text(&source["last_success_at"]),
        text(&source["last_error"]),
        text(&source["failures"]),
        payload["audit_seq"]
    );
    (subject, body)
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
    fn email_text_copies_values_and_keeps_the_subject_one_line() {
        let payload = serde_json::json!({
            "event": "alert.issue",
            "audit_seq": 7,
            "alert": {"id": 3, "organisation": "trust-a", "subject": "CVE-2025-4427",
                      "title": "{{7*7}} ${7*7}\r\nBcc: evil@example.org", "state": "open",
                      "exposure": "confirm-exposure", "priority": "immediate",
                      "acknowledge_by": "2025-05-21T10:00:00Z", "evidence": 0}
        });
        let (subject, body) = email_text("alert.issue", &payload);
        assert_eq!(
            subject,
            "[Ward] High severity alert: CVE-2025-4427 (trust-a)"
        );
        assert!(
            body.contains("Title: {{7*7}} ${7*7}  Bcc: evil@example.org\n"),
            "{body}"
        );
        assert!(!body.lines().any(|l| l.starts_with("Bcc")), "{body}");
        assert!(body.contains("Exposure: confirm exposure"), "{body}");
        assert!(body.contains("Acknowledge by: 2025-05-21T10:00:00Z"));
        assert!(body.contains("Alert 3 (audit entry 7)"));
        assert!(!body.contains("49"));
    }

    #[test]
    fn an_escalation_email_names_the_alert_and_the_missed_deadline() {
        let payload = serde_json::json!({
            "event": "alert.escalate",
            "audit_seq": 9,
            "missed": "remediation\r\nBcc: evil@example.org",
            "alert": {"id": 3, "organisation": "trust-a", "subject": "CVE-2025-4427",
                      "state": "acknowledged", "remediate_by": "2025-06-01T00:00:00Z"}
        });
        let (subject, body) = email_text("alert.escalate", &payload);
        assert_eq!(
            subject,
            "[Ward] Deadline missed, escalated: CVE-2025-4427 (trust-a)"
        );
        assert!(
            body.contains("Missed: the remediation  Bcc: evil@example.org deadline\n"),
            "{body}"
        );
        assert!(!body.lines().any(|l| l.starts_with("Bcc")), "{body}");
        assert!(
            body.contains("Remediate by: 2025-06-01T00:00:00Z"),
            "{body}"
        );
        assert!(body.contains("State: acknowledged"), "{body}");
    }

    // The relay's connection pool lives on the runtime.
    #[tokio::test]
    async fn mailer_urls() {
        assert!(Mailer::new("smtp://relay.example.org", "ward@example.org", None).is_ok());
        assert!(Mailer::new("smtps://u:p@relay.example.org", "ward@example.org", None).is_ok());
        let e = Mailer::new("http://relay.example.org", "ward@example.org", None)
            .err()
            .unwrap();
        assert!(e.contains("smtp://"), "{e}");
        let e = Mailer::new("smtp://relay.example.org", "not an address", None)
            .err()
            .unwrap();
        assert!(e.contains("--smtp-from"), "{e}");
        let e = Mailer::new("smtp://relay.example.org", "w@example.org", Some(b"junk"))
            .err()
            .unwrap();
        assert!(e.contains("--smtp-ca"), "{e}");
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
