//! Any bytes given to the VEX reader (OpenVEX, CycloneDX VEX, CSAF) give statements or an
//! error, never a panic; and a CSAF document that reads can be written out again as each VEX
//! format without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = ward_feeds::vex::parse_vex("fuzz.json", data) {
        let publisher = ward_feeds::vex_out::Publisher {
            name: "fuzz".into(),
            namespace: "urn:fuzz".into(),
            category: "user",
            timestamp: chrono::DateTime::UNIX_EPOCH,
        };
        let _ = ward_feeds::vex_out::csaf(&doc.statements, &publisher);
        let _ = ward_feeds::vex_out::openvex(&doc.statements, &publisher);
        let _ = ward_feeds::vex_out::cyclonedx(&doc.statements, &publisher);
    }
});
