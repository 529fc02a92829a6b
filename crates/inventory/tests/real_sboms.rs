//! Every CycloneDX example and the Syft SBOMs in `../shared/data/sbom` read without errors.
//! Absent data is reported and skipped.

use std::path::PathBuf;

use ward_testdata::shared;

use ward_inventory::parse_inventory;

fn files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "xml")
        ) {
            out.push(path);
        }
    }
}

#[test]
fn cyclonedx_examples_read() {
    let Some(dir) = shared("sbom/cyclonedx/SBOM") else {
        return;
    };
    let mut paths = Vec::new();
    files(&dir, &mut paths);
    paths.sort();
    let mut components = 0;
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        let parsed = parse_inventory(&path.display().to_string(), &bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(parsed.inventory.assets.len(), 1, "{}", path.display());
        components += parsed.inventory.component_count();
    }
    eprintln!(
        "{} CycloneDX documents, {components} components",
        paths.len()
    );
    assert!(paths.len() >= 20, "{}", paths.len());
    assert!(components > 1000, "{components}");
}

#[test]
fn syft_debian_sbom_reads_with_cpes_and_purls() {
    let Some(path) = shared("sbom/syft/debian12-dpkg.cdx.json") else {
        return;
    };
    let parsed = parse_inventory("debian12-dpkg.cdx.json", &std::fs::read(path).unwrap()).unwrap();
    let asset = &parsed.inventory.assets[0];
    assert!(
        parsed.warnings.is_empty(),
        "{:?}",
        &parsed.warnings[..parsed.warnings.len().min(3)]
    );
    assert!(asset.components.len() >= 708, "{}", asset.components.len());
    let openssl = asset
        .components
        .iter()
        .find(|c| c.name == "openssl")
        .expect("Debian 12 ships openssl");
    assert!(
        openssl
            .purl
            .as_deref()
            .is_some_and(|p| p.starts_with("pkg:deb/debian/openssl@")),
        "{openssl:?}"
    );
    assert!(openssl.cpe.is_some(), "Syft gives CPEs");
}
