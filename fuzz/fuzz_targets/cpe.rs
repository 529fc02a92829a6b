//! CPE 2.3 parsing never panics, and whatever parses re-binds to a string that parses back
//! to the same name.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_model::Cpe;

fuzz_target!(|data: &str| {
    if let Ok(cpe) = data.parse::<Cpe>() {
        let bound = cpe.to_string();
        let again: Cpe = bound.parse().expect("a bound CPE parses");
        assert_eq!(cpe, again, "{data:?} -> {bound}");
    }
});
