//! Every log reader takes any line without panicking, and format detection too; a record that
//! reads gives its fields and timestamp without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_hunt::LogFormat;
use ward_hunt::logs::parse_line;

fuzz_target!(|line: &str| {
    let _ = LogFormat::detect(line.lines());
    for format in LogFormat::ALL {
        if let Ok(record) = parse_line(format, line, 2025) {
            record.for_each_field(&mut |k, v| {
                assert!(!k.is_empty() || format == LogFormat::JsonLines, "{k:?}={v:?}");
            });
            let _ = record.get("cs-uri-query");
        }
    }
});
