//! Every ecosystem order is antisymmetric, and transitive on version-like strings it reads;
//! reading never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_matching::ecosystem::Scheme;

const SCHEMES: [&str; 15] = [
    "semver", "npm", "cargo", "golang", "hex", "pub", "pypi", "maven", "gem", "nuget", "composer",
    "deb", "rpm", "apk", "generic",
];

fuzz_target!(|input: (u8, &str, &str, &str)| {
    let (i, a, b, c) = input;
    let scheme = Scheme::from_vers(SCHEMES[usize::from(i) % SCHEMES.len()]).unwrap();
    let o = scheme.order(a, b);
    assert_eq!(o.ordering, scheme.order(b, a).ordering.reverse(), "{scheme:?} {a:?} {b:?}");
    // Transitivity on version-like strings (Maven's own order is not transitive on arbitrary
    // text: it reads any non-digit as a qualifier letter).
    let plausible = |v: &str| {
        v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_' | b'~'))
    };
    // Maven's ComparableVersion itself is not transitive: an unknown qualifier is above the
    // release but below any number (docs/version-order.md); Ward follows Maven there.
    if scheme == Scheme::Maven || ![a, b, c].iter().all(|v| plausible(v)) {
        return;
    }
    if let (Some(ab), Some(bc), Some(ac)) =
        (scheme.compare(a, b), scheme.compare(b, c), scheme.compare(a, c))
    {
        if ab.is_le() && bc.is_le() {
            assert!(ac.is_le(), "{scheme:?} {a:?} <= {b:?} <= {c:?} but not {a:?} <= {c:?}");
        }
    }
});
