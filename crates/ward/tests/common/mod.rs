//! Helpers shared by the binary's test suites: run `ward` against a database (a SQLite file
//! or a PostgreSQL schema).

#![allow(dead_code, unreachable_pub)] // each test crate uses its own subset

use std::ffi::OsStr;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// `ward` with `WARD_DB` set to `db`: a SQLite file, or a PostgreSQL URL.
pub fn ward(db: impl AsRef<OsStr>) -> Command {
    let mut c = Command::cargo_bin("ward").unwrap();
    c.env("WARD_DB", db).env_remove("XDG_DATA_HOME");
    c
}

pub fn run(db: impl AsRef<OsStr>, args: &[&str]) -> Output {
    ward(db).args(args).output().unwrap()
}

/// Runs `command` with its standard output a pipe whose read end is closed before the
/// command writes (`ward … | head -0`), and asserts that it neither panicked nor printed an
/// error; returns its exit code.
pub fn exit_code_with_reader_gone(command: &mut std::process::Command) -> Option<i32> {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(
        !err.contains("panicked") && !err.contains("error"),
        "{command:?}: {err}"
    );
    o.status.code()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A running `ward serve` on a free port of 127.0.0.1, killed when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub url: String,
}

impl Server {
    pub fn start(db: impl AsRef<OsStr>) -> Self {
        Self::start_with(db, &[])
    }

    pub fn start_with(db: impl AsRef<OsStr>, extra: &[&str]) -> Self {
        Self::start_logging(db, extra, "info", std::process::Stdio::null())
    }

    /// A server whose log (stderr), filtered by `filter` (WARD_LOG), goes to `log`.
    pub fn start_logging(
        db: impl AsRef<OsStr>,
        extra: &[&str],
        filter: &str,
        log: impl Into<std::process::Stdio>,
    ) -> Self {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("WARD_DB", db)
            .env_remove("RUST_LOG")
            .env("WARD_LOG", filter)
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ward admin …`, which must succeed: its standard output, trimmed (a token, an id).
pub fn admin(db: impl AsRef<OsStr>, args: &[&str]) -> String {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let o = run(db, &all);
    assert!(o.status.success(), "ward admin {args:?}: {}", stderr(&o));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// The central team (`nhs-england`), these members (slug, name) and the demo feeds (the EPMM
/// CVEs among them) imported: the federation most suites start from.
#[allow(dead_code)] // not every suite that shares these helpers starts from it
pub fn demo_federation(db: &str, members: &[(&str, &str)]) {
    admin(
        db,
        &["init", "--slug", "nhs-england", "--name", "NHS England"],
    );
    for (slug, name) in members {
        admin(db, &["org", "create", slug, name]);
    }
    let feeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/feeds");
    let o = run(db, &["db", "import", p(&feeds)]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A new API token of `org` with `role` (named after the role).
pub fn token(db: impl AsRef<OsStr>, org: &str, role: &str) -> String {
    admin(
        db,
        &[
            "token", "create", "--org", org, "--role", role, "--name", role,
        ],
    )
}

/// An HTTP client (rustls with ring, as the binary uses).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// POSTs JSON with a bearer token: (status, the JSON answer or null).
pub async fn post_json(url: &str, token: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}
