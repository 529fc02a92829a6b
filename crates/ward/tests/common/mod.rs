//! Helpers shared by the binary's test suites: run `ward` against a database file.

#![allow(dead_code, unreachable_pub)] // each test crate uses its own subset

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

pub fn ward(db: &Path) -> Command {
    let mut c = Command::cargo_bin("ward").unwrap();
    c.env("WARD_DB", db).env_remove("XDG_DATA_HOME");
    c
}

pub fn run(db: &Path, args: &[&str]) -> Output {
    ward(db).args(args).output().unwrap()
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
