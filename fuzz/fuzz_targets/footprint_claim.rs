//! Any text as a footprint entry never panics, and what parses prints canonically and parses
//! back to the same claim.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_inventory::footprint::Claim;

fuzz_target!(|data: &str| {
    if let Ok(claim) = data.parse::<Claim>() {
        let printed = claim.to_string();
        let again: Claim = printed.parse().expect("a printed claim parses");
        assert_eq!(claim, again, "{data:?} -> {printed}");
    }
});
