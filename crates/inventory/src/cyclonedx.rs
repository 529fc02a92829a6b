//! CycloneDX 1.2–1.6, JSON and XML: one BOM is one asset; its components (nested ones too)
//! are the asset's components. `metadata.properties` (or the metadata component's properties)
//! named `ward:exposure` and `ward:criticality` describe the asset.

use quick_xml::events::Event;
use serde_json::Value;
use ward_model::{Asset, Inventory};

use crate::{
    InventoryError, ParsedInventory, apply_property, asset_name_from_file, component, cpe_field,
    doc_error, non_empty, purl_field,
};

pub(crate) fn parse_json(file: &str, doc: Value) -> Result<ParsedInventory, InventoryError> {
    let mut out = ParsedInventory {
        format: "CycloneDX (JSON)",
        ..ParsedInventory::default()
    };
    let meta = doc.get("metadata");
    let meta_component = meta.and_then(|m| m.get("component"));
    let mut asset = Asset {
        name: meta_component
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map(|n| {
                match meta_component
                    .and_then(|c| c.get("version"))
                    .and_then(Value::as_str)
                {
                    Some(v) if !v.is_empty() => format!("{n} {v}"),
                    _ => n.to_owned(),
                }
            })
            .unwrap_or_else(|| asset_name_from_file(file)),
        ..Asset::default()
    };
    for props in [
        meta_component.and_then(|c| c.get("properties")),
        meta.and_then(|m| m.get("properties")),
    ] {
        for p in props.and_then(Value::as_array).into_iter().flatten() {
            if let (Some(n), Some(v)) = (
                p.get("name").and_then(Value::as_str),
                p.get("value").and_then(Value::as_str),
            ) {
                apply_property(&mut asset, file, "metadata", n, v)?;
            }
        }
    }
    match doc.get("components") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            walk_json(file, list, "components", &mut asset, &mut out.warnings)?
        }
        Some(_) => {
            return Err(InventoryError {
                file: file.into(),
                record: "-".into(),
                field: "components".into(),
                message: "must be an array".into(),
            });
        }
    }
    out.inventory = Inventory {
        assets: vec![asset],
    };
    Ok(out)
}

fn walk_json(
    file: &str,
    list: &[Value],
    path: &str,
    asset: &mut Asset,
    warnings: &mut Vec<InventoryError>,
) -> Result<(), InventoryError> {
    for (i, c) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let s = |k: &str| c.get(k).and_then(Value::as_str);
        let Some(name) = non_empty(s("name")) else {
            return Err(InventoryError {
                file: file.into(),
                record: format!("component {at}"),
                field: format!("{at}.name"),
                message: "a component needs a name".into(),
            });
        };
        let record = format!("component {at} ({name})");
        let mut comp = component(name, non_empty(s("version")));
        comp.vendor = non_empty(s("publisher"))
            .or_else(|| {
                non_empty(
                    c.get("supplier")
                        .and_then(|x| x.get("name"))
                        .and_then(Value::as_str),
                )
            })
            .or_else(|| non_empty(s("author")));
        comp.cpe = cpe_field(s("cpe"), file, &record, &format!("{at}.cpe"), warnings);
        comp.purl = purl_field(s("purl"), file, &record, &format!("{at}.purl"), warnings);
        comp.location = Some(non_empty(s("bom-ref")).unwrap_or_else(|| at.clone()));
        asset.components.push(comp);
        if let Some(Value::Array(nested)) = c.get("components") {
            walk_json(file, nested, &format!("{at}.components"), asset, warnings)?;
        }
    }
    Ok(())
}

#[derive(Default)]
struct XmlComponent {
    name: Option<String>,
    version: Option<String>,
    publisher: Option<String>,
    supplier: Option<String>,
    author: Option<String>,
    cpe: Option<String>,
    purl: Option<String>,
    bom_ref: Option<String>,
    index: usize,
}

/// How deep XML elements may nest (CycloneDX's own nesting — bom, components, component,
/// supplier, name — with nested components stays far below).
pub(crate) const MAX_XML_DEPTH: usize = 128;

