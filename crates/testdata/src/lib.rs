//! Test support shared by Ward's test suites (a dev-dependency only).
//!
//! - [`shared`]: a path inside the real public data (`../shared/data` beside the project, or
//!   `$WARD_SHARED_DATA`); `None`, with a message, where it is absent, so tests skip.
//! - [`python`]: runs a Python reference tool (a schema validator, an independent scorer) over
//!   standard input; `None` where its modules are not installed, except under CI (`$CI` set),
//!   where `.ci/run` installs them and their absence fails the test.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A path inside the shared data, or `None` (reported on stderr) where it is absent.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let root = std::env::var_os("WARD_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let p = root.join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent (set WARD_SHARED_DATA)", p.display());
        None
    }
}

/// Runs `script` with `python3 -c`, `input` on stdin; returns (success, stdout, stderr), or
/// `None` when one of `modules` cannot be imported outside CI.
pub fn python(modules: &[&str], script: &str, input: &[u8]) -> Option<(bool, String, String)> {
    let probe = Command::new("python3")
        .args(["-c", &format!("import {}", modules.join(", "))])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the Python modules {modules:?} (.ci/run)"
        );
        eprintln!(
            "skipped a reference check: pip install {}",
            modules.join(" ")
        );
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .expect("python3 reads its input");
    let out = child.wait_with_output().expect("python3 finishes");
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}
