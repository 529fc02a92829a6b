//! The new inventory formats (nmap XML, SPDX tag-value, SPDX 3.0 JSON-LD, compressed) under
//! every truncation and random byte changes of real documents: an error naming the file, or an
//! inventory, never a panic. (The `inventory` fuzz target in `fuzz/` reaches the same parsers
//! through format detection; this runs in every test run.)

use proptest::prelude::*;

const NMAP: &str = include_str!("../../ward/tests/fixtures/inventories/scanme.nmap.xml");
const SPDX_TV: &str = "SPDXVersion: SPDX-2.2\nDataLicense: CC0-1.0\nDocumentName: go-lib\n\nPackageName: go\nSPDXID: SPDXRef-go\nPackageVersion: 1.15.4\nPackageSupplier: Organization: Google LLC\nPackageComment: <text>two\nlines</text>\nExternalRef: SECURITY cpe23Type cpe:2.3:a:golang:go:1.15.4:*:*:*:*:*:*:*\nExternalRef: PACKAGE-MANAGER purl pkg:golang/stdlib@go1.15.4\n";
const SPDX3: &str = r#"{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": [
 {"type": "SpdxDocument", "spdxId": "d", "name": "k8s"},
 {"type": "Organization", "spdxId": "o", "name": "Org"},
 {"type": "software_Package", "spdxId": "p", "name": "hyper", "suppliedBy": "o",
  "software_packageVersion": "0.14", "software_packageUrl": "pkg:cargo/hyper@0.14",
  "externalIdentifier": [{"externalIdentifierType": "cpe23", "identifier": "cpe:2.3:a:hyper:hyper:0.14:*:*:*:*:*:*:*"}]}]}"#;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn every_truncation_is_an_answer() {
    for doc in [NMAP.as_bytes(), SPDX_TV.as_bytes(), SPDX3.as_bytes()] {
        let compressed = gzip(doc);
        for end in 0..doc.len() {
            let _ = ward_inventory::parse_inventory("t", &doc[..end]);
        }
        for end in 0..compressed.len() {
            let _ = ward_inventory::parse_inventory("t.gz", &compressed[..end]);
        }
        // Whole, each parses.
        let p = ward_inventory::parse_inventory("whole", doc).unwrap();
        assert!(!p.inventory.assets.is_empty());
        let p = ward_inventory::parse_inventory("whole.gz", &compressed).unwrap();
        assert!(!p.inventory.assets.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]
    #[test]
    fn byte_changes_never_panic(which in 0usize..3, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut doc = [NMAP, SPDX_TV, SPDX3][which].as_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(doc.len());
            doc[i] = byte;
        }
        if let Err(e) = ward_inventory::parse_inventory("mutated", &doc) {
            prop_assert_eq!(e.file, "mutated");
        }
    }
}

fn bzip2(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Red Hat publishes its SBOMs as `.json.bz2`: bzip2 is read by its magic bytes, whatever the
/// name, and bounded like gzip and xz.
#[test]
fn bzip2_inventories_are_read_within_their_bound() {
    let plain = ward_inventory::parse_inventory("go-lib.spdx", SPDX_TV.as_bytes()).unwrap();
    let packed = bzip2(SPDX_TV.as_bytes());
    assert!(packed.starts_with(b"BZh"));
    let read = ward_inventory::parse_inventory("upload.bin", &packed).unwrap();
    assert_eq!(read.inventory, plain.inventory);
    let e = ward_inventory::parse_inventory_within("upload.bin", &packed, 64).unwrap_err();
    assert!(
        e.to_string().contains("expands beyond 64 bytes (bzip2)"),
        "{e}"
    );
    // A truncated stream is an error naming the file, not a panic.
    let e =
        ward_inventory::parse_inventory("cut.json.bz2", &packed[..packed.len() / 2]).unwrap_err();
    assert!(e.to_string().contains("cut.json.bz2"), "{e}");
}
