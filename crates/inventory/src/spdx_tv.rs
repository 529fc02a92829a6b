//! SPDX 2.x tag-value (`.spdx`): `Tag: value` lines, multi-line values in `<text>…</text>`.
//! One document is one asset; each `PackageName` starts a component, with CPEs and purls from
//! `ExternalRef: <category> <type> <locator>` lines.

use ward_model::{Asset, Inventory};

use crate::{
    InventoryError, ParsedInventory, asset_name_from_file, component, cpe_field, doc_error,
    non_empty, purl_field, spdx_supplier,
};

pub(crate) fn parse(file: &str, text: &str) -> Result<ParsedInventory, InventoryError> {
    let mut out = ParsedInventory {
        format: "SPDX (tag-value)",
        ..ParsedInventory::default()
    };
    let mut document_name: Option<String> = None;
    let mut components = Vec::new();
    let mut current: Option<(usize, ward_model::Component)> = None;
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let n = i + 1;
        let line = line.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((tag, value)) = line.split_once(':') else {
            return Err(InventoryError {
                file: file.into(),
                record: format!("line {n}"),
                field: String::new(),
                message: "expected `Tag: value`".into(),
            });
        };
        let (tag, mut value) = (tag.trim(), value.trim().to_owned());
        if value.starts_with("<text>") && !value.contains("</text>") {
            // A multi-line value: read to its closing tag.
            loop {
                let Some((_, more)) = lines.next() else {
                    return Err(InventoryError {
                        file: file.into(),
                        record: format!("line {n}"),
                        field: tag.into(),
                        message: "`<text>` is never closed by `</text>`".into(),
                    });
                };
                value.push('\n');
                value.push_str(more);
                if more.contains("</text>") {
                    break;
                }
            }
        }
        let record = |c: &ward_model::Component, line: usize| format!("line {line} ({})", c.name);
        match tag {
            "DocumentName" => document_name = non_empty(Some(&value)),
            "PackageName" => {
                if let Some((_, c)) = current.take() {
                    components.push(c);
                }
                let Some(name) = non_empty(Some(&value)) else {
                    return Err(InventoryError {
                        file: file.into(),
                        record: format!("line {n}"),
                        field: "PackageName".into(),
                        message: "a package needs a name".into(),
                    });
                };
                let mut c = component(name, None);
                c.location = Some(format!("{file}:{n}"));
                current = Some((n, c));
            }
            // Files and snippets end the package's own fields.
            "FileName" | "SnippetSPDXID" => {
                if let Some((_, c)) = current.take() {
                    components.push(c);
                }
            }
            _ => {
                let Some((_, c)) = current.as_mut() else {
                    continue;
                };
                match tag {
                    "PackageVersion" => {
                        c.version = non_empty(Some(&value)).filter(|v| v != "NOASSERTION")
                    }
                    "SPDXID" => c.location = non_empty(Some(&value)),
                    "PackageSupplier" => c.vendor = spdx_supplier(Some(&value)),
                    "ExternalRef" => {
                        let mut parts = value.split_whitespace();
                        let (_category, kind, locator) = (parts.next(), parts.next(), parts.next());
                        let at = record(c, n);
                        match kind {
                            Some("cpe23Type" | "cpe22Type") if c.cpe.is_none() => {
                                c.cpe =
                                    cpe_field(locator, file, &at, "ExternalRef", &mut out.warnings);
                            }
                            Some("purl") if c.purl.is_none() => {
                                c.purl = purl_field(
                                    locator,
                                    file,
                                    &at,
                                    "ExternalRef",
                                    &mut out.warnings,
                                );
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if let Some((_, c)) = current.take() {
        components.push(c);
    }
    if document_name.is_none() && components.is_empty() {
        return Err(doc_error(
            file,
            "not an SPDX tag-value document: no `DocumentName` and no `PackageName`",
        ));
    }
    out.inventory = Inventory {
        assets: vec![Asset {
            name: document_name.unwrap_or_else(|| asset_name_from_file(file)),
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
    fn packages_refs_and_multiline_text() {
        let doc = "SPDXVersion: SPDX-2.2\nDocumentName: go-lib\n\nPackageName: go\nSPDXID: SPDXRef-go\nPackageVersion: 1.15.4\nPackageSupplier: Organization: Google LLC\nPackageComment: <text>two\nlines: with a colon</text>\nExternalRef: SECURITY cpe23Type cpe:2.3:a:golang:go:1.15.4:*:*:*:*:*:*:*\nExternalRef: PACKAGE-MANAGER purl pkg:golang/stdlib@go1.15.4\n\nPackageName: bad\nPackageVersion: NOASSERTION\nExternalRef: SECURITY cpe23Type not-a-cpe\n";
        let p = parse("x.spdx", doc).unwrap();
        let a = &p.inventory.assets[0];
        assert_eq!(a.name, "go-lib");
        assert_eq!(a.components.len(), 2);
        let go = &a.components[0];
        assert_eq!(go.version.as_deref(), Some("1.15.4"));
        assert_eq!(go.vendor.as_deref(), Some("Google LLC"));
        assert_eq!(go.purl.as_deref(), Some("pkg:golang/stdlib@go1.15.4"));
        assert!(go.cpe.is_some());
        assert_eq!(a.components[1].version, None);
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(p.warnings[0].record.contains("bad"));
        let e = parse(
            "y.spdx",
            "PackageName: a\nPackageComment: <text>never closed\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("</text>"), "{e}");
    }
}