/// CycloneDX XML, read with a streaming reader: an element stack tells which component a text
/// node belongs to. Linear in the document: every event does a constant amount of work (how
/// many `<metadata>` elements are open is counted, not searched for), and nesting is limited
/// to [`MAX_XML_DEPTH`].
pub(crate) fn parse_xml(file: &str, bytes: &[u8]) -> Result<ParsedInventory, InventoryError> {
    let mut out = ParsedInventory {
        format: "CycloneDX (XML)",
        ..ParsedInventory::default()
    };
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<String> = Vec::new();
    // `<metadata>` elements open on the stack.
    let mut in_metadata: usize = 0;
    let mut open: Vec<XmlComponent> = Vec::new();
    let mut asset = Asset::default();
    let mut meta_name: Option<(String, Option<String>)> = None;
    let mut saw_bom = false;
    let mut property_name: Option<String> = None;
    let mut count = 0usize;
    let mut text = String::new();
    let mut buf = Vec::new();
    let err_at = |reader: &quick_xml::Reader<&[u8]>, e: &dyn std::fmt::Display| {
        doc_error(
            file,
            format!("XML error at byte {}: {e}", reader.buffer_position()),
        )
    };
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| err_at(&reader, &e))?;
        match event {
            Event::Start(e) => {
                let local = e.local_name().as_ref().to_owned();
                if stack.is_empty() {
                    if local != "bom" {
                        return Err(doc_error(
                            file,
                            format!(
                                "not a CycloneDX document: the root element is <{local}>, not <bom>"
                            ),
                        ));
                    }
                    saw_bom = true;
                }
                if local == "component" {
                    let bom_ref = attribute(&e, "bom-ref");
                    open.push(XmlComponent {
                        bom_ref,
                        index: count,
                        ..XmlComponent::default()
                    });
                    count += 1;
                }
                if local == "property" {
                    property_name = attribute(&e, "name");
                }
                if stack.len() == MAX_XML_DEPTH {
                    return Err(err_at(
                        &reader,
                        &format!("elements nest deeper than {MAX_XML_DEPTH}"),
                    ));
                }
                if local == "metadata" {
                    in_metadata += 1;
                }
                stack.push(local);
                text.clear();
            }
            Event::Empty(_) => {}
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => match r.xml10_content().as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    },
                    Err(e) => return Err(err_at(&reader, &e)),
                };
                match resolved {
                    Some(c) => text.push(c),
                    None => {
                        return Err(err_at(
                            &reader,
                            &format!("unknown entity `&{};`", r.xml10_content()),
                        ));
                    }
                }
            }
            Event::End(_) => {
                let value = std::mem::take(&mut text).trim().to_owned();
                if !value.is_empty() {
                    let in_metadata = in_metadata > 0;
                    leaf_text(
                        &stack,
                        in_metadata,
                        &value,
                        &property_name,
                        &mut open,
                        &mut asset,
                        file,
                    )?;
                }
                let Some(local) = stack.pop() else { continue };
                if local == "metadata" {
                    in_metadata -= 1;
                }
                if local == "component" {
                    let c = open
                        .pop()
                        .expect("a component end matches a component start");
                    let in_metadata = in_metadata > 0 && open.is_empty();
                    let Some(name) = non_empty(c.name.as_deref()) else {
                        return Err(InventoryError {
                            file: file.into(),
                            record: format!("component #{}", c.index),
                            field: "name".into(),
                            message: "a component needs a name".into(),
                        });
                    };
                    if in_metadata {
                        meta_name = Some((name, non_empty(c.version.as_deref())));
                        continue;
                    }
                    let record = format!("component #{} ({name})", c.index);
                    let mut comp = component(name, non_empty(c.version.as_deref()));
                    comp.vendor = non_empty(c.publisher.as_deref())
                        .or_else(|| non_empty(c.supplier.as_deref()))
                        .or_else(|| non_empty(c.author.as_deref()));
                    comp.cpe = cpe_field(c.cpe.as_deref(), file, &record, "cpe", &mut out.warnings);
                    comp.purl =
                        purl_field(c.purl.as_deref(), file, &record, "purl", &mut out.warnings);
                    comp.location = Some(
                        c.bom_ref
                            .unwrap_or_else(|| format!("component #{}", c.index)),
                    );
                    asset.components.push(comp);
                }
                if local == "property" {
                    property_name = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_bom {
        return Err(doc_error(
            file,
            "not a CycloneDX document: no <bom> element",
        ));
    }
    if !stack.is_empty() {
        return Err(doc_error(
            file,
            format!(
                "the document ends inside <{}>: truncated?",
                stack.join("><")
            ),
        ));
    }
    asset.name = match meta_name {
        Some((n, Some(v))) => format!("{n} {v}"),
        Some((n, None)) => n,
        None => asset_name_from_file(file),
    };
    out.inventory = Inventory {
        assets: vec![asset],
    };
    Ok(out)
}

/// An attribute's value, by local name.
pub(crate) fn attribute(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// Files a text value under the element it closes.
fn leaf_text(
    stack: &[String],
    in_metadata: bool,
    text: &str,
    property_name: &Option<String>,
    open: &mut [XmlComponent],
    asset: &mut Asset,
    file: &str,
) -> Result<(), InventoryError> {
    let n = stack.len();
    let Some(leaf) = stack.last().map(String::as_str) else {
        return Ok(());
    };
    let parent = n.checked_sub(2).map(|i| stack[i].as_str());
    if leaf == "property" && in_metadata && open.is_empty() {
        if let Some(pname) = property_name {
            apply_property(asset, file, "metadata", pname, text)?;
        }
        return Ok(());
    }
    let Some(cur) = open.last_mut() else {
        return Ok(());
    };
    let text = text.to_owned();
    match (parent, leaf) {
        (Some("component"), "name") => cur.name = Some(text),
        (Some("component"), "version") => cur.version = Some(text),
        (Some("component"), "publisher") => cur.publisher = Some(text),
        (Some("component"), "author") => cur.author = Some(text),
        (Some("component"), "cpe") => cur.cpe = Some(text),
        (Some("component"), "purl") => cur.purl = Some(text),
        (Some("supplier"), "name") if n >= 3 && stack[n - 3] == "component" => {
            cur.supplier = Some(text)
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::parse_inventory;
    use ward_model::{Criticality, Exposure};

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1">
  <metadata>
    <component type="application"><name>EPMM appliance</name><version>1</version></component>
    <properties>
      <property name="ward:exposure">open</property>
      <property name="ward:criticality">very-high</property>
    </properties>
  </metadata>
  <components>
    <component type="application" bom-ref="epmm">
      <supplier><name>Ivanti</name></supplier>
      <name>Endpoint Manager Mobile</name>
      <version>12.5.0.0</version>
      <cpe>cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*</cpe>
      <components>
        <component type="library"><name>log4j-core</name><version>2.14.1</version>
          <purl>pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1</purl></component>
      </components>
    </component>
  </components>
</bom>"#;

    #[test]
    fn xml_components_and_properties() {
        let p = parse_inventory("epmm.xml", XML.as_bytes()).unwrap();
        let asset = &p.inventory.assets[0];
        assert_eq!(asset.name, "EPMM appliance 1");
        assert_eq!(asset.exposure, Some(Exposure::Open));
        assert_eq!(asset.criticality, Some(Criticality::VeryHigh));
        let names: Vec<_> = asset.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["log4j-core", "Endpoint Manager Mobile"]);
        let epmm = &asset.components[1];
        assert_eq!(epmm.vendor.as_deref(), Some("Ivanti"));
        assert_eq!(
            epmm.cpe.as_ref().unwrap().version.literal(),
            Some("12.5.0.0")
        );
        assert_eq!(
            asset.components[0].purl.as_deref(),
            Some("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")
        );
    }

    #[test]
    fn json_components_bad_cpe_is_a_warning_and_bad_property_an_error() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":{"properties":[{"name":"ward:exposure","value":"small"}]},
            "components":[{"name":"openssh","version":"9.8p1","publisher":"OpenBSD","cpe":"cpe:2.3:a:openbsd"}]}"#;
        let p = parse_inventory("lab.cdx.json", doc).unwrap();
        assert_eq!(p.inventory.assets[0].name, "lab");
        assert_eq!(p.inventory.assets[0].exposure, Some(Exposure::Small));
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].field, "components[0].cpe");
        assert!(p.inventory.assets[0].components[0].cpe.is_none());

        let bad = br#"{"bomFormat":"CycloneDX","metadata":{"properties":[{"name":"ward:exposure","value":"internet"}]}}"#;
        let e = parse_inventory("bad.json", bad).unwrap_err();
        assert_eq!(e.field, "ward:exposure");
        assert!(e.message.contains("small, controlled, open"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused_at_the_limit() {
        let depth = super::MAX_XML_DEPTH;
        let deep = |n: usize| format!("<bom>{}{}</bom>", "<x>".repeat(n - 1), "</x>".repeat(n - 1));
        assert!(parse_inventory("ok.xml", deep(depth).as_bytes()).is_ok());
        let e = parse_inventory("deep.xml", deep(depth + 1).as_bytes()).unwrap_err();
        assert!(
            e.to_string().contains("elements nest deeper than 128"),
            "{e}"
        );
    }

    /// Properties deep inside metadata still describe the asset (the count of open
    /// `<metadata>` elements replaces the search of the stack).
    #[test]
    fn metadata_properties_inside_nesting() {
        let xml = format!(
            "<bom><metadata>{}<properties><property name=\"ward:exposure\">open</property></properties>{}</metadata><components/></bom>",
            "<x>".repeat(50),
            "</x>".repeat(50)
        );
        let inv = parse_inventory("m.xml", xml.as_bytes()).unwrap();
        assert_eq!(inv.inventory.assets[0].exposure, Some(Exposure::Open));
    }

    #[test]
    fn truncated_xml_is_an_error() {
        let e = parse_inventory("t.xml", &XML.as_bytes()[..300]).unwrap_err();
        assert!(e.to_string().starts_with("t.xml: -:"), "{e}");
    }
}
