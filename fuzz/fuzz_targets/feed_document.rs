//! Any bytes given to the feed parser give records or errors, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ward_feeds::parse_document("fuzz.json", data);
});
