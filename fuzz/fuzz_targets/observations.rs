//! Any bytes as a scan report (Shadowserver CSV, nmap XML, Ward's observation CSV) never panic;
//! every observation read gives its endpoint, evidence and component, and is attributed against
//! a footprint with nested IPv4 and IPv6 blocks, a domain and an AS number.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_inventory::footprint::{Attributor, Claim};
use ward_inventory::observations::parse_observations;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_747_364_400, 0).unwrap();
    let Ok(parsed) = parse_observations("report", data, None, now) else {
        return;
    };
    let claims = ["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32", "2001:db8:a::/48", "trust.example", "AS64500"];
    let attributor = Attributor::new(
        claims
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.parse::<Claim>().unwrap())),
    );
    for o in &parsed.observations {
        let _ = o.endpoint();
        assert!(o.evidence().contains(" answered at "));
        if let Some(c) = o.component() {
            assert!(!c.name.is_empty() || o.product.as_deref() == Some(""));
        }
        if let Some(hit) = attributor.attribute(o.address, o.hostname.as_deref(), o.asn) {
            if let (Some(a), Claim::Range(net)) = (o.address, hit.by) {
                assert!(net.contains(&a), "{a} attributed by {net}");
            }
        }
    }
});
