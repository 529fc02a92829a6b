//! Inventories in, Ward's [`Inventory`] out: CycloneDX 1.2–1.6 (JSON and XML), SPDX 2.2/2.3
//! JSON, and Ward's CSV (`asset,vendor,product,version,cpe,purl[,exposure,criticality]`,
//! documented in `docs/inventory.md`).
//!
//! Own parsers rather than `cyclonedx-bom`/`spdx-rs`: the official CycloneDX crate rejects
//! 1.6 and XML 1.2 documents found in the wild and `spdx-rs` is unmaintained; Ward needs only
//! the identity fields (name, version, CPE, purl, supplier) and the `ward:*` properties.
//! Outside-in observations (Shadowserver CSV, nmap XML, Ward's observation CSV) are read by
//! [`observations`] and attributed to members by [`footprint`].
//! No I/O: callers pass bytes.

mod csv_inv;
mod cyclonedx;
pub mod footprint;
mod nmap;
pub mod observations;
mod spdx;
mod spdx3;
mod spdx_tv;

/// How far a compressed inventory may expand by default (`ward scan`); the server passes its
/// own bound to [`parse_inventory_within`].
pub const MAX_EXPANDED: u64 = 512 << 20;

use ward_model::{Asset, Component, Cpe, Criticality, Exposure, Inventory};

/// An inventory that could not be read, or a part of one that was ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {record}{}: {message}", if field.is_empty() { String::new() } else { format!(": field `{field}`") })]
pub struct InventoryError {
    pub file: String,
    /// `line 12`, `component #3 (pkg:npm/x@1)`, or `-` for the whole document.
    pub record: String,
    pub field: String,
    pub message: String,
}

/// A parsed inventory and what was ignored on the way.
#[derive(Debug, Default)]
pub struct ParsedInventory {
    pub inventory: Inventory,
    pub format: &'static str,
    /// Problems with single fields (an unparsable CPE): the component was kept without it.
    pub warnings: Vec<InventoryError>,
}

/// A CSV's header row and its columns by lower-cased name.
pub(crate) fn csv_columns<R: std::io::Read>(
    file: &str,
    reader: &mut csv::Reader<R>,
) -> Result<(csv::StringRecord, std::collections::HashMap<String, usize>), InventoryError> {
    let headers = reader
        .headers()
        .map_err(|e| doc_error(file, format!("unreadable header: {e}")))?
        .clone();
    let col = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.to_ascii_lowercase(), i))
        .collect();
    Ok((headers, col))
}

pub(crate) fn doc_error(file: &str, message: impl Into<String>) -> InventoryError {
    InventoryError {
        file: file.into(),
        record: "-".into(),
        field: String::new(),
        message: message.into(),
    }
}

/// Detects the format of `bytes` and parses it. `name` is the file name, used in messages and
/// as the asset name when the document names none. gzip, xz and bzip2 are recognised by their
/// magic bytes and expanded up to [`MAX_EXPANDED`].
pub fn parse_inventory(name: &str, bytes: &[u8]) -> Result<ParsedInventory, InventoryError> {
    parse_inventory_within(name, bytes, MAX_EXPANDED)
}

/// [`parse_inventory`] with a bound on how far a compressed inventory may expand: a larger
/// one is refused (naming the bound) before it is parsed.
pub fn parse_inventory_within(
    name: &str,
    bytes: &[u8],
    max_expanded: u64,
) -> Result<ParsedInventory, InventoryError> {
    use std::io::Read;
    let expand = |reader: &mut dyn Read, kind: &str| -> Result<Vec<u8>, InventoryError> {
        let mut out = Vec::new();
        reader
            .take(max_expanded + 1)
            .read_to_end(&mut out)
            .map_err(|e| doc_error(name, format!("not valid {kind}: {e}")))?;
        if out.len() as u64 > max_expanded {
            return Err(doc_error(
                name,
                format!("expands beyond {max_expanded} bytes ({kind}); refused"),
            ));
        }
        Ok(out)
    };
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let inner = expand(&mut flate2::read::MultiGzDecoder::new(bytes), "gzip")?;
        return parse_plain(name, &inner);
    }
    if bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        let inner = expand(
            &mut liblzma::read::XzDecoder::new_multi_decoder(bytes),
            "xz",
        )?;
        return parse_plain(name, &inner);
    }
    // bzip2: `BZh` and a block size digit (Red Hat publishes its SBOMs as `.json.bz2`).
    if bytes.len() > 4 && bytes.starts_with(b"BZh") && (b'1'..=b'9').contains(&bytes[3]) {
        let inner = expand(&mut bzip2::read::MultiBzDecoder::new(bytes), "bzip2")?;
        return parse_plain(name, &inner);
    }
    parse_plain(name, bytes)
}

