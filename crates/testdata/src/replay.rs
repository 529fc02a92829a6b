//! A publisher replayed on loopback for the feed-sync tests: real HTTP/1.1 over TCP, each path
//! answered by a handler (the shared data in the publisher's layout), with faults injected on
//! demand — a status with `Retry-After`, a body cut short, a `Content-Length` that lies, a
//! connection that stalls — and every request logged (path, query, headers, time).
//! Hand-written (as `smtp.rs`) so that it can misbehave in ways a well-made server will not.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request as the replay saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// The query string, decoded pairs.
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub at: Instant,
    /// The request's body (by its `Content-Length`).
    pub body: Vec<u8>,
}

impl Request {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a handler answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
    /// Answered 304 when the request's `If-None-Match` is this.
    pub etag: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            body: body.into(),
            content_type: content_type.to_owned(),
            etag: None,
            headers: Vec::new(),
        }
    }

    pub fn with_etag(mut self, etag: &str) -> Self {
        self.etag = Some(etag.to_owned());
        self
    }

    pub fn status(status: u16) -> Self {
        Self {
            status,
            body: Vec::new(),
            content_type: "text/plain".into(),
            etag: None,
            headers: Vec::new(),
        }
    }
}

/// A fault for the next request to a path.
#[derive(Debug, Clone)]
pub enum Fault {
    /// No fault for this request (to reach a later one in the queue).
    Pass,
    /// Answer this status, with `Retry-After` seconds when given.
    Status(u16, Option<u64>),
    /// Send the headers and this many bytes of the body, then close.
    Truncate(usize),
    /// Promise more bytes than are sent.
    WrongLength,
    /// Accept the request and say nothing for this long.
    Stall(Duration),
}

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

#[derive(Default)]
struct State {
    handlers: HashMap<String, Handler>,
    faults: HashMap<String, VecDeque<Fault>>,
    log: Vec<Request>,
}

/// The replay server; it stops when dropped (the listener thread ends with the process).
pub struct Replay {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Replay {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        Self { url, state }
    }

    /// Answers `path` with `handler` from now on.
    pub fn route(&self, path: &str, handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) {
        self.state
            .lock()
            .unwrap()
            .handlers
            .insert(path.to_owned(), Arc::new(handler));
    }

    /// Answers `path` with this reply from now on.
    pub fn set(&self, path: &str, reply: Reply) {
        self.route(path, move |_| reply.clone());
    }

    /// The next request to `path` meets `fault` (queued: several faults, several requests).
    pub fn fault(&self, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(path.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().log.clone()
    }

    /// Requests to one path.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = vec![
        0u8;
        headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0usize)
            .min(16 << 20)
    ];
    reader.read_exact(&mut body)?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let request = Request {
        path: decode(path),
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect(),
        headers,
        at: Instant::now(),
        body,
    };
    let (handler, fault) = {
        let mut s = state.lock().unwrap();
        s.log.push(request.clone());
        let fault = s
            .faults
            .get_mut(&request.path)
            .and_then(VecDeque::pop_front);
        (s.handlers.get(&request.path).cloned(), fault)
    };
    let mut out = stream;
    let reply = match (&fault, handler) {
        (Some(Fault::Status(code, after)), _) => {
            let mut r = Reply::status(*code);
            r.body = format!("replayed {code}").into_bytes();
            if let Some(after) = after {
                r.headers.push(("Retry-After".into(), after.to_string()));
            }
            r
        }
        (Some(Fault::Stall(how_long)), _) => {
            std::thread::sleep(*how_long);
            return Ok(());
        }
        (_, Some(h)) => h(&request),
        (_, None) => Reply::status(404),
    };
    if reply.etag.is_some() && request.headers.get("if-none-match") == reply.etag.as_ref() {
        write!(
            out,
            "HTTP/1.1 304 Not Modified\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
        )?;
        return Ok(());
    }
    let mut head = format!(
        "HTTP/1.1 {} Replayed\r\nconnection: close\r\ncontent-type: {}\r\n",
        reply.status, reply.content_type
    );
    if let Some(etag) = &reply.etag {
        head.push_str(&format!("etag: {etag}\r\n"));
    }
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let (length, sent) = match fault {
        Some(Fault::Truncate(n)) => (reply.body.len(), n.min(reply.body.len())),
        Some(Fault::WrongLength) => (reply.body.len() + 100, reply.body.len()),
        _ => (reply.body.len(), reply.body.len()),
    };
    head.push_str(&format!("content-length: {length}\r\n\r\n"));
    out.write_all(head.as_bytes())?;
    out.write_all(&reply.body[..sent])?;
    out.flush()?;
    // Drain what the client may still send, then close.
    let _ = out.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 64];
    let _ = reader.read(&mut sink);
    Ok(())
}
