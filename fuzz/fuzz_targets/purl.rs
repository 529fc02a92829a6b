//! A purl that parses prints in canonical form, which parses back to the same purl; naming its
//! OSV packages never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_model::Purl;

fuzz_target!(|s: &str| {
    if let Ok(p) = s.parse::<Purl>() {
        let _ = p.packages();
        let printed = p.to_string();
        let again: Purl = printed
            .parse()
            .unwrap_or_else(|e| panic!("{s:?} printed as {printed:?}, which does not parse: {e}"));
        assert_eq!(again.to_string(), printed, "{s:?}");
    }
});
