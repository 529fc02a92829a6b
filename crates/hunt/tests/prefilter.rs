//! The literal prefilter changes how fast the hunt is, never what it finds: every SigmaHQ web
//! server and proxy rule over lines built from the rules' own strings (in every field, in
//! upper case, with wildcards filled), and over the shared Apache log, gives exactly the
//! sightings it gives when every rule is asked about every line.

use std::io::Write;

use rsigma_parser::{Detection, SigmaValue, StringPart};
use ward_hunt::hunt::Input;
use ward_hunt::{Hunter, IndicatorSet, RuleSet};

fn strings(d: &Detection, out: &mut Vec<String>) {
    match d {
        Detection::AllOf(items) => {
            for i in items {
                out.extend(i.values.iter().filter_map(text));
            }
        }
        Detection::AnyOf(ds) | Detection::And(ds) => ds.iter().for_each(|d| strings(d, out)),
        Detection::Keywords(vs) => out.extend(vs.iter().filter_map(text)),
        Detection::ArrayMatch { body, .. } => strings(body, out),
        Detection::Conditional { named, .. } => named.values().for_each(|d| strings(d, out)),
    }
}

/// A value as a line could hold it: wildcards filled with a character.
fn text(v: &SigmaValue) -> Option<String> {
    match v {
        SigmaValue::String(s) => Some(
            s.parts
                .iter()
                .map(|p| match p {
                    StringPart::Plain(t) => t.clone(),
                    StringPart::Special(_) => "a".into(),
                })
                .collect(),
        ),
        SigmaValue::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

#[test]
fn the_prefilter_finds_what_every_rule_finds() {
    let Some(dir) = ward_testdata::shared("sigma") else {
        eprintln!("skipped: the shared Sigma rules are not here (set WARD_SHARED_DATA)");
        return;
    };
    let mut with = RuleSet::new();
    let mut values = Vec::new();
    for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.path().extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let yaml = std::fs::read_to_string(entry.path()).unwrap();
        let Ok(collection) = rsigma_parser::parse_sigma_yaml(&yaml) else {
            continue;
        };
        let web = collection
            .rules
            .iter()
            .any(|r| matches!(r.logsource.category.as_deref(), Some("webserver" | "proxy")));
        if !web {
            continue;
        }
        with.add_yaml(entry.path(), &yaml);
        for r in &collection.rules {
            for d in r.detection.named.values() {
                strings(d, &mut values);
            }
        }
    }
    let (filtered, always) = with.prefiltered();
    assert!(filtered > 100, "{filtered} web rules prefiltered");
    // The same rules again, every one asked about every line.
    let mut without = RuleSet::new();
    for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "yml") {
            let yaml = std::fs::read_to_string(entry.path()).unwrap();
            without.add_yaml(entry.path(), &yaml);
        }
    }
    let without = without.without_prefilter();

    values.sort();
    values.dedup();
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("attacks.log");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut n = 0;
    for v in &values {
        let v = v.replace(['"', '\n', '\r'], "'");
        for (i, v) in [v.clone(), v.to_uppercase()].into_iter().enumerate() {
            for (method, status) in [("GET", 200), ("POST", 404), ("PUT", 500)] {
                n += 1;
                let ip = format!("192.0.2.{}", n % 250 + 1);
                let t = "[15/May/2025:10:00:00 +0000]";
                writeln!(
                    out,
                    "{ip} - - {t} \"{method} /{v}?q={v} HTTP/1.1\" {status} 10 \"{v}\" \"{v}\""
                )
                .unwrap();
                writeln!(
                    out,
                    "{ip} - - {t} \"{method} /a?q=1 HTTP/1.1\" {status} 10 \"-\" \"{v}\""
                )
                .unwrap();
                writeln!(
                    out,
                    "{ip} - - {t} \"{method} http://{v}/x HTTP/1.1\" {status} 10 \"-\" \"curl/8\""
                )
                .unwrap();
                if i == 0 {
                    writeln!(out, "{ip} - - {t} \"{v}\" {status} 10 \"-\" \"-\"").unwrap();
                }
            }
        }
    }
    out.flush().unwrap();
    drop(out);

    let indicators = {
        let mut i = IndicatorSet::new();
        i.finish();
        i
    };
    let mut inputs = vec![Input::Path(path)];
    if let Some(apache) = ward_testdata::shared("logs/apache_access.log") {
        inputs.push(Input::Path(apache));
    }
    let run = |rules: &RuleSet| {
        let report = Hunter {
            rules,
            indicators: &indicators,
            format: None,
            threads: 2,
            now: chrono::Utc::now(),
        }
        .run(&inputs, &|_| {});
        let mut s: Vec<(String, u64, String)> = report
            .sightings
            .iter()
            .map(|s| (s.file.clone(), s.line, s.id.clone()))
            .collect();
        s.sort();
        s
    };
    let fast = run(&with);
    let reference = run(&without);
    let rules_fired: std::collections::BTreeSet<&String> =
        reference.iter().map(|(_, _, id)| id).collect();
    assert!(
        rules_fired.len() >= 45,
        "the lines should set off most web rules: {} did ({always} always asked)",
        rules_fired.len()
    );
    assert_eq!(fast.len(), reference.len());
    assert_eq!(fast, reference);
}
