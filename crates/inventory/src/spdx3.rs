//! SPDX 3.0 JSON-LD (software profile): the `@graph`'s `software_Package` elements are the
//! components (name, `software_packageVersion`, `software_packageUrl`, `externalIdentifier`
//! of type `cpe23`/`cpe22`/`packageUrl`, `suppliedBy` resolved to the agent's name); the
//! `SpdxDocument` (else the `software_Sbom`) names the asset.

use std::collections::HashMap;

use serde_json::Value;
use ward_model::{Asset, Inventory};

use crate::{
    InventoryError, ParsedInventory, asset_name_from_file, component, cpe_field, doc_error,
    non_empty, package_name, purl_field,
};

/// True for a JSON-LD document in SPDX 3's context.
pub(crate) fn is_spdx3(doc: &Value) -> bool {
    let context = |c: &Value| c.as_str().is_some_and(|s| s.contains("spdx.org/rdf/3"));
    match doc.get("@context") {
        Some(Value::Array(list)) => list.iter().any(context),
        Some(c) => context(c),
        None => false,
    }
}

/// An element's type without its profile prefix: `software_Package` → `Package`.
fn kind(e: &Value) -> &str {
    let t = e
        .get("type")
        .or_else(|| e.get("@type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    t.rsplit(['_', ':', '/']).next().unwrap_or(t)
}

pub(crate) fn parse(file: &str, doc: Value) -> Result<ParsedInventory, InventoryError> {
    let mut out = ParsedInventory {
        format: "SPDX 3.0 (JSON-LD)",
        ..ParsedInventory::default()
    };
    let elements: &[Value] = match doc.get("@graph") {
        Some(Value::Array(g)) => g,
        Some(_) => {
            return Err(InventoryError {
                file: file.into(),
                record: "-".into(),
                field: "@graph".into(),
                message: "must be an array of elements".into(),
            });
        }
        None => std::slice::from_ref(&doc),
    };
    let id = |e: &Value| {
        e.get("spdxId")
            .or_else(|| e.get("@id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let agents: HashMap<String, String> = elements
        .iter()
        .filter(|e| {
            matches!(
                kind(e),
                "Organization" | "Person" | "Agent" | "SoftwareAgent"
            )
        })
        .filter_map(|e| Some((id(e)?, non_empty(e.get("name").and_then(Value::as_str))?)))
        .collect();
    let name_of = |k: &str| {
        elements
            .iter()
            .find(|e| kind(e) == k)
            .and_then(|e| non_empty(e.get("name").and_then(Value::as_str)))
    };
    let asset_name = name_of("SpdxDocument")
        .or_else(|| name_of("Sbom"))
        .unwrap_or_else(|| asset_name_from_file(file));
    let mut components = Vec::new();
    for (i, e) in elements.iter().enumerate() {
        if kind(e) != "Package" {
            continue;
        }
        let at = format!("@graph[{i}]");
        let s = |k: &str| e.get(k).and_then(Value::as_str);
        let name = package_name(file, &at, s("name"))?;
        let record = format!("{at} ({name})");
        let mut c = component(
            name,
            non_empty(s("software_packageVersion").or_else(|| s("packageVersion")))
                .filter(|v| v != "NOASSERTION"),
        );
        c.location = id(e).or(Some(at.clone()));
        c.vendor = s("suppliedBy")
            .and_then(|a| agents.get(a).cloned())
            .or_else(|| {
                non_empty(
                    e.get("suppliedBy")
                        .and_then(|o| o.get("name"))
                        .and_then(Value::as_str),
                )
            });
        if let Some(purl) = s("software_packageUrl").or_else(|| s("packageUrl")) {
            c.purl = purl_field(
                Some(purl),
                file,
                &record,
                &format!("{at}.software_packageUrl"),
                &mut out.warnings,
            );
        }
        for (k, x) in e
            .get("externalIdentifier")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let field = format!("{at}.externalIdentifier[{k}]");
            let value = x.get("identifier").and_then(Value::as_str);
            match x.get("externalIdentifierType").and_then(Value::as_str) {
                Some("cpe23" | "cpe22") if c.cpe.is_none() => {
                    c.cpe = cpe_field(value, file, &record, &field, &mut out.warnings);
                }
                Some("packageUrl") if c.purl.is_none() => {
                    c.purl = purl_field(value, file, &record, &field, &mut out.warnings);
                }
                _ => {}
            }
        }
        components.push(c);
    }
    if components.is_empty() && !elements.iter().any(|e| kind(e) == "SpdxDocument") {
        return Err(doc_error(
            file,
            "an SPDX 3 document with neither an SpdxDocument nor any software_Package element",
        ));
    }
    out.inventory = Inventory {
        assets: vec![Asset {
            name: asset_name,
            components,
            ..Asset::default()
        }],
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_with_purls_cpes_and_suppliers() {
        let doc = serde_json::json!({
            "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
            "@graph": [
                {"type": "SpdxDocument", "spdxId": "d", "name": "k8s-bom"},
                {"type": "Organization", "spdxId": "o1", "name": "Apache Software Foundation"},
                {"type": "software_Package", "spdxId": "p1", "name": "log4j-core",
                 "software_packageVersion": "2.14.1", "suppliedBy": "o1",
                 "externalIdentifier": [
                     {"type": "ExternalIdentifier", "externalIdentifierType": "cpe23",
                      "identifier": "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*"},
                     {"type": "ExternalIdentifier", "externalIdentifierType": "packageUrl",
                      "identifier": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}]},
                {"type": "software_Package", "spdxId": "p2", "name": "hyper",
                 "software_packageVersion": "0.14", "software_packageUrl": "pkg:cargo/hyper@0.14"},
                {"type": "software_Package", "spdxId": "p3", "name": "x",
                 "software_packageUrl": "not a purl"}
            ]
        });
        assert!(is_spdx3(&doc));
        let p = parse("k.spdx3.json", doc).unwrap();
        let a = &p.inventory.assets[0];
        assert_eq!(a.name, "k8s-bom");
        assert_eq!(a.components.len(), 3);
        let log4j = &a.components[0];
        assert_eq!(log4j.vendor.as_deref(), Some("Apache Software Foundation"));
        assert!(log4j.cpe.is_some());
        assert_eq!(
            log4j.purl.as_deref(),
            Some("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")
        );
        assert_eq!(
            a.components[1].purl.as_deref(),
            Some("pkg:cargo/hyper@0.14")
        );
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].field.contains("@graph[4]"),
            "{:?}",
            p.warnings
        );
    }
}
