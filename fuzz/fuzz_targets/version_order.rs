//! The vendor version order never panics and is antisymmetric and transitive.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_matching::version::compare;

fuzz_target!(|input: (&str, &str, &str)| {
    let (a, b, c) = input;
    assert_eq!(compare(a, b), compare(b, a).reverse());
    if compare(a, b).is_le() && compare(b, c).is_le() {
        assert!(compare(a, c).is_le(), "{a:?} {b:?} {c:?}");
    }
});
