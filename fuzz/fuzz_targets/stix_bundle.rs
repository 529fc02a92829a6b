//! Any bytes given as a STIX 2.1 bundle of indicators, or as a plain or CSV indicator list,
//! are read or refused with warnings, never a panic; the set builds its matchers after.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut set = ward_hunt::IndicatorSet::new();
    set.add_stix("fuzz.json", data);
    if let Ok(text) = std::str::from_utf8(data) {
        set.add_list("fuzz.txt", text, false);
        set.add_list("fuzz.csv", text, true);
    }
    set.finish();
});