fn parse_plain(name: &str, bytes: &[u8]) -> Result<ParsedInventory, InventoryError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'{') => {
            let probe: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|e| doc_error(name, format!("not valid JSON: {e}")))?;
            if probe.get("bomFormat").and_then(|v| v.as_str()) == Some("CycloneDX") {
                cyclonedx::parse_json(name, probe)
            } else if probe.get("spdxVersion").is_some() {
                spdx::parse_json(name, probe)
            } else if spdx3::is_spdx3(&probe) {
                spdx3::parse(name, probe)
            } else {
                Err(doc_error(
                    name,
                    "unknown JSON inventory: expected CycloneDX (`\"bomFormat\": \"CycloneDX\"`), SPDX 2 (`spdxVersion`) or SPDX 3 JSON-LD (`@context`)",
                ))
            }
        }
        Some(b'<') if is_nmap(bytes) => nmap::parse(name, bytes),
        Some(b'<') => cyclonedx::parse_xml(name, bytes),
        Some(_) if is_spdx_tag_value(bytes) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| doc_error(name, format!("SPDX tag-value is not UTF-8: {e}")))?;
            spdx_tv::parse(name, text)
        }
        Some(_) => csv_inv::parse(name, bytes),
        None => Err(doc_error(name, "the file is empty")),
    }
}

/// An XML document whose root element is `<nmaprun>` (after the prolog, comments and DOCTYPE).
fn is_nmap(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let mut rest = text.as_ref();
    loop {
        rest = rest.trim_start();
        if rest.starts_with("<?") || rest.starts_with("<!") {
            let end = if rest.starts_with("<!--") { "-->" } else { ">" };
            match rest.find(end) {
                Some(i) => rest = &rest[i + end.len()..],
                None => return false,
            }
        } else {
            return rest.starts_with("<nmaprun");
        }
    }
}

/// SPDX 2 tag-value: its first tag is `SPDXVersion:` (after comments and blank lines).
fn is_spdx_tag_value(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).into_owned();
    head.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with("SPDXVersion:"))
}

/// The asset name for a document that names none: the file name without folders and extensions.
pub(crate) fn asset_name_from_file(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let stem = base.split('.').next().unwrap_or(base);
    if stem.is_empty() {
        base.to_owned()
    } else {
        stem.to_owned()
    }
}

/// Reads the `ward:exposure` and `ward:criticality` properties onto an asset.
pub(crate) fn apply_property(
    asset: &mut Asset,
    file: &str,
    record: &str,
    name: &str,
    value: &str,
) -> Result<(), InventoryError> {
    let err = |field: &str, message: String| InventoryError {
        file: file.into(),
        record: record.into(),
        field: field.into(),
        message,
    };
    match name {
        "ward:exposure" => {
            asset.exposure = Some(value.parse::<Exposure>().map_err(|m| err(name, m))?)
        }
        "ward:criticality" => {
            asset.criticality = Some(value.parse::<Criticality>().map_err(|m| err(name, m))?)
        }
        _ => {}
    }
    Ok(())
}

/// Parses an optional CPE field; a bad one becomes a warning and the component keeps no CPE.
pub(crate) fn cpe_field(
    raw: Option<&str>,
    file: &str,
    record: &str,
    field: &str,
    warnings: &mut Vec<InventoryError>,
) -> Option<Cpe> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty())?;
    match raw.parse::<Cpe>() {
        Ok(c) => Some(c),
        Err(e) => {
            warnings.push(InventoryError {
                file: file.into(),
                record: record.into(),
                field: field.into(),
                message: format!("`{raw}` is not a CPE name ({e}); matched by name instead"),
            });
            None
        }
    }
}

/// Checks an optional purl field; a bad one becomes a warning and the component keeps no purl
/// (it is then matched by its name and CPE only).
pub(crate) fn purl_field(
    raw: Option<&str>,
    file: &str,
    record: &str,
    field: &str,
    warnings: &mut Vec<InventoryError>,
) -> Option<String> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty())?;
    match raw.parse::<ward_model::Purl>() {
        Ok(_) => Some(raw.to_owned()),
        Err(e) => {
            warnings.push(InventoryError {
                file: file.into(),
                record: record.into(),
                field: field.into(),
                message: format!("{e}; matched by name instead"),
            });
            None
        }
    }
}

pub(crate) fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A package's name, required: an error naming the record and field when it is missing.
pub(crate) fn package_name(
    file: &str,
    at: &str,
    name: Option<&str>,
) -> Result<String, InventoryError> {
    non_empty(name).ok_or_else(|| InventoryError {
        file: file.into(),
        record: at.into(),
        field: format!("{at}.name"),
        message: "a package needs a name".into(),
    })
}

/// SPDX 2's `supplier` ("Organization: Name", "Person: Name", `NOASSERTION`) as a name.
pub(crate) fn spdx_supplier(value: Option<&str>) -> Option<String> {
    value
        .filter(|v| *v != "NOASSERTION")
        .map(|v| v.split_once(':').map_or(v, |(_, n)| n).trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A component with only the given identity fields.
pub(crate) fn component(name: String, version: Option<String>) -> Component {
    Component {
        name,
        version,
        ..Component::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_documents_are_named() {
        let e = parse_inventory("x.json", br#"{"hello": 1}"#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.json: -: unknown JSON inventory"),
            "{e}"
        );
        let e = parse_inventory("x.json", b"{oops").unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        assert!(parse_inventory("e.csv", b"  \n").is_err());
    }

    #[test]
    fn asset_names_from_files() {
        assert_eq!(
            asset_name_from_file("/a/b/trust-epmm.cdx.json"),
            "trust-epmm"
        );
        assert_eq!(asset_name_from_file(".hidden"), ".hidden");
    }
}
