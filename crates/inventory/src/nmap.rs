//! nmap XML (`nmap -sV -oX`): the central team's own scans of members' ranges. Each host that
//! is up is an asset (its first hostname, else its address); each open port whose service
//! nmap identified is a component: the service's CPEs (`cpe:/a:openbsd:openssh:6.6.1p1`) with
//! nmap's product name and version, located at `address:port/protocol`. Operating systems are
//! taken only from an `osmatch` nmap reports with 100 % accuracy, and only CPEs that name a
//! version: Ward does not turn a guess into a finding.

use quick_xml::events::{BytesStart, Event};
use ward_model::{Asset, Component, Inventory};

use crate::cyclonedx::MAX_XML_DEPTH;
use crate::{InventoryError, ParsedInventory, cpe_field, doc_error};

#[derive(Default)]
struct Host {
    address: Option<String>,
    hostname: Option<String>,
    up: bool,
    components: Vec<Component>,
}

#[derive(Default)]
struct Port {
    id: String,
    protocol: String,
    open: bool,
    product: Option<String>,
    service: Option<String>,
    version: Option<String>,
    cpes: Vec<String>,
}

/// An attribute's value, trimmed; `None` when absent or empty.
fn attribute(e: &BytesStart<'_>, name: &str) -> Option<String> {
    crate::cyclonedx::attribute(e, name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

pub(crate) fn parse(file: &str, bytes: &[u8]) -> Result<ParsedInventory, InventoryError> {
    let mut out = ParsedInventory {
        format: "nmap (XML)",
        ..ParsedInventory::default()
    };
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let err_at = |reader: &quick_xml::Reader<&[u8]>, e: &dyn std::fmt::Display| {
        doc_error(
            file,
            format!("XML error at byte {}: {e}", reader.buffer_position()),
        )
    };
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut saw_root = false;
    let mut hosts: Vec<Host> = Vec::new();
    let mut host: Option<Host> = None;
    let mut port: Option<Port> = None;
    // The OS match being read, when nmap is sure of it.
    let mut os_sure = false;
    let mut os_name: Option<String> = None;
    let mut in_cpe = false;
    let mut text = String::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| err_at(&reader, &e))?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let local = e.local_name().as_ref().to_owned();
            if !saw_root {
                if local != "nmaprun" {
                    return Err(doc_error(
                        file,
                        format!(
                            "not an nmap document: the root element is <{local}>, not <nmaprun>"
                        ),
                    ));
                }
                saw_root = true;
            }
            if !empty {
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return Err(err_at(
                        &reader,
                        &format!("elements nest deeper than {MAX_XML_DEPTH}"),
                    ));
                }
            }
            match local.as_str() {
                "host" if !empty => host = Some(Host::default()),
                "status" => {
                    if let Some(h) = host.as_mut() {
                        h.up = attribute(&e, "state").as_deref() == Some("up");
                    }
                }
                "address" => {
                    if let Some(h) = host.as_mut()
                        && h.address.is_none()
                        && attribute(&e, "addrtype").as_deref() != Some("mac")
                    {
                        h.address = attribute(&e, "addr");
                    }
                }
                "hostname" => {
                    if let Some(h) = host.as_mut()
                        && h.hostname.is_none()
                    {
                        h.hostname = attribute(&e, "name");
                    }
                }
                "port" if !empty => {
                    port = Some(Port {
                        id: attribute(&e, "portid").unwrap_or_default(),
                        protocol: attribute(&e, "protocol").unwrap_or_else(|| "tcp".into()),
                        ..Port::default()
                    })
                }
                "state" => {
                    if let Some(p) = port.as_mut() {
                        p.open = attribute(&e, "state").as_deref() == Some("open");
                    }
                }
                "service" => {
                    if let Some(p) = port.as_mut() {
                        p.product = attribute(&e, "product");
                        p.service = attribute(&e, "name");
                        p.version = attribute(&e, "version");
                    }
                }
                "osmatch" => {
                    os_sure = attribute(&e, "accuracy").as_deref() == Some("100");
                    os_name = attribute(&e, "name");
                }
                "cpe" if !empty => {
                    in_cpe = true;
                    text.clear();
                }
                _ => {}
            }
            if !empty {
                buf.clear();
                continue;
            }
        }
        match event {
            Event::Text(t) if in_cpe => text.push_str(&t.xml10_content()),
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                let local = e.local_name().as_ref().to_owned();
                match local.as_str() {
                    "cpe" => {
                        in_cpe = false;
                        let cpe = std::mem::take(&mut text).trim().to_owned();
                        if let Some(p) = port.as_mut() {
                            p.cpes.push(cpe);
                        } else if os_sure && let Some(h) = host.as_mut() {
                            let record = format!("host {}", h.address.as_deref().unwrap_or("?"));
                            if let Some(c) = cpe_field(
                                Some(&cpe),
                                file,
                                &record,
                                "os/osmatch/osclass/cpe",
                                &mut out.warnings,
                            ) && c.version.literal().is_some()
                                && !h.components.iter().any(|x| x.cpe.as_ref() == Some(&c))
                            {
                                h.components.push(Component {
                                    name: os_name.clone().unwrap_or_else(|| {
                                        c.product.literal().unwrap_or("os").to_owned()
                                    }),
                                    version: c.version.literal().map(str::to_owned),
                                    cpe: Some(c),
                                    location: h.address.clone(),
                                    ..Component::default()
                                });
                            }
                        }
                    }
                    "osmatch" => os_sure = false,
                    "port" => {
                        if let (Some(p), Some(h)) = (port.take(), host.as_mut())
                            && p.open
                        {
                            service_components(file, h, p, &mut out.warnings);
                        }
                    }
                    "host" => {
                        if let Some(h) = host.take()
                            && h.up
                        {
                            hosts.push(h);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => {
                if depth > 0 {
                    return Err(err_at(
                        &reader,
                        &"the document ends inside an element (truncated?)",
                    ));
                }
                break;
            }
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(doc_error(
            file,
            "not an nmap document: no <nmaprun> element",
        ));
    }
    out.inventory = Inventory {
        assets: hosts
            .into_iter()
            .map(|h| Asset {
                name: h
                    .hostname
                    .or(h.address)
                    .unwrap_or_else(|| "unnamed host".into()),
                components: h.components,
                ..Asset::default()
            })
            .collect(),
    };
    Ok(out)
}

/// An open port's identified software: one component per application CPE nmap gave (and one
/// named by the product alone when it gave none).
fn service_components(file: &str, host: &mut Host, port: Port, warnings: &mut Vec<InventoryError>) {
    let location = format!(
        "{}:{}/{}",
        host.address.as_deref().unwrap_or("?"),
        port.id,
        port.protocol
    );
    let record = format!("port {location}");
    let name = port.product.clone().or(port.service.clone());
    let mut added = false;
    for raw in &port.cpes {
        let Some(cpe) = cpe_field(Some(raw), file, &record, "service/cpe", warnings) else {
            continue;
        };
        // `cpe:/o:linux:linux_kernel` beside a service says what the OS family is, not which
        // kernel runs: only CPEs naming a version are components.
        if cpe.part != ward_model::Part::Application && cpe.version.literal().is_none() {
            continue;
        }
        host.components.push(Component {
            name: name
                .clone()
                .unwrap_or_else(|| cpe.product.literal().unwrap_or("service").to_owned()),
            version: cpe
                .version
                .literal()
                .map(str::to_owned)
                .or_else(|| port.version.clone()),
            cpe: Some(cpe),
            location: Some(location.clone()),
            ..Component::default()
        });
        added = true;
    }
    if !added && let Some(product) = port.product {
        host.components.push(Component {
            name: product,
            version: port.version,
            location: Some(location),
            ..Component::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_other_roots_and_truncation() {
        assert!(
            parse("x.xml", b"<bom/>")
                .unwrap_err()
                .to_string()
                .contains("<nmaprun>")
        );
        let e = parse("x.xml", b"<nmaprun><host><status state=\"up\"/>").unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}
