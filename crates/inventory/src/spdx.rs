//! SPDX 2.2/2.3 JSON: one document is one asset; each package is a component, with CPEs and
//! purls from `externalRefs` (`cpe23Type`, `cpe22Type`, `purl`).

use serde_json::Value;
use ward_model::{Asset, Inventory};

use crate::{
    InventoryError, ParsedInventory, asset_name_from_file, component, cpe_field, non_empty,
    package_name, purl_field, spdx_supplier,
};

pub(crate) fn parse_json(file: &str, doc: Value) -> Result<ParsedInventory, InventoryError> {
    let mut out = ParsedInventory {
        format: "SPDX (JSON)",
        ..ParsedInventory::default()
    };
    let mut asset = Asset {
        name: non_empty(doc.get("name").and_then(Value::as_str))
            .unwrap_or_else(|| asset_name_from_file(file)),
        ..Asset::default()
    };
    let packages = match doc.get("packages") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(p)) => p.as_slice(),
        Some(_) => {
            return Err(InventoryError {
                file: file.into(),
                record: "-".into(),
                field: "packages".into(),
                message: "must be an array".into(),
            });
        }
    };
    for (i, p) in packages.iter().enumerate() {
        let at = format!("packages[{i}]");
        let s = |k: &str| p.get(k).and_then(Value::as_str);
        let name = package_name(file, &at, s("name"))?;
        let record = format!("{at} ({name})");
        let mut comp = component(
            name,
            non_empty(s("versionInfo")).filter(|v| v != "NOASSERTION"),
        );
        comp.vendor = spdx_supplier(s("supplier"));
        comp.location = non_empty(s("SPDXID")).or(Some(at.clone()));
        for (k, r) in p
            .get("externalRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let kind = r.get("referenceType").and_then(Value::as_str).unwrap_or("");
            let locator = r.get("referenceLocator").and_then(Value::as_str);
            match kind {
                "cpe23Type" | "cpe22Type" if comp.cpe.is_none() => {
                    comp.cpe = cpe_field(
                        locator,
                        file,
                        &record,
                        &format!("{at}.externalRefs[{k}]"),
                        &mut out.warnings,
                    );
                }
                "purl" if comp.purl.is_none() => {
                    comp.purl = purl_field(
                        locator,
                        file,
                        &record,
                        &format!("{at}.externalRefs[{k}]"),
                        &mut out.warnings,
                    );
                }
                _ => {}
            }
        }
        asset.components.push(comp);
    }
    out.inventory = Inventory {
        assets: vec![asset],
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::parse_inventory;

    #[test]
    fn packages_with_external_refs() {
        let doc = br#"{"spdxVersion":"SPDX-2.3","name":"web-01","packages":[
            {"name":"openssl","SPDXID":"SPDXRef-1","versionInfo":"1.0.1f","supplier":"Organization: OpenSSL",
             "externalRefs":[{"referenceCategory":"SECURITY","referenceType":"cpe23Type","referenceLocator":"cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*"},
                             {"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:generic/openssl@1.0.1f"}]},
            {"name":"x","versionInfo":"NOASSERTION","supplier":"NOASSERTION"}]}"#;
        let p = parse_inventory("s.spdx.json", doc).unwrap();
        let a = &p.inventory.assets[0];
        assert_eq!(a.name, "web-01");
        assert_eq!(a.components[0].vendor.as_deref(), Some("OpenSSL"));
        assert_eq!(
            a.components[0].cpe.as_ref().unwrap().version.literal(),
            Some("1.0.1f")
        );
        assert_eq!(
            a.components[0].purl.as_deref(),
            Some("pkg:generic/openssl@1.0.1f")
        );
        assert_eq!(a.components[1].version, None);
        assert_eq!(a.components[1].vendor, None);
    }
}
