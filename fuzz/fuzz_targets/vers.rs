//! A `vers:` range that parses prints as a range that parses to the same constraints, and
//! evaluating it never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_matching::vers::Vers;

fuzz_target!(|input: (&str, &str)| {
    let (range, version) = input;
    if let Ok(v) = Vers::parse(range) {
        let printed = v.to_string();
        let again = Vers::parse(&printed)
            .unwrap_or_else(|e| panic!("{range:?} printed as {printed:?}: {e}"));
        assert_eq!(again, v, "{range:?}");
        let mut fallback = false;
        let _ = v.contains(version, &mut fallback);
    }
});
