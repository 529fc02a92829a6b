//! Any text given as a policy file is a policy or an error naming its line, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ward_priority::Policy::parse("fuzz.toml", text);
        let _ = ward_model::timestamp::parse(text);
    }
});
