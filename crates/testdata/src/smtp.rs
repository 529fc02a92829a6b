//! A small SMTP server for tests of e-mail delivery (RFC 5321, the commands a client sends).

use crate::pki::TestPki;

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Whether the session had switched to TLS (STARTTLS) before MAIL FROM.
    pub tls: bool,
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A small SMTP server for the tests: it offers STARTTLS with the test CA's certificate,
/// refuses MAIL before STARTTLS (as a relay that requires TLS does) and keeps every message.
pub struct SmtpServer {
    pub addr: std::net::SocketAddr,
    mails: std::sync::Arc<std::sync::Mutex<Vec<Mail>>>,
    /// TLS handshakes that failed (a client that did not trust the certificate).
    pub failed_handshakes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

enum SmtpStep {
    StartTls,
    Closed,
}

impl SmtpServer {
    pub async fn start(pki: &TestPki) -> Self {
        use rustls::pki_types::pem::PemObject;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certs = vec![
            rustls::pki_types::CertificateDer::from_pem_slice(pki.cert_pem.as_bytes()).unwrap(),
        ];
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let failed_handshakes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (sink, failures) = (mails.clone(), failed_handshakes.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, sink, failures) = (acceptor.clone(), sink.clone(), failures.clone());
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    if stream
                        .write_all(b"220 localhost ESMTP ward-test\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let (read, write) = stream.split();
                    let mut session = tokio::io::join(read, write);
                    if let SmtpStep::StartTls = smtp_session(&mut session, false, &sink).await {
                        match acceptor.accept(stream).await {
                            Ok(mut tls) => {
                                smtp_session(&mut tls, true, &sink).await;
                            }
                            Err(_) => {
                                failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                        }
                    }
                });
            }
        });
        Self {
            addr,
            mails,
            failed_handshakes,
        }
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

/// Speaks SMTP (RFC 5321, the commands a client sends) until STARTTLS or the end.
async fn smtp_session<S>(stream: &mut S, tls: bool, sink: &std::sync::Mutex<Vec<Mail>>) -> SmtpStep
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut reader = tokio::io::BufReader::new(stream);
    let mut mail: Option<Mail> = None;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return SmtpStep::Closed,
            Ok(_) => {}
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" if tls => b"250-localhost\r\n250 8BITMIME\r\n",
            "EHLO" => b"250-localhost\r\n250-8BITMIME\r\n250 STARTTLS\r\n",
            "HELO" | "NOOP" => b"250 OK\r\n",
            "RSET" => {
                mail = None;
                b"250 OK\r\n"
            }
            "STARTTLS" if !tls => {
                let _ = reader
                    .get_mut()
                    .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                    .await;
                return SmtpStep::StartTls;
            }
            "MAIL" if !tls => b"530 5.7.0 Must issue a STARTTLS command first\r\n",
            "MAIL" => {
                let from = command[10..].trim().trim_matches(['<', '>']).to_owned();
                mail = Some(Mail {
                    tls,
                    from,
                    to: Vec::new(),
                    data: String::new(),
                });
                b"250 OK\r\n"
            }
            "RCPT" => match mail.as_mut() {
                Some(m) => {
                    m.to.push(command[8..].trim().trim_matches(['<', '>']).to_owned());
                    b"250 OK\r\n"
                }
                None => b"503 5.5.1 MAIL first\r\n",
            },
            "DATA" => match mail.take() {
                Some(mut m) => {
                    let _ = reader
                        .get_mut()
                        .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        .await;
                    loop {
                        let mut l = String::new();
                        match reader.read_line(&mut l).await {
                            Ok(0) | Err(_) => return SmtpStep::Closed,
                            Ok(_) => {}
                        }
                        if l == ".\r\n" {
                            break;
                        }
                        m.data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    }
                    sink.lock().unwrap().push(m);
                    b"250 2.0.0 OK queued\r\n"
                }
                None => b"503 5.5.1 MAIL first\r\n",
            },
            "QUIT" => {
                let _ = reader.get_mut().write_all(b"221 2.0.0 Bye\r\n").await;
                return SmtpStep::Closed;
            }
            _ => b"502 5.5.2 Command not recognised\r\n",
        };
        if reader.get_mut().write_all(reply).await.is_err() {
            return SmtpStep::Closed;
        }
    }
}
