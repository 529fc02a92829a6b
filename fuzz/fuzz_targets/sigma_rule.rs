//! Any YAML given as a Sigma rule (and so any condition) is loaded or counted unsupported,
//! never a panic; a rule that loads is evaluated on a record without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_hunt::logs::parse_line;
use ward_hunt::{Family, LogFormat, RuleSet};

fuzz_target!(|input: (&str, &str)| {
    let (condition, value) = input;
    // Half the time a well-formed rule around a fuzzed condition and value, so the condition
    // parser and the compiler are reached, not only the YAML parser.
    let yaml = format!(
        "title: t\nlogsource:\n    category: webserver\ndetection:\n    selection:\n        cs-uri-query|contains: {value:?}\n    filter:\n        c-ip|cidr: {value:?}\n    condition: {condition:?}\n"
    );
    let mut rules = RuleSet::new();
    rules.add_yaml(std::path::Path::new("fuzz.yml"), condition);
    rules.add_yaml(std::path::Path::new("fuzz.yml"), &yaml);
    let line = r#"192.0.2.1 - - [15/May/2025:21:20:05 +0000] "GET /a?b=c HTTP/1.1" 200 5 "-" "x""#;
    let record = parse_line(LogFormat::Combined, line, 2025).expect("fixed line reads");
    let _ = rules.evaluate(Family::Webserver, &record);
});
