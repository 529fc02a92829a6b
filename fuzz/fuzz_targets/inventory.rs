//! Any bytes given to the inventory parser (CycloneDX JSON/XML, SPDX, CSV) give an inventory or
//! an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ward_inventory::parse_inventory("fuzz.cdx", data);
});
