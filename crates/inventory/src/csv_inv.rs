//! Ward's inventory CSV (`docs/inventory.md`): a header row, then one component per row.
//!
//! Columns (any order, case-insensitive): `asset` (required), `vendor`, `product`, `version`,
//! `cpe`, `purl`, and optionally `exposure` (small|controlled|open) and `criticality`
//! (low|medium|high|very-high). A row needs `product`, `cpe` or `purl`. Rows with the same
//! `asset` form one asset; its exposure and criticality must not contradict each other.

use std::collections::HashMap;

use ward_model::{Asset, Criticality, Exposure, Inventory};

use crate::{InventoryError, ParsedInventory, component, cpe_field, non_empty, purl_field};

const KNOWN: [&str; 8] = [
    "asset",
    "vendor",
    "product",
    "version",
    "cpe",
    "purl",
    "exposure",
    "criticality",
];

pub(crate) fn parse(file: &str, bytes: &[u8]) -> Result<ParsedInventory, InventoryError> {
    let mut out = ParsedInventory {
        format: "CSV",
        ..ParsedInventory::default()
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let (headers, col) = crate::csv_columns(file, &mut reader)?;
    if !col.contains_key("asset")
        || !["product", "cpe", "purl"]
            .iter()
            .any(|c| col.contains_key(*c))
    {
        return Err(InventoryError {
            file: file.into(),
            record: "line 1".into(),
            field: "header".into(),
            message: format!(
                "not a Ward inventory CSV: the header `{}` needs `asset` and one of `product`, `cpe`, `purl` (columns: {})",
                headers.iter().collect::<Vec<_>>().join(","),
                KNOWN.join(",")
            ),
        });
    }
    let mut assets: Vec<Asset> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, row) in reader.records().enumerate() {
        let line = row
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(i as u64 + 2, |p| p.line());
        let record = format!("line {line}");
        let row = row.map_err(|e| InventoryError {
            file: file.into(),
            record: record.clone(),
            field: String::new(),
            message: e.to_string(),
        })?;
        let get = |name: &str| {
            col.get(name)
                .and_then(|&i| row.get(i))
                .filter(|v| !v.is_empty())
        };
        let err = |field: &str, message: String| InventoryError {
            file: file.into(),
            record: record.clone(),
            field: field.into(),
            message,
        };
        let Some(asset_name) = get("asset") else {
            return Err(err("asset", "every row needs an asset name".into()));
        };
        let cpe = cpe_field(get("cpe"), file, &record, "cpe", &mut out.warnings);
        let purl = purl_field(get("purl"), file, &record, "purl", &mut out.warnings);
        let name = get("product")
            .map(str::to_owned)
            .or_else(|| {
                cpe.as_ref()
                    .and_then(|c| c.product.literal().map(str::to_owned))
            })
            .or_else(|| {
                purl.as_deref()
                    .and_then(|p| p.parse::<ward_model::Purl>().ok())
                    .map(|p| p.name)
            });
        let Some(name) = name else {
            if let Some(raw) = get("purl") {
                return Err(err(
                    "purl",
                    format!(
                        "`{raw}` is not a valid package URL, and the row names no product or cpe"
                    ),
                ));
            }
            return Err(err(
                "product",
                "a row needs a product, a cpe or a purl".into(),
            ));
        };
        let mut comp = component(name, non_empty(get("version")));
        comp.vendor = non_empty(get("vendor"));
        comp.cpe = cpe;
        comp.purl = purl;
        comp.location = Some(format!("{file}:{line}"));

        let slot = *index.entry(asset_name.to_owned()).or_insert_with(|| {
            assets.push(Asset {
                name: asset_name.to_owned(),
                ..Asset::default()
            });
            assets.len() - 1
        });
        let asset = &mut assets[slot];
        if let Some(v) = get("exposure") {
            let e: Exposure = v.parse().map_err(|m| err("exposure", m))?;
            if asset.exposure.is_some_and(|old| old != e) {
                return Err(err(
                    "exposure",
                    format!("asset `{asset_name}` was given another exposure on an earlier line"),
                ));
            }
            asset.exposure = Some(e);
        }
        if let Some(v) = get("criticality") {
            let c: Criticality = v.parse().map_err(|m| err("criticality", m))?;
            if asset.criticality.is_some_and(|old| old != c) {
                return Err(err(
                    "criticality",
                    format!(
                        "asset `{asset_name}` was given another criticality on an earlier line"
                    ),
                ));
            }
            asset.criticality = Some(c);
        }
        asset.components.push(comp);
    }
    out.inventory = Inventory { assets };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::parse_inventory;
    use ward_model::{Criticality, Exposure};

    #[test]
    fn rows_group_into_assets() {
        let csv = "asset,vendor,product,version,cpe,purl,exposure,criticality\n\
                   mdm-01,Ivanti,Endpoint Manager Mobile,12.5.0.0,,,open,high\n\
                   mdm-01,,,,cpe:2.3:o:redhat:enterprise_linux:8:*:*:*:*:*:*:*,,,\n\
                   lab-01,,,,,pkg:pypi/requests@2.31.0,small,low\n";
        let p = parse_inventory("trust.csv", csv.as_bytes()).unwrap();
        let a = &p.inventory.assets;
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].exposure, a[0].criticality),
            (Some(Exposure::Open), Some(Criticality::High))
        );
        assert_eq!(a[0].components[1].name, "enterprise_linux");
        assert_eq!(a[1].components[0].name, "requests");
        assert_eq!(a[0].components[0].location.as_deref(), Some("trust.csv:2"));
    }

    #[test]
    fn invalid_purls_are_warnings_or_errors_with_the_line() {
        let csv = "asset,product,version,purl
web,requests,2.31.0,pkg:pypi
web,,,npm/left-pad@1.0
";
        let e = parse_inventory("t.csv", csv.as_bytes()).unwrap_err();
        assert_eq!((e.record.as_str(), e.field.as_str()), ("line 3", "purl"));
        let csv = "asset,product,version,purl
web,requests,2.31.0,pkg:pypi
";
        let p = parse_inventory("t.csv", csv.as_bytes()).unwrap();
        assert_eq!(p.inventory.assets[0].components[0].purl, None);
        assert_eq!(
            (p.warnings[0].record.as_str(), p.warnings[0].field.as_str()),
            ("line 2", "purl")
        );
        let cdx = r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
            {"type": "library", "name": "x", "version": "1", "purl": "pkg:maven/@1.0"}]}"#;
        let p = parse_inventory("b.json", cdx.as_bytes()).unwrap();
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].field.ends_with(".purl"), "{:?}", p.warnings);
        assert!(
            p.warnings[0].message.contains("pkg:maven/@1.0"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let csv = "asset,product,version,exposure\nweb,nginx,1.0,open\nweb,openssl,1.0,internet\n";
        let e = parse_inventory("t.csv", csv.as_bytes()).unwrap_err();
        assert_eq!(
            (e.record.as_str(), e.field.as_str()),
            ("line 3", "exposure")
        );
        let csv = "asset,product\nweb,nginx\n,openssl\n";
        let e = parse_inventory("t.csv", csv.as_bytes()).unwrap_err();
        assert_eq!((e.record.as_str(), e.field.as_str()), ("line 3", "asset"));
        let e = parse_inventory("t.csv", b"name,version\nx,1\n").unwrap_err();
        assert!(e.message.contains("needs `asset`"), "{e}");
        let csv = "asset,product,exposure\nweb,nginx,open\nweb,openssl,small\n";
        assert!(
            parse_inventory("t.csv", csv.as_bytes())
                .unwrap_err()
                .message
                .contains("another exposure")
        );
    }
}
