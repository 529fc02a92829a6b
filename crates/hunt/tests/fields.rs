//! Every field the SigmaHQ web server and proxy rules test is one Ward's readers produce.

use std::collections::BTreeSet;

use rsigma_parser::{Detection, parse_sigma_yaml};
use ward_hunt::LogFormat;
use ward_hunt::logs::parse_line;

fn fields(d: &Detection, out: &mut BTreeSet<String>) {
    match d {
        Detection::AllOf(items) => {
            for i in items {
                if let Some(n) = &i.field.name {
                    out.insert(n.clone());
                }
            }
        }
        Detection::AnyOf(c) | Detection::And(c) => c.iter().for_each(|d| fields(d, out)),
        Detection::ArrayMatch { body, .. } => fields(body, out),
        Detection::Conditional { named, .. } => named.values().for_each(|d| fields(d, out)),
        Detection::Keywords(_) => {}
    }
}

/// The field names records of a format carry, from lines that have everything that format can.
fn produced() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let lines = [
        (
            LogFormat::Combined,
            r#"192.0.2.1 - bob [15/May/2025:21:20:05 +0000] "GET http://x.example/a/b.php?q=1 HTTP/1.1" 200 5 "http://r.example/" "UA/1""#,
        ),
        (
            LogFormat::JsonLines,
            r#"{"source": {"ip": "192.0.2.1"}, "destination": {"ip": "192.0.2.2"}, "url": {"original": "http://x.example/a/b.php?q=1"}, "http": {"request": {"method": "POST", "referrer": "http://r.example/", "cookie": "a=b", "mime_type": "text/plain"}, "response": {"status_code": 200}}, "user_agent": {"original": "UA/1"}, "user": {"name": "bob"}}"#,
        ),
    ];
    for (format, line) in lines {
        let record = parse_line(format, line, 2025).unwrap();
        record.for_each_field(&mut |k, _| {
            out.insert(k.to_owned());
        });
    }
    out
}

#[test]
fn every_web_and_proxy_rule_field_is_produced_by_a_reader() {
    let Some(dir) = ward_testdata::shared("sigma") else {
        return;
    };
    let produced = produced();
    let mut needed = BTreeSet::new();
    let mut rules = 0;
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        if entry.path().extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let collection = parse_sigma_yaml(&text).unwrap();
        for rule in collection.rules {
            if !matches!(
                rule.logsource.category.as_deref(),
                Some("webserver" | "proxy")
            ) {
                continue;
            }
            rules += 1;
            for d in rule.detection.named.values() {
                fields(d, &mut needed);
            }
        }
    }
    assert!(rules >= 140, "{rules}");
    let missing: Vec<&String> = needed.difference(&produced).collect();
    assert!(
        missing.is_empty(),
        "fields no reader produces: {missing:?} (produced: {produced:?})"
    );
    assert!(needed.len() >= 15, "{needed:?}");
}
