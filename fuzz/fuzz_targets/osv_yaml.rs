//! Any bytes given as an OSV YAML file give records or errors, never a panic (and never an
//! unbounded expansion: serde-saphyr's budgets stay on).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ward_feeds::parse_document("fuzz.yaml", data);
});
