//! Any text as a STIX pattern parses or errs with an offset inside it; one that parses
//! compiles into an indicator (or errs) and is evaluated on records without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_hunt::IndicatorSet;
use ward_hunt::indicators::Scratch;
use ward_hunt::logs::parse_line;
use ward_hunt::{LogFormat, stix};

fuzz_target!(|pattern: &str| {
    match stix::parse(pattern) {
        Err(e) => assert!(e.offset <= pattern.len(), "{e} for {pattern:?}"),
        Ok(p) => {
            let mut set = IndicatorSet::new();
            if set.add_pattern("i".into(), "t".into(), "f", &p, None, None).is_ok() {
                set.finish();
                let line = r#"203.0.113.66 - - [15/May/2025:21:20:05 +0000] "GET http://evil.example/a.exe?b=c HTTP/1.1" 200 5 "-" "sqlmap/1""#;
                let record = parse_line(LogFormat::Combined, line, 2025).expect("fixed line reads");
                let mut scratch = Scratch::default();
                let hits = set.leaves_hit(&record, &mut scratch);
                let _ = set.decide(&[]);
                for (leaf, _) in hits {
                    let _ = set.leaf_indicator(leaf);
                }
            }
        }
    }
});
